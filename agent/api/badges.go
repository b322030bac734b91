package api

import (
	"net/http"
	"strings"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/badge"
)

// badge serves GET /badges/{app}/{name}.svg: the same SVG the status
// branch holds.
func (s *Server) badge(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutSuffix(r.PathValue("file"), ".svg")
	if !ok {
		http.NotFound(w, r)
		return
	}
	id := r.PathValue("app") + "/" + name
	rows, err := s.store.ListRuntime(r.Context())
	if err != nil {
		http.Error(w, "listing workloads failed", http.StatusInternalServerError)
		return
	}
	st := agent.StateUnknown
	for _, row := range rows {
		if row.WorkloadID == id {
			st = agent.HealthOf(row).State
		}
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(badge.SVG(id, st))
}
