package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/policy"
)

// Errors of the operator's actions.
var (
	ErrUnknownWorkload = errors.New("no such workload on this agent")
	ErrNoRelease       = errors.New("no such release")
	// ErrNotAllowed: a workload asks the host for what --allow does not grant.
	ErrNotAllowed = policy.ErrNotAllowed
)

// ReleaseView is a release as the API and `berth releases` show it.
type ReleaseView struct {
	store.Release
	Serving bool `json:"serving"`
	Pinned  bool `json:"pinned"`
	// Changed are the fields of the applied spec that differ from the
	// release before it (what this deploy changed).
	Changed []string `json:"changed,omitempty"`
}

// Releases lists a workload's releases, newest first.
func (a *Agent) Releases(ctx context.Context, id string) ([]ReleaseView, error) {
	row, ok, err := a.store.GetRuntime(ctx, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownWorkload, id)
	}
	rels, err := a.store.Releases(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]ReleaseView, 0, len(rels))
	for i, r := range rels { // newest first
		v := ReleaseView{Release: r, Serving: r.ID == row.ReleaseID, Pinned: r.ID == row.PinnedRelease}
		if i+1 < len(rels) {
			v.Changed = changedFields(rels[i+1].Spec, r.Spec)
		}
		out = append(out, v)
	}
	return out, nil
}

// changedFields lists the fields two recorded specs differ in (no
// values: a secret layer shows as a name only).
func changedFields(before, after []byte) []string {
	b, errB := gitops.DecodeWorkload(before)
	c, errC := gitops.DecodeWorkload(after)
	if errB != nil || errC != nil {
		return nil
	}
	return gitops.ChangedFields(gitops.Fields(b, false), gitops.Fields(c, false))
}

// Rollback redeploys a recorded release of the workload with its
// strategy and pins it: the agent does not roll it forward until Resume.
// to picks the release by commit (a prefix of at least 4 characters);
// empty means the release before the serving one. It waits for a tick in
// flight. When the deploy fails, the workload is left as the deploy left
// it (rolled back to what served) and nothing is pinned.
func (a *Agent) Rollback(ctx context.Context, id, to string) (Outcome, error) {
	return a.RollbackWith(ctx, id, to, false)
}

// RollbackWith is Rollback; withData first restores, for each named
// volume, the newest snapshot taken while that release served (into a
// fresh generation), so the release runs on its own data.
func (a *Agent) RollbackWith(ctx context.Context, id, to string, withData bool) (Outcome, error) {
	a.tickMu.Lock()
	defer a.tickMu.Unlock()
	row, ok, err := a.store.GetRuntime(ctx, id)
	if err != nil {
		return Outcome{}, err
	}
	if !ok {
		return Outcome{}, fmt.Errorf("%w: %s", ErrUnknownWorkload, id)
	}
	rels, err := a.store.Releases(ctx, id)
	if err != nil {
		return Outcome{}, err
	}
	rel, err := pickRelease(rels, row, to)
	if err != nil {
		return Outcome{}, err
	}
	w, err := gitops.DecodeWorkload(rel.Spec)
	if err != nil {
		return Outcome{}, err
	}
	if withData {
		if err := a.restoreReleaseData(ctx, w, rel); err != nil {
			return Outcome{}, err
		}
	}
	cs, err := a.docker.List(ctx, a.opts.Name)
	if err != nil {
		return Outcome{}, err
	}
	d := deployment{w: w, release: &rel, row: row, hasRow: true, old: newSnapshot(nil, cs).containers[id], why: Why{Kind: WhyPinned, Commit: rel.Commit}}
	o := a.deployOne(ctx, rel.Commit, d)
	a.containersChanged()
	if o.Result == Failed {
		return o, fmt.Errorf("rolling %s back to %s failed: %s", id, shortSHA(rel.Commit), o.Reason)
	}
	err = a.setRow(ctx, id, func(r *store.Runtime) { r.PinnedRelease = rel.ID }, KindWorkloadPinned,
		fmt.Sprintf("%s rolled back to %s and pinned there; `berth resume %s` returns it to what git says", id, shortSHA(rel.Commit), id))
	return o, err
}

// pickRelease finds the release to roll back to.
func pickRelease(rels []store.Release, row store.Runtime, to string) (store.Release, error) {
	if to == "" {
		for _, r := range rels { // newest first: the first one older than what serves
			if r.ID < row.ReleaseID && r.Hash != row.AppliedHash {
				return r, nil
			}
		}
		return store.Release{}, fmt.Errorf("%w: %s has no release before the serving one", ErrNoRelease, row.WorkloadID)
	}
	if len(to) < 4 {
		return store.Release{}, fmt.Errorf("%w: --to %q is too short to name a commit (4 characters at least)", ErrNoRelease, to)
	}
	for _, r := range rels {
		if strings.HasPrefix(r.Commit, to) {
			return r, nil
		}
	}
	return store.Release{}, fmt.Errorf("%w: %s has no kept release at %s", ErrNoRelease, row.WorkloadID, to)
}

// Suspend stops reconciling a workload (no deploy, no self-heal, no
// cleanup, no prune) until Resume; what runs keeps running.
func (a *Agent) Suspend(ctx context.Context, id string) error {
	a.tickMu.Lock()
	defer a.tickMu.Unlock()
	return a.setRow(ctx, id, func(r *store.Runtime) { r.Suspended = true }, KindWorkloadSuspended,
		fmt.Sprintf("%s is suspended: Berth leaves it as it is until `berth resume %s`", id, id))
}

// Resume lifts a pin or a suspension: the next tick deploys what git says.
func (a *Agent) Resume(ctx context.Context, id string) error {
	a.tickMu.Lock()
	err := a.setRow(ctx, id, func(r *store.Runtime) { r.PinnedRelease, r.Suspended = 0, false }, KindWorkloadResumed,
		fmt.Sprintf("%s resumed: it follows git again", id))
	a.cache.commit = "" // the next tick compares with git again, even at the same commit
	a.tickMu.Unlock()
	if err == nil {
		a.Trigger()
	}
	return err
}

// Retry ends a failed version's wait (its backoff, or the hold of a
// recreate whose gate failed): the next tick, triggered now, tries the
// version git says again.
func (a *Agent) Retry(ctx context.Context, id string) error {
	a.tickMu.Lock()
	err := a.setRow(ctx, id, func(r *store.Runtime) { r.RetryAt = time.Time{} }, KindWorkloadRetry,
		fmt.Sprintf("%s: the operator asked for the failed version to be tried again now", id))
	a.cache.commit = ""
	a.tickMu.Unlock()
	if err == nil {
		a.Trigger()
	}
	return err
}

// setRow changes a workload's row, records why, and reports the change to
// the status branch.
func (a *Agent) setRow(ctx context.Context, id string, change func(*store.Runtime), kind EventKind, msg string) error {
	row, ok, err := a.store.GetRuntime(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownWorkload, id)
	}
	change(&row)
	if err := a.store.PutRuntime(ctx, row); err != nil {
		return err
	}
	a.log.Info(msg, "workload", id)
	a.events.add(ctx, store.Event{WorkloadID: id, Kind: string(kind), Severity: store.SeverityInfo, Commit: row.Commit, Message: msg})
	a.pushStatus(ctx, &TickResult{Commit: a.cache.commit, Note: msg})
	return nil
}
