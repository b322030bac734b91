package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/backup"
)

// backup takes snapshots of a workload's volumes now (?volume=NAME for
// one) and answers with them.
func (s *Server) backup(w http.ResponseWriter, r *http.Request) {
	bs, err := s.agent.Backup(r.Context(), pathID(r), r.URL.Query().Get("volume"))
	if err != nil {
		s.backupError(w, err)
		return
	}
	writeJSON(w, bs)
}

// backups lists snapshots, newest first (?workload=APP/NAME).
func (s *Server) backups(w http.ResponseWriter, r *http.Request) {
	bs, err := s.store.Backups(r.Context(), r.URL.Query().Get("workload"))
	if err != nil {
		s.opError(w, err)
		return
	}
	writeJSON(w, bs)
}

// restore puts a snapshot back: {"volume": "data", "snapshot": 12}
// (snapshot 0 or missing: the newest).
func (s *Server) restore(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Volume   string `json:"volume"`
		Snapshot int64  `json:"snapshot"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil || body.Volume == "" {
		http.Error(w, `the body is {"volume": "NAME", "snapshot": ID}`, http.StatusBadRequest)
		return
	}
	o, err := s.agent.Restore(r.Context(), pathID(r), body.Volume, body.Snapshot)
	if err != nil {
		s.backupError(w, err)
		return
	}
	writeJSON(w, map[string]string{"workload": pathID(r), "result": o.Result.String(), "commit": o.Commit})
}

func (s *Server) backupError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, agent.ErrNoBackups):
		http.Error(w, err.Error(), http.StatusConflict)
	case errors.Is(err, agent.ErrNoSnapshot), errors.Is(err, agent.ErrNoVolume):
		http.Error(w, err.Error(), http.StatusNotFound)
	case errors.Is(err, backup.ErrCorrupt):
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
	case errors.Is(err, agent.ErrUnknownWorkload):
		s.opError(w, err)
	default:
		// What went wrong says what to do (a missing identity, a full
		// disk, a failed redeploy); it holds no secret value.
		s.log.Error("API: backup or restore failed", "error", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}
