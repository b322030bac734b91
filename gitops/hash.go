package gitops

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/berthops/berth/sources"
)

// hashVersion changes when the hashed shape changes, so an upgrade that
// alters hashing redeploys once rather than never.
const hashVersion = "berth.v1"

// Hash is a workload's desired hash: it covers the canonical config (JSON
// with sorted keys) and nothing that changes with unrelated commits.
func Hash(w *sources.Workload) string {
	doc := struct {
		V           string               `json:"v"`
		Kind        sources.Kind         `json:"kind"`
		Source      sources.Config       `json:"source"`
		Env         map[string]string    `json:"env,omitempty"`
		Port        int                  `json:"port,omitempty"`
		HostPort    int                  `json:"host_port,omitempty"`
		Route       *sources.Route       `json:"route,omitempty"`
		Healthcheck *sources.Healthcheck `json:"healthcheck,omitempty"`
		StopGrace   sources.Duration     `json:"stop_grace_period,omitempty"`
		Content     map[string]string    `json:"content,omitempty"`
	}{hashVersion, w.Source.Kind(), w.Source, w.Env, w.Port, w.HostPort, w.Route, w.Healthcheck, w.StopGracePeriod, w.ContentHashes}
	b, err := json.Marshal(doc)
	if err != nil {
		panic("hashing workload: " + err.Error()) // only plain data types: cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
