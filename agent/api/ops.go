package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/berthops/berth/agent"
)

func pathID(r *http.Request) string { return r.PathValue("app") + "/" + r.PathValue("name") }

func (s *Server) listReleases(w http.ResponseWriter, r *http.Request) {
	rels, err := s.agent.Releases(r.Context(), pathID(r))
	if err != nil {
		s.opError(w, err)
		return
	}
	writeJSON(w, rels)
}

// rollbackRequest is the body of POST …/rollback; empty picks the release
// before the serving one.
type rollbackRequest struct {
	To       string `json:"to"`
	WithData bool   `json:"with_data"`
}

// RollbackResult is what POST …/rollback answers.
type RollbackResult struct {
	Workload string             `json:"workload"`
	Commit   string             `json:"commit"`
	Result   string             `json:"result"`
	Reason   string             `json:"reason,omitempty"`
	Now      agent.WorkloadView `json:"now"`
}

func (s *Server) rollback(w http.ResponseWriter, r *http.Request) {
	var req rollbackRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err != nil {
		http.Error(w, "reading the body failed", http.StatusBadRequest)
		return
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, `the body must be {"to": "<commit>"} or empty`, http.StatusBadRequest)
			return
		}
	}
	id := pathID(r)
	o, err := s.agent.RollbackWith(r.Context(), id, req.To, req.WithData)
	if err != nil && o.Workload == nil {
		s.opError(w, err)
		return
	}
	res := RollbackResult{Workload: id, Commit: o.Commit, Result: o.Result.String(), Reason: o.Reason}
	if row, ok, rerr := s.store.GetRuntime(r.Context(), id); rerr == nil && ok {
		res.Now = agent.WorkloadView{Runtime: row, Health: agent.HealthOf(row)}
	}
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusConflict)
	}
	_ = json.NewEncoder(w).Encode(res)
}

func (s *Server) operate(op func(Agent, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := op(s.agent, r); err != nil {
			s.opError(w, err)
			return
		}
		row, _, err := s.store.GetRuntime(r.Context(), pathID(r))
		if err != nil {
			s.opError(w, err)
			return
		}
		writeJSON(w, agent.WorkloadView{Runtime: row, Health: agent.HealthOf(row)})
	}
}

func suspendOp(a Agent, r *http.Request) error { return a.Suspend(r.Context(), pathID(r)) }
func resumeOp(a Agent, r *http.Request) error  { return a.Resume(r.Context(), pathID(r)) }
func retryOp(a Agent, r *http.Request) error   { return a.Retry(r.Context(), pathID(r)) }
func runOp(a Agent, r *http.Request) error     { return a.RunJob(r.Context(), pathID(r)) }

// maintenanceOp turns the operator's maintenance override on or off:
// POST .../maintenance?on=true|false.
func maintenanceOp(a Agent, r *http.Request) error {
	on, err := strconv.ParseBool(r.URL.Query().Get("on"))
	if err != nil {
		return fmt.Errorf("%w: on must be true or false", errBadRequest)
	}
	return a.SetMaintenance(r.Context(), pathID(r), on)
}

var errBadRequest = errors.New("bad request")

// runs lists task runs, newest first: ?workload=APP/NAME, ?limit=N.
func (s *Server) runs(w http.ResponseWriter, r *http.Request) {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			http.Error(w, "limit must be a positive integer", http.StatusBadRequest)
			return
		}
		limit = n
	}
	rs, err := s.store.Runs(r.Context(), r.URL.Query().Get("workload"), limit)
	if err != nil {
		s.opError(w, err)
		return
	}
	writeJSON(w, rs)
}

func (s *Server) opError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, agent.ErrUnknownWorkload), errors.Is(err, agent.ErrNoRelease), errors.Is(err, agent.ErrNotAJob):
		http.Error(w, err.Error(), http.StatusNotFound)
	case errors.Is(err, agent.ErrJobRunning):
		http.Error(w, err.Error(), http.StatusConflict)
	case errors.Is(err, errBadRequest), errors.Is(err, agent.ErrNoRoute):
		http.Error(w, err.Error(), http.StatusBadRequest)
	default:
		s.log.Error("API: operation failed", "error", err)
		http.Error(w, "the operation failed; see the agent's log", http.StatusInternalServerError)
	}
}
