package agent

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/berthops/berth/agent/store"
)

func TestHealthTellsTheTruth(t *testing.T) {
	ok := store.Runtime{WorkloadID: "a/w", ContainerID: "c1", Status: store.StatusRunning, LastDeploy: store.DeploySucceeded, Commit: "aaaaaaa111", AppliedHash: "h1"}
	with := func(f func(*store.Runtime)) store.Runtime {
		r := ok
		f(&r)
		return r
	}
	tests := []struct {
		name string
		row  store.Runtime
		want Health
	}{
		{"running", ok, Health{StateRunning, "running aaaaaaa"}},
		{"rolled back", with(func(r *store.Runtime) {
			r.LastDeploy, r.FailedHash, r.FailedCommit = store.DeployRolledBack, "h2", "bbbbbbb222"
		}), Health{StateDegraded, "degraded: bbbbbbb failed, aaaaaaa serving"}},
		{"blue still serving", with(func(r *store.Runtime) {
			r.LastDeploy, r.FailedHash, r.FailedCommit = store.DeployFailed, "h2", "bbbbbbb222"
		}), Health{StateDegraded, "degraded: bbbbbbb failed, aaaaaaa serving"}},
		{"container gone", with(func(r *store.Runtime) { r.Status = store.StatusMissing }), Health{StateDown, "down"}},
		{"container stopped", with(func(r *store.Runtime) { r.Status = store.StatusExited }), Health{StateDown, "down"}},
		{"first deploy failed", store.Runtime{WorkloadID: "a/w", Status: store.StatusFailed, LastDeploy: store.DeployFailed, FailedHash: "h1", FailedCommit: "ccccccc333"},
			Health{StateDown, "down: ccccccc failed"}},
		{"pinned", with(func(r *store.Runtime) { r.PinnedRelease = 3 }), Health{StatePinned, "pinned to aaaaaaa"}},
		{"pinned but gone", with(func(r *store.Runtime) { r.PinnedRelease, r.Status = 3, store.StatusMissing }), Health{StateDown, "down"}},
		{"suspended", with(func(r *store.Runtime) { r.Suspended = true }), Health{StateSuspended, "suspended (serving aaaaaaa)"}},
		{"invalid file", with(func(r *store.Runtime) { r.LastDeploy, r.Message = store.DeployInvalid, "web.yaml:2:3: port: bad" }),
			Health{StateInvalid, "invalid: web.yaml:2:3: port: bad"}},
		{"stack half up", with(func(r *store.Runtime) { r.Kind, r.Status = "compose", store.StatusDegraded }),
			Health{StateDegraded, "degraded: some containers of aaaaaaa are not running"}},
		{"never seen", store.Runtime{WorkloadID: "a/w"}, Health{StateUnknown, "unknown"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, health(tc.row))
		})
	}
}

func TestBackoffDoublesUpToTheMax(t *testing.T) {
	var got []time.Duration
	for n := range 8 {
		got = append(got, backoff(n, time.Minute, 30*time.Minute))
	}
	assert.Equal(t, []time.Duration{time.Minute, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute, 30 * time.Minute, 30 * time.Minute}, got)
}
