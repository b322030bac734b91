package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/berthops/berth/agent"
)

// logWriteDeadline bounds each line's write: a client that stops reading
// is cut off instead of holding a Docker stream (and memory) open.
const logWriteDeadline = 30 * time.Second

// logs streams a workload's output: ?follow=1, tail=N, since=10m,
// service=S (compose), run=ID (a job run), previous=1 (removed
// containers' kept lines). Plain text lines, or SSE with Accept:
// text/event-stream. Shared-secret values are redacted.
func (s *Server) logs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := agent.LogRequest{Follow: q.Get("follow") == "1" || q.Get("follow") == "true", Service: q.Get("service"),
		Previous: q.Get("previous") == "1" || q.Get("previous") == "true"}
	var err error
	if v := q.Get("tail"); v != "" {
		if req.Tail, err = strconv.Atoi(v); err != nil || req.Tail < 0 {
			http.Error(w, "tail must be a number of lines", http.StatusBadRequest)
			return
		}
	}
	if v := q.Get("since"); v != "" {
		if req.Since, err = time.ParseDuration(v); err != nil || req.Since < 0 {
			http.Error(w, "since must be a duration such as 10m", http.StatusBadRequest)
			return
		}
	}
	if v := q.Get("run"); v != "" {
		if req.Run, err = strconv.ParseInt(v, 10, 64); err != nil {
			http.Error(w, "run must be a run id (berth jobs)", http.StatusBadRequest)
			return
		}
	}
	if req.Follow {
		if s.streams.Add(1) > maxStreams {
			s.streams.Add(-1)
			http.Error(w, "too many streams", http.StatusServiceUnavailable)
			return
		}
		defer s.streams.Add(-1)
	}
	sse := strings.Contains(r.Header.Get("Accept"), "text/event-stream")
	rc := http.NewResponseController(w)
	started := false
	emit := func(line string) error {
		if !started {
			started = true
			if sse {
				w.Header().Set("Content-Type", "text/event-stream")
			} else {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			}
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Set("X-Accel-Buffering", "no")
			w.WriteHeader(http.StatusOK)
		}
		_ = rc.SetWriteDeadline(time.Now().Add(logWriteDeadline))
		var err error
		if sse {
			_, err = fmt.Fprintf(w, "data: %s\n\n", line)
		} else {
			_, err = fmt.Fprintln(w, line)
		}
		if err == nil && req.Follow {
			err = rc.Flush()
		}
		return err
	}
	err = s.agent.Logs(r.Context(), pathID(r), req, emit)
	switch {
	case err == nil || started:
		if err != nil && r.Context().Err() == nil {
			s.log.Info("API: a log stream ended", "workload", pathID(r), "error", s.opts.Redact(err.Error()))
		}
		if !started {
			w.WriteHeader(http.StatusNoContent)
		}
	case errors.Is(err, agent.ErrNoLogs), errors.Is(err, agent.ErrUnknownWorkload):
		http.Error(w, s.opts.Redact(err.Error()), http.StatusNotFound)
	default:
		s.log.Error("API: reading logs failed", "workload", pathID(r), "error", s.opts.Redact(err.Error()))
		http.Error(w, "reading the logs failed; see the agent's log", http.StatusInternalServerError)
	}
}
