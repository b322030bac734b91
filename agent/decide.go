package agent

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/router"
	"github.com/berthops/berth/sources"
)

// The decisions of a tick are pure functions of plain values: the desired
// workloads, the snapshot and the route table. The tick acts on what they
// return; tests run them without Docker, git or SQLite.

// plan is what one tick will do.
type plan struct {
	deploys []deployment
	invalid []invalidMark
	observe []observation
	prune   []pruning
	// refused counts the workloads a prune would have removed when the
	// repo renders none and emptying is not allowed.
	refused int
}

// deployment is one workload to deploy and why.
type deployment struct {
	w *sources.Workload
	// release, when set, is a recorded release to deploy again (a pin, or
	// healing the serving version while a newer one is backing off): its
	// image is reused, nothing is pulled or built.
	release *store.Release
	row     store.Runtime
	hasRow  bool
	old     []docker.Container // the workload's containers before the deploy
	why     Why
}

// release is a recorded release with its workload decoded.
type release struct {
	rec store.Release
	w   *sources.Workload
}

// invalidMark is a workload file that became invalid (or invalid in a new
// way): its row and one event say so.
type invalidMark struct {
	inv *gitops.InvalidWorkload
	row store.Runtime
	msg string
}

// pruning is a workload whose file left the repo.
type pruning struct {
	id         string
	containers []docker.Container
	project    string // its compose project, "" for plain containers
	stack      string // its Swarm stack, "" for others
	service    string // its Swarm service (--engine swarm), "" for others
}

type decideOptions struct {
	now                  time.Time
	selfHeal, allowEmpty bool
	// releases are the recorded releases pinned rows and backing-off rows
	// point at, by id.
	releases map[int64]release
	// held are workloads whose shared secrets cannot be decrypted now: a
	// running one is left as it is, not redeployed without them.
	held map[string]string
	// cleanup removes leftover copies of workloads; off on idle ticks,
	// which only watch.
	cleanup bool
	// routes is the proxy's route table; nil when no proxy is managed.
	routes map[string]router.Route
	// overrides are the workloads an operator put in maintenance
	// (berth maintenance on).
	overrides map[string]bool
	// retryNow ends every backoff: what failed deploys depend on changed
	// (new registry logins).
	retryNow bool
}

// decide works out a tick's actions after a config load.
func decide(d *gitops.Desired, s *snapshot, o decideOptions) plan {
	var p plan
	handled := map[string]bool{}
	p.invalid = decideInvalid(d.Invalid, s)
	for _, inv := range d.Invalid {
		handled[inv.ID] = true
	}
	targets := pinned(d.Workloads, s, o.releases)
	p.deploys = decideDeploys(targets, s, o)
	for _, dp := range p.deploys {
		handled[dp.w.ID()] = true
	}
	p.observe = decideObservations(s, byID(targets), handled, o)
	p.prune, p.refused = decidePrune(d.IDs(), s, o.allowEmpty || len(d.Elsewhere) > 0)
	return p
}

// pinned replaces each pinned workload by its pinned release: the agent
// does not roll it forward until it is resumed.
func pinned(ws []*sources.Workload, s *snapshot, rels map[int64]release) []*sources.Workload {
	out := make([]*sources.Workload, len(ws))
	for i, w := range ws {
		out[i] = w
		if r, ok := rels[s.rows[w.ID()].PinnedRelease]; ok {
			out[i] = r.w
		}
	}
	return out
}

func byID(ws []*sources.Workload) map[string]*sources.Workload {
	m := make(map[string]*sources.Workload, len(ws))
	for _, w := range ws {
		m[w.ID()] = w
	}
	return m
}

// drifted reports whether what runs differs from what was applied: a
// failed deploy whose retry is due, a vanished or stopped container to
// heal, a leftover or unowned container to clean up. An idle tick that is
// not drifted does not load, diff or deploy; a failure backing off keeps
// ticks idle.
func drifted(s *snapshot, selfHeal bool, now time.Time) bool {
	for id, row := range s.rows {
		if row.Suspended {
			continue
		}
		retryDue := row.FailedHash != "" && !now.Before(row.RetryAt) || row.LastDeploy == store.DeployFailed && row.FailedHash == ""
		if retryDue || rowDrifted(row, s.containers[id], selfHeal) || selfHeal && serviceGone(s, row) {
			return true
		}
	}
	for id := range s.containers {
		if _, ok := s.rows[id]; !ok {
			return true
		}
	}
	return false
}

func rowDrifted(row store.Runtime, cs []docker.Container, selfHeal bool) bool {
	if row.Kind == string(sources.KindStack) {
		return false // Swarm heals its own tasks, on whichever node
	}
	if row.Kind == string(sources.KindCompose) {
		for _, c := range cs {
			if c.Hash() != row.AppliedHash {
				return true
			}
		}
		return len(cs) == 0 && selfHeal && row.AppliedHash != ""
	}
	for _, c := range cs {
		if c.ID != row.ContainerID {
			return true
		}
	}
	return row.ContainerID != "" && selfHeal && !serving(current(row, cs))
}

// serving reports whether a container serves (or is being restarted by
// Docker's restart policy, which Berth leaves to Docker).
func serving(c *docker.Container) bool {
	return c != nil && (c.Running() || c.State == "restarting")
}

// decideDeploys picks the workloads to deploy: new ones, changed ones,
// failed ones whose retry is due, and (with self-heal) ones whose
// container vanished or stopped. Suspended workloads are left alone.
func decideDeploys(ws []*sources.Workload, s *snapshot, o decideOptions) []deployment {
	var out []deployment
	for _, w := range ws {
		row, ok := s.rows[w.ID()]
		cs := s.containers[w.ID()]
		why, deploy := whyDeploy(w, row, ok, cs, o.selfHeal)
		if ok && serviceRow(row) && (why.Kind == WhyVanished || why.Kind == WhyStopped) {
			// Swarm heals its tasks; Berth only brings back a service
			// that was removed.
			deploy = o.selfHeal && serviceGone(s, row)
		}
		if !deploy || row.Suspended || o.held[w.ID()] != "" && row.AppliedHash != "" {
			continue // held: never redeployed (nor healed) without its secrets
		}
		d := deployment{w: w, row: row, hasRow: ok, old: cs, why: why}
		if r, pin := o.releases[row.PinnedRelease]; pin && r.w == w {
			d.release = &r.rec
			if why.Kind == WhyChanged {
				d.why = Why{Kind: WhyPinned, Commit: r.rec.Commit}
			}
		}
		if why.Kind == WhyRetry && o.now.Before(row.RetryAt) && !o.retryNow {
			// Backing off: only heal the serving version, if it is down.
			r, known := o.releases[row.ReleaseID]
			if !o.selfHeal || !known || row.AppliedHash == "" || serving(current(row, cs)) {
				continue
			}
			d.w, d.release, d.why = r.w, &r.rec, Why{Kind: WhyVanished}
		}
		out = append(out, d)
	}
	return out
}

func whyDeploy(w *sources.Workload, row store.Runtime, hasRow bool, cs []docker.Container, selfHeal bool) (Why, bool) {
	switch {
	case !hasRow || row.AppliedHash == "" && row.FailedHash == "":
		return Why{Kind: WhyNew}, true
	case w.Hash == row.FailedHash && w.Hash != row.AppliedHash:
		return Why{Kind: WhyRetry}, true
	case row.AppliedHash == "":
		return Why{Kind: WhyNew}, true
	case row.AppliedHash != w.Hash:
		var fields []string
		if row.AppliedSpec != nil {
			fields = gitops.ChangedFields(row.AppliedSpec, gitops.Fields(w, true))
		}
		return Why{Kind: WhyChanged, Fields: fields}, true
	case row.LastDeploy == store.DeployFailed && row.FailedHash == "":
		return Why{Kind: WhyRetry}, true // a failure recorded before backoffs existed
	case !selfHeal:
		return Why{}, false
	case row.Kind == string(sources.KindStack):
		return Why{}, false
	case row.Kind == string(sources.KindCompose):
		return Why{Kind: WhyVanished}, len(cs) == 0
	}
	if row.Status == store.StatusScheduled {
		return Why{}, false // a job: no container serves between its runs
	}
	c := current(row, cs)
	if c != nil && !serving(c) {
		return Why{Kind: WhyStopped}, true
	}
	return Why{Kind: WhyVanished}, c == nil
}

// decideInvalid returns the invalid workloads not yet reported with the
// same message.
func decideInvalid(invalid []*gitops.InvalidWorkload, s *snapshot) []invalidMark {
	var out []invalidMark
	for _, inv := range invalid {
		msg := inv.Err().Error()
		row, ok := s.rows[inv.ID]
		if ok && row.LastDeploy == store.DeployInvalid && row.Message == store.Truncate(msg, store.MaxMessageRunes) {
			continue // already reported for this content
		}
		if !ok {
			row = store.Runtime{WorkloadID: inv.ID, Status: store.StatusInvalid}
		}
		row.LastDeploy, row.Message = store.DeployInvalid, msg
		out = append(out, invalidMark{inv: inv, row: row, msg: msg})
	}
	return out
}

// decidePrune lists the workloads whose files left the repo (or were
// placed on other agents). When the repo declares none at all it refuses
// unless allowEmpty: an emptied checkout is more often a mistake than a
// wish (a repo whose workloads all run elsewhere is not empty).
func decidePrune(declared map[string]bool, s *snapshot, allowEmpty bool) ([]pruning, int) {
	gone := map[string]bool{}
	for id, row := range s.rows {
		if !declared[id] && !row.Suspended {
			gone[id] = true
		}
	}
	for id := range s.containers {
		if row, ok := s.rows[id]; !declared[id] && (!ok || !row.Suspended) {
			gone[id] = true
		}
	}
	if len(gone) == 0 {
		return nil, 0
	}
	if len(declared) == 0 && !allowEmpty {
		return nil, len(gone)
	}
	ids := slices.Sorted(maps.Keys(gone))
	out := make([]pruning, 0, len(ids))
	for _, id := range ids {
		pr := pruning{id: id, containers: s.containers[id], project: stackProject(s.containers[id])}
		if row := s.rows[id]; row.Kind == string(sources.KindStack) {
			// Swarm removes its own tasks, wherever they run.
			pr = pruning{id: id, stack: row.ContainerName}
		} else if serviceRow(row) {
			pr.service = row.ContainerName
		}
		out = append(out, pr)
	}
	return out, 0
}

// clearFailure ends a failure: the row serves what was applied.
func clearFailure(r *store.Runtime) {
	r.LastDeploy, r.Message = store.DeploySucceeded, ""
	r.FailedHash, r.FailedCommit, r.Failures, r.RetryAt = "", "", 0, time.Time{}
}

// refusalMessage explains a refused prune.
func refusalMessage(commit string, n int) string {
	return fmt.Sprintf("the config at %s renders no workloads; refusing to prune all %d deployed workloads (run with --allow-empty to allow it)", shortSHA(commit), n)
}
