package agent

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/sources"
)

// TestDecideBackoff: a failed desired state is retried on its schedule,
// not every tick; a new desired state is tried at once; and while a
// failure backs off, a vanished serving version is still healed (with
// its recorded release, not the failing one).
func TestDecideBackoff(t *testing.T) {
	now := time.Now()
	good, bad, newer := workload("a/w", "img:1", nil), workload("a/w", "img:2", nil), workload("a/w", "img:3", nil)
	failing := applied(good, "c1")
	failing.LastDeploy, failing.FailedHash, failing.Failures, failing.RetryAt, failing.ReleaseID = store.DeployRolledBack, bad.Hash, 2, now.Add(2*time.Minute), 7
	due := failing
	due.RetryAt = now.Add(-time.Second)
	running := []docker.Container{container("c1", "a/w", "running", 1000)}
	rels := map[int64]release{7: {rec: store.Release{ID: 7, Hash: good.Hash, Commit: "good"}, w: good}}
	tests := []struct {
		name     string
		desired  *sources.Workload
		row      store.Runtime
		cs       []docker.Container
		releases map[int64]release
		retryNow bool
		want     []Why
		release  bool
	}{
		{name: "backing off", desired: bad, row: failing, cs: running},
		{name: "new registry logins end the backoff", desired: bad, row: failing, cs: running, retryNow: true, want: []Why{{Kind: WhyRetry}}},
		{name: "retry due", desired: bad, row: due, cs: running, want: []Why{{Kind: WhyRetry}}},
		{name: "a new desired state goes at once", desired: newer, row: failing, cs: running, want: []Why{{Kind: WhyChanged, Fields: []string{"source.image"}}}},
		{name: "serving version vanished: heal it", desired: bad, row: failing, releases: rels, want: []Why{{Kind: WhyVanished}}, release: true},
		{name: "serving version vanished, release unknown", desired: bad, row: failing},
		{name: "git went back", desired: good, row: failing, cs: running},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds := decideDeploys([]*sources.Workload{tc.desired}, newSnapshot([]store.Runtime{tc.row}, tc.cs), decideOptions{now: now, selfHeal: true, releases: tc.releases, retryNow: tc.retryNow})
			var got []Why
			for _, d := range ds {
				got = append(got, d.why)
				assert.Equal(t, tc.release, d.release != nil)
				if d.release != nil {
					assert.Equal(t, good.Hash, d.w.Hash, "the heal deploys what served")
				}
			}
			assert.Equal(t, tc.want, got)
		})
	}
	ob := observe(failing, running, good)
	assert.True(t, ob.recovered, "git went back to what serves: the failure is over")
	assert.Empty(t, ob.next.FailedHash)
	assert.Equal(t, store.DeploySucceeded, ob.next.LastDeploy)
}

// TestDecidePinnedAndSuspended: a pinned workload follows its release,
// not git; a suspended one is watched but never deployed, healed, cleaned
// up or pruned.
func TestDecidePinnedAndSuspended(t *testing.T) {
	now := time.Now()
	old, git := workload("a/w", "img:1", nil), workload("a/w", "img:2", nil)
	rels := map[int64]release{3: {rec: store.Release{ID: 3, Hash: old.Hash, Commit: "c0ffee0"}, w: old}}
	pinned := applied(git, "c1")
	pinned.PinnedRelease = 3
	atPin := applied(old, "c1")
	atPin.PinnedRelease, atPin.ReleaseID = 3, 3
	suspended := applied(old, "c1")
	suspended.Suspended = true
	d := &gitops.Desired{Workloads: []*sources.Workload{git}}
	o := decideOptions{now: now, selfHeal: true, cleanup: true, releases: rels}

	p := decide(d, newSnapshot([]store.Runtime{pinned}, []docker.Container{container("c1", "a/w", "running", 1)}), o)
	require.Len(t, p.deploys, 1, "a rollback pins the older release")
	assert.Equal(t, Why{Kind: WhyPinned, Commit: "c0ffee0"}, p.deploys[0].why)
	assert.Equal(t, int64(3), p.deploys[0].release.ID)
	assert.Equal(t, old.Hash, p.deploys[0].w.Hash)

	p = decide(d, newSnapshot([]store.Runtime{atPin}, []docker.Container{container("c1", "a/w", "running", 1)}), o)
	assert.Empty(t, p.deploys, "git moved, the pin holds")

	p = decide(d, newSnapshot([]store.Runtime{atPin}, nil), o)
	require.Len(t, p.deploys, 1, "a pinned workload is healed with its release")
	assert.Equal(t, int64(3), p.deploys[0].release.ID)

	leftover := container("c9", "a/w", "exited", 0)
	p = decide(d, newSnapshot([]store.Runtime{suspended}, []docker.Container{leftover}), o)
	assert.Empty(t, p.deploys, "suspended: no deploy, no self-heal")
	for _, ob := range p.observe {
		assert.Empty(t, ob.leftovers, "suspended: nothing removed")
		assert.Nil(t, ob.route)
	}
	p = decide(&gitops.Desired{Workloads: []*sources.Workload{workload("a/other", "img:1", nil)}}, newSnapshot([]store.Runtime{suspended}, nil), o)
	assert.Empty(t, p.prune, "suspended: not pruned")
}

// TestDecideHoldsWhenSecretsCannotBeDecrypted: a workload whose shared
// secret stopped decrypting (an identity gone after a restart) is not
// redeployed without it; one never deployed goes ahead without it.
func TestDecideHoldsWhenSecretsCannotBeDecrypted(t *testing.T) {
	now := time.Now()
	old, changed := workload("a/w", "img:1", nil), workload("a/w", "img:1", map[string]string{"X": "1"})
	held := map[string]string{"a/w": "shared secret TOKEN (global) cannot be used"}
	running := []docker.Container{container("c1", "a/w", "running", 1)}
	ds := decideDeploys([]*sources.Workload{changed}, newSnapshot([]store.Runtime{applied(old, "c1")}, running), decideOptions{now: now, held: held})
	assert.Empty(t, ds, "held: what runs keeps running")
	ds = decideDeploys([]*sources.Workload{changed}, newSnapshot(nil, nil), decideOptions{now: now, held: held})
	assert.Len(t, ds, 1, "never deployed: deployed without the secret (best effort)")
}
