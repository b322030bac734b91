package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxMessageRunes caps an event's message (and a status message).
const MaxMessageRunes = 256

// Severities.
const (
	SeverityInfo  = "info"
	SeverityWarn  = "warn"
	SeverityError = "error"
)

// Event is one row of event_log.
type Event struct {
	ID         int64             `json:"id"`
	Time       time.Time         `json:"time"`
	WorkloadID string            `json:"workload_id,omitempty"`
	Kind       string            `json:"kind"`
	Severity   string            `json:"severity"`
	Message    string            `json:"message"`
	Metadata   map[string]string `json:"metadata,omitempty"`
	Commit     string            `json:"commit,omitempty"`
	// Count is how many times this same event happened in a row (a retry
	// failing the same way, a remote down for many ticks).
	Count int `json:"count,omitempty"`
}

// Truncate cuts s to at most n runes, on a rune boundary, marking the cut
// with "…".
func Truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	runes := 0
	for i := range s {
		if runes == n-1 {
			return s[:i] + "…"
		}
		runes++
	}
	return s
}

// AddEvent appends an event and returns it with its id and time set. The
// message is capped at MaxMessageRunes.
func (s *Store) AddEvent(ctx context.Context, e Event) (Event, error) {
	s.count()
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	if e.Severity == "" {
		e.Severity = SeverityInfo
	}
	e.Message = Truncate(e.Message, MaxMessageRunes)
	meta := []byte("{}")
	if len(e.Metadata) > 0 {
		var err error
		if meta, err = json.Marshal(e.Metadata); err != nil {
			return e, fmt.Errorf("encoding event metadata: %w", err)
		}
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO event_log (time, workload_id, kind, severity, message, metadata, commit_sha)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, e.Time.UnixMilli(), e.WorkloadID, e.Kind, e.Severity, e.Message, string(meta), e.Commit)
	if err != nil {
		return e, fmt.Errorf("writing event: %w", err)
	}
	e.ID, err = res.LastInsertId()
	if err != nil {
		return e, fmt.Errorf("writing event: %w", err)
	}
	e.Count = 1
	return e, nil
}

// CountEvent records e, or, when the newest event of the same workload is
// the same (kind, severity, message, commit), counts it there instead of
// adding a row: a failure repeated on every retry stays one event.
func (s *Store) CountEvent(ctx context.Context, e Event) (Event, error) {
	e.Message = Truncate(e.Message, MaxMessageRunes)
	if e.Severity == "" {
		e.Severity = SeverityInfo
	}
	last, err := s.Events(ctx, EventFilter{WorkloadID: e.WorkloadID, Limit: 1, exact: true})
	if err != nil {
		return e, err
	}
	if len(last) == 0 || last[0].Kind != e.Kind || last[0].Severity != e.Severity || last[0].Message != e.Message || last[0].Commit != e.Commit {
		return s.AddEvent(ctx, e)
	}
	prev := last[0]
	prev.Time = time.Now().UTC()
	s.count()
	if _, err := s.db.ExecContext(ctx, "UPDATE event_log SET count = count + 1, time = ? WHERE id = ?", prev.Time.UnixMilli(), prev.ID); err != nil {
		return e, fmt.Errorf("counting event: %w", err)
	}
	prev.Count++
	return prev, nil
}

// EventFilter selects events; zero fields select everything.
type EventFilter struct {
	WorkloadID string
	Severity   string // only this severity
	Before     int64  // only ids below this
	After      int64  // only ids above this
	Limit      int    // default 50, at most 1000
	Ascending  bool   // oldest first; default newest first

	exact bool // WorkloadID "" means agent-wide events only
}

// Events returns the events that match f.
func (s *Store) Events(ctx context.Context, f EventFilter) ([]Event, error) {
	s.count()
	var where []string
	var args []any
	if f.WorkloadID != "" || f.exact {
		where = append(where, "workload_id = ?")
		args = append(args, f.WorkloadID)
	}
	if f.Severity != "" {
		where = append(where, "severity = ?")
		args = append(args, f.Severity)
	}
	if f.Before > 0 {
		where = append(where, "id < ?")
		args = append(args, f.Before)
	}
	if f.After > 0 {
		where = append(where, "id > ?")
		args = append(args, f.After)
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 1000)
	q := "SELECT id, time, workload_id, kind, severity, message, metadata, commit_sha, count FROM event_log"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if f.Ascending {
		q += " ORDER BY id ASC"
	} else {
		q += " ORDER BY id DESC"
	}
	q += fmt.Sprintf(" LIMIT %d", f.Limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing events: %w", err)
	}
	defer rows.Close()
	out := []Event{}
	for rows.Next() {
		var e Event
		var t int64
		var meta string
		if err := rows.Scan(&e.ID, &t, &e.WorkloadID, &e.Kind, &e.Severity, &e.Message, &meta, &e.Commit, &e.Count); err != nil {
			return nil, fmt.Errorf("reading event: %w", err)
		}
		e.Time = time.UnixMilli(t).UTC()
		if meta != "" && meta != "{}" {
			if err := json.Unmarshal([]byte(meta), &e.Metadata); err != nil {
				return nil, fmt.Errorf("reading event %d metadata: %w", e.ID, err)
			}
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing events: %w", err)
	}
	return out, nil
}

// PruneEvents deletes events older than before, and keeps at most
// perWorkload events of each workload (the newest). It returns how many
// it deleted.
func (s *Store) PruneEvents(ctx context.Context, before time.Time, perWorkload int) (int64, error) {
	s.count()
	res, err := s.db.ExecContext(ctx, "DELETE FROM event_log WHERE time < ?", before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("pruning old events: %w", err)
	}
	n, _ := res.RowsAffected()
	m, err := s.capEvents(ctx, perWorkload)
	return n + m, err
}

// capEvents keeps the newest perWorkload events of each workload. Only
// the workloads over the cap are touched, each by one range delete on
// the (workload_id, id) index.
func (s *Store) capEvents(ctx context.Context, perWorkload int) (int64, error) {
	s.count()
	rows, err := s.db.QueryContext(ctx, "SELECT workload_id FROM event_log GROUP BY workload_id HAVING COUNT(*) > ?", perWorkload)
	if err != nil {
		return 0, fmt.Errorf("capping events per workload: %w", err)
	}
	var over []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			_ = rows.Close()
			return 0, fmt.Errorf("capping events per workload: %w", err)
		}
		over = append(over, id)
	}
	_ = rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("capping events per workload: %w", err)
	}
	var n int64
	for _, id := range over {
		s.count()
		res, err := s.db.ExecContext(ctx, `DELETE FROM event_log WHERE workload_id = ? AND id <= (
			SELECT id FROM event_log WHERE workload_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`, id, id, perWorkload)
		if err != nil {
			return n, fmt.Errorf("capping the events of %s: %w", id, err)
		}
		m, _ := res.RowsAffected()
		n += m
	}
	return n, nil
}
