package bench

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/berthops/berth/agent/store"
)

const (
	storeEvents    = 1_000_000
	storeWorkloads = 200
	errorEvery     = 100 // 1% of events are errors
)

// BenchmarkEventStore measures Berth's event log at 1M events (200
// workloads, 1% errors) in a real SQLite file: inserting an event, a page
// of a workload's Activity, the same page behind the Errors filter (with
// the severity index, and with it dropped, in the same run), and a prune.
func BenchmarkEventStore(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "berth.db")
	st, err := store.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	_ = st.Close()
	start := time.Now()
	if err := fillEvents(ctx, path); err != nil {
		b.Fatal(err)
	}
	b.Logf("filled %d events in %s", storeEvents, time.Since(start).Round(time.Millisecond))
	st, err = store.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		insert := timeIt(500, func(j int) error {
			_, err := st.AddEvent(ctx, store.Event{WorkloadID: workload(j), Kind: "deploy.succeeded", Message: "deployed"})
			return err
		})
		page := timeIt(500, func(j int) error {
			_, err := st.Events(ctx, store.EventFilter{WorkloadID: workload(j), Limit: 50})
			return err
		})
		errorsPage := func() []time.Duration {
			return timeIt(500, func(j int) error {
				_, err := st.Events(ctx, store.EventFilter{WorkloadID: workload(j), Severity: store.SeverityError, Limit: 50})
				return err
			})
		}
		indexed := errorsPage()
		if got, err := st.Events(ctx, store.EventFilter{WorkloadID: workload(7), Severity: store.SeverityError, Limit: 50}); err != nil || len(got) != 50 {
			b.Fatalf("the Errors filter found %d events (%v): the fill is wrong", len(got), err)
		}
		b.Logf("insert: p50 %.3f ms, p99 %.3f ms (synchronous=FULL: one fsync each)", p(insert, 50), p(insert, 99))
		b.Logf("Activity page (50): p50 %.3f ms, p99 %.3f ms", p(page, 50), p(page, 99))
		b.Logf("Errors filter (50): p50 %.3f ms, p99 %.3f ms with the severity index", p(indexed, 50), p(indexed, 99))
		b.ReportMetric(p(indexed, 99), "errors-p99-ms")
		if err := execSQL(ctx, path, "DROP INDEX event_log_workload_severity"); err != nil {
			b.Fatal(err)
		}
		plain := errorsPage()
		b.Logf("Errors filter (50): p50 %.3f ms, p99 %.3f ms without it (before)", p(plain, 50), p(plain, 99))
		if err := execSQL(ctx, path, "CREATE INDEX event_log_workload_severity ON event_log (workload_id, severity, id)"); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		n, err := st.PruneEvents(ctx, time.UnixMilli(0).Add(time.Duration(storeEvents/10)*time.Millisecond), 4000)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("prune (oldest 10%%, then at most 4,000 a workload): %d deleted in %s", n, time.Since(t0).Round(time.Millisecond))
		t0 = time.Now()
		if err := execSQL(ctx, path, `DELETE FROM event_log WHERE id IN (
			SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY workload_id ORDER BY id DESC) AS n FROM event_log) WHERE n > 4000)`); err != nil {
			b.Fatal(err)
		}
		b.Logf("the cap as one window query (before; a no-op here, the cost is its scan): %s", time.Since(t0).Round(time.Millisecond))
	}
}

func workload(i int) string { return fmt.Sprintf("app/w%03d", i%storeWorkloads) }

// fillEvents writes storeEvents events in one transaction (the setup, not
// the measurement): event i is at time i ms.
func fillEvents(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)")
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO event_log (time, workload_id, kind, severity, message) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	for i := range storeEvents {
		sev, kind := store.SeverityInfo, "deploy.succeeded"
		if (i/storeWorkloads)%errorEvery == 0 { // 1% of each workload's events
			sev, kind = store.SeverityError, "deploy.failed"
		}
		if _, err := stmt.ExecContext(ctx, i, workload(i), kind, sev, "deployed abc1234 via blue-green"); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	_ = stmt.Close()
	return tx.Commit()
}

func execSQL(ctx context.Context, path, q string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, q)
	return err
}

// timeIt runs f n times and returns each run's duration.
func timeIt(n int, f func(i int) error) []time.Duration {
	out := make([]time.Duration, 0, n)
	for i := range n {
		t := time.Now()
		if err := f(i * 7); err != nil {
			panic(err)
		}
		out = append(out, time.Since(t))
	}
	return out
}

// p is the q-th percentile of ds, in milliseconds.
func p(ds []time.Duration, q int) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	return ms(s[min(len(s)-1, len(s)*q/100)])
}
