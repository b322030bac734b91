package agent

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/berthops/berth/agent/store"
)

// WorkloadView is a workload as the API shows it: its row and what that
// means (running, degraded, down, pinned, suspended).
type WorkloadView struct {
	store.Runtime
	Health
}

// WorkloadViews describes rows as the API and `berth status` show them.
func WorkloadViews(rows []store.Runtime) []WorkloadView { return workloadViews(rows) }

func workloadViews(rows []store.Runtime) []WorkloadView {
	out := make([]WorkloadView, 0, len(rows))
	for _, r := range rows {
		out = append(out, WorkloadView{Runtime: r, Health: health(r)})
	}
	return out
}

func pathID(r *http.Request) string { return r.PathValue("app") + "/" + r.PathValue("name") }

func (a *Agent) listReleases(w http.ResponseWriter, r *http.Request) {
	rels, err := a.Releases(r.Context(), pathID(r))
	if err != nil {
		a.opError(w, err)
		return
	}
	writeJSON(w, rels)
}

// rollbackRequest is the body of POST …/rollback; empty picks the release
// before the serving one.
type rollbackRequest struct {
	To string `json:"to"`
}

// RollbackResult is what POST …/rollback answers.
type RollbackResult struct {
	Workload string       `json:"workload"`
	Commit   string       `json:"commit"`
	Result   string       `json:"result"`
	Reason   string       `json:"reason,omitempty"`
	Now      WorkloadView `json:"now"`
}

func (a *Agent) rollback(w http.ResponseWriter, r *http.Request) {
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
	o, err := a.Rollback(r.Context(), id, req.To)
	if err != nil && o.Workload == nil {
		a.opError(w, err)
		return
	}
	res := RollbackResult{Workload: id, Commit: o.Commit, Result: o.Result.String(), Reason: o.Reason}
	if row, ok, rerr := a.store.GetRuntime(r.Context(), id); rerr == nil && ok {
		res.Now = WorkloadView{Runtime: row, Health: health(row)}
	}
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusConflict)
	}
	_ = json.NewEncoder(w).Encode(res)
}

func (a *Agent) operate(op func(*Agent, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := op(a, r); err != nil {
			a.opError(w, err)
			return
		}
		row, _, err := a.store.GetRuntime(r.Context(), pathID(r))
		if err != nil {
			a.opError(w, err)
			return
		}
		writeJSON(w, WorkloadView{Runtime: row, Health: health(row)})
	}
}

func suspendOp(a *Agent, r *http.Request) error { return a.Suspend(r.Context(), pathID(r)) }
func resumeOp(a *Agent, r *http.Request) error  { return a.Resume(r.Context(), pathID(r)) }

func (a *Agent) opError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrUnknownWorkload), errors.Is(err, ErrNoRelease):
		http.Error(w, err.Error(), http.StatusNotFound)
	default:
		a.log.Error("API: operation failed", "error", err)
		http.Error(w, "the operation failed; see the agent's log", http.StatusInternalServerError)
	}
}
