package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/sources/router"
)

// ErrDeployFailed is returned (wrapped) by Tick when any workload failed to
// deploy or to load; the others were still deployed.
var ErrDeployFailed = errors.New("some workloads failed")

// metaLastCommit records the config commit of the last full tick, for
// `berth status`.
const metaLastCommit = "last_commit"

// TickResult says what one tick did.
type TickResult struct {
	Commit   string
	NoOp     bool     // HEAD did not move and nothing drifted
	Deployed []string // workload ids
	Failed   []string
	Invalid  []string
	Pruned   []string
	// Observed counts workloads whose observed state changed (a container
	// went missing or came back).
	Observed int
	Duration time.Duration
	// Timings of this tick's deploys, by workload id.
	Timings map[string]Timing
}

// Changed reports whether the tick changed anything a person would see.
func (r *TickResult) Changed() bool {
	return len(r.Deployed)+len(r.Failed)+len(r.Pruned)+r.Observed > 0
}

type loaded struct {
	commit  string
	desired *gitops.Desired
}

// snapshot is everything a tick reads before it acts: every runtime row in
// one query and every owned container in one Docker call.
type snapshot struct {
	rows       map[string]store.Runtime
	containers map[string][]sources.Container // by workload id
}

// Tick runs one pass: pull, load, snapshot, diff, deploy, reconcile, prune,
// report. It returns an error wrapping ErrDeployFailed when a workload
// failed, and other errors when the tick could not run at all; in both
// cases nothing that was running is stopped because of the failure.
func (a *Agent) Tick(ctx context.Context) (*TickResult, error) {
	a.tickMu.Lock()
	defer a.tickMu.Unlock()
	start := time.Now()
	res := &TickResult{}
	defer func() { res.Duration = time.Since(start) }()

	a.log.Info("pulling", "repo", a.repo.URL(), "branch", a.repo.Branch())
	commit, err := a.repo.Pull(ctx)
	if err != nil {
		a.syncFailed(ctx, fmt.Errorf("pulling config repo: %w", err))
		return res, fmt.Errorf("pulling config repo: %w", err)
	}
	res.Commit = commit

	snap, err := a.snapshot(ctx)
	if err != nil {
		// Without a full snapshot nothing is marked missing, pruned or
		// deployed: a partial view would act on wrong facts.
		a.syncFailed(ctx, err)
		return res, err
	}

	appsMoved := false
	if a.cache.commit == commit && hasAppRepos(a.cache.desired) {
		appsMoved = a.resolveApps(ctx, a.cache.desired)
	}
	if a.cache.commit == commit && !appsMoved && !a.drifted(snap) {
		res.Observed = a.observe(ctx, snap, nil, a.cache.desired)
		if res.Changed() {
			a.report(ctx, res)
		}
		res.NoOp = true
		a.ready.Store(true)
		a.log.Info("up to date", "commit", shortSHA(commit), "took", time.Since(start).Round(time.Millisecond))
		return res, nil
	}

	if a.cache.commit != commit || a.cache.desired == nil {
		d, err := gitops.Load(a.repo.Dir(), a.opts.Path)
		if err != nil {
			a.syncFailed(ctx, err)
			return res, err
		}
		if len(d.Errors) > 0 {
			a.configInvalid(ctx, commit, d.Errors)
			return res, fmt.Errorf("config at %s is invalid: %w", shortSHA(commit), errors.Join(d.Errors...))
		}
		a.cache = loaded{commit: commit, desired: d}
		a.applySecrets(ctx, d, commit)
		a.resolveApps(ctx, d)
		a.log.Info("loaded config", "commit", shortSHA(commit), "workloads", len(d.Workloads), "invalid", len(d.Invalid))
	}
	d := a.cache.desired

	handled := map[string]bool{}
	newlyInvalid := 0
	for _, inv := range d.Invalid {
		handled[inv.ID] = true
		res.Invalid = append(res.Invalid, inv.ID)
		if a.markInvalid(ctx, commit, inv, snap) {
			newlyInvalid++
		}
	}

	todo := a.diff(d, snap)
	for _, w := range todo {
		handled[w.ID()] = true
	}
	a.deployAll(ctx, commit, todo, snap, res)
	res.Observed = a.observe(ctx, snap, handled, d)
	a.prune(ctx, commit, d, snap, res)
	if res.Changed() || newlyInvalid > 0 {
		a.report(ctx, res)
	}

	if prev, _ := a.store.Meta(ctx, metaLastCommit); prev != commit {
		if err := a.store.SetMeta(ctx, metaLastCommit, commit); err != nil {
			a.log.Warn("recording last commit failed", "error", err)
		}
	}
	a.ready.Store(true)
	a.log.Info("done", "commit", shortSHA(commit), "deployed", len(res.Deployed), "failed", len(res.Failed),
		"invalid", len(res.Invalid), "pruned", len(res.Pruned), "took", time.Since(start).Round(time.Millisecond))
	if n := len(res.Failed) + len(res.Invalid); n > 0 {
		return res, fmt.Errorf("%w: %s", ErrDeployFailed, strings.Join(append(append([]string{}, res.Failed...), res.Invalid...), ", "))
	}
	return res, nil
}

func (a *Agent) snapshot(ctx context.Context) (*snapshot, error) {
	rows, err := a.store.ListRuntime(ctx)
	if err != nil {
		return nil, err
	}
	cs, err := a.docker.List(ctx, a.opts.Name)
	if err != nil {
		return nil, err
	}
	s := &snapshot{rows: make(map[string]store.Runtime, len(rows)), containers: map[string][]sources.Container{}}
	for _, r := range rows {
		s.rows[r.WorkloadID] = r
	}
	for _, c := range cs {
		s.containers[c.Workload()] = append(s.containers[c.Workload()], c)
	}
	return s, nil
}

// drifted reports whether what runs differs from what was applied: a
// failed deploy to retry, a vanished container to heal, a leftover or
// unowned container to clean up.
func (a *Agent) drifted(s *snapshot) bool {
	for id, row := range s.rows {
		if row.LastDeploy == store.DeployFailed {
			return true
		}
		if row.Kind == string(sources.KindCompose) {
			for _, c := range s.containers[id] {
				if c.Hash() != row.AppliedHash {
					return true
				}
			}
			if len(s.containers[id]) == 0 && a.opts.SelfHeal && row.AppliedHash != "" {
				return true
			}
			continue
		}
		found := false
		for _, c := range s.containers[id] {
			if c.ID != row.ContainerID {
				return true
			}
			found = true
		}
		if !found && row.ContainerID != "" && a.opts.SelfHeal {
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

// diff picks the workloads to deploy: new ones, changed ones, ones whose
// last deploy failed, and (with self-heal) ones whose container vanished.
func (a *Agent) diff(d *gitops.Desired, s *snapshot) []*sources.Workload {
	var todo []*sources.Workload
	for _, w := range d.Workloads {
		row, ok := s.rows[w.ID()]
		switch {
		case !ok, row.AppliedHash != w.Hash, row.LastDeploy == store.DeployFailed:
			todo = append(todo, w)
		case a.opts.SelfHeal && row.Kind == string(sources.KindCompose):
			if len(s.containers[w.ID()]) == 0 {
				todo = append(todo, w)
			}
		case a.opts.SelfHeal && current(row, s.containers[w.ID()]) == nil:
			todo = append(todo, w)
		}
	}
	return todo
}

// stackStatus sums up a compose stack's containers.
func stackStatus(cs []sources.Container) string {
	if len(cs) == 0 {
		return store.StatusMissing
	}
	for _, c := range cs {
		if !c.Running() {
			return store.StatusDegraded
		}
	}
	return store.StatusRunning
}

// stackProject is the compose project of a workload's containers, "" for
// containers Berth runs itself.
func stackProject(cs []sources.Container) string {
	for _, c := range cs {
		if p := c.Labels["com.docker.compose.project"]; p != "" {
			return p
		}
	}
	return ""
}

func current(row store.Runtime, cs []sources.Container) *sources.Container {
	for i := range cs {
		if cs[i].ID == row.ContainerID && row.ContainerID != "" {
			return &cs[i]
		}
	}
	return nil
}

func (a *Agent) deployAll(ctx context.Context, commit string, todo []*sources.Workload, s *snapshot, res *TickResult) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, a.opts.Parallel)
	for _, w := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			row, hasRow := s.rows[w.ID()]
			t, err := a.deploy(ctx, commit, w, s.containers[w.ID()], row, hasRow)
			mu.Lock()
			defer mu.Unlock()
			if res.Timings == nil {
				res.Timings = map[string]Timing{}
			}
			res.Timings[w.ID()] = t
			if err != nil {
				res.Failed = append(res.Failed, w.ID())
			} else {
				res.Deployed = append(res.Deployed, w.ID())
			}
		}()
	}
	wg.Wait()
	sort.Strings(res.Deployed)
	sort.Strings(res.Failed)
}

// observe brings runtime rows in line with the containers seen in the
// snapshot: it writes only rows whose status changed, marks vanished
// containers missing, and removes leftover copies of workloads that were
// not deployed this tick. handled workloads were written by this tick. It
// returns how many workloads changed observed state.
func (a *Agent) observe(ctx context.Context, s *snapshot, handled map[string]bool, d *gitops.Desired) int {
	changed := 0
	valid := map[string]*sources.Workload{}
	if d != nil {
		for _, w := range d.Workloads {
			valid[w.ID()] = w
		}
	}
	for id, row := range s.rows {
		if handled[id] {
			continue
		}
		cs := s.containers[id]
		c := current(row, cs)
		next := row
		switch {
		case row.Kind == string(sources.KindCompose):
			next.Status = stackStatus(cs)
		case c != nil:
			next.Status = c.State
			if up := sources.Upstream(*c); up != "" {
				next.Upstream = up // Docker may publish a new port after a restart
			}
		case row.ContainerID != "":
			next.Status = store.StatusMissing
		}
		if valid[id] != nil && row.LastDeploy == store.DeployInvalid {
			// The file is valid again at the hash already applied.
			next.LastDeploy, next.Message = store.DeploySucceeded, ""
		}
		if w := valid[id]; w != nil && c != nil {
			a.ensureRoute(ctx, w, next.Upstream)
		}
		if next.Status != row.Status || next.LastDeploy != row.LastDeploy || next.Upstream != row.Upstream {
			if next.Status != row.Status {
				changed++
			}
			next.UpdatedAt = time.Time{}
			if err := a.store.PutRuntime(ctx, next); err != nil {
				a.log.Warn("updating runtime state failed", "workload", id, "error", err)
			}
			if next.Status == store.StatusMissing && row.Status != store.StatusMissing {
				a.events.add(ctx, store.Event{WorkloadID: id, Kind: KindWorkloadMissing, Severity: store.SeverityWarn,
					Message: fmt.Sprintf("container %s of %s is gone", row.ContainerName, id), Commit: row.Commit})
			}
		}
		if valid[id] == nil || handled == nil || row.Kind == string(sources.KindCompose) {
			continue // compose removes its own orphans
		}
		for _, o := range cs {
			if o.ID == row.ContainerID {
				continue
			}
			a.log.Info("removing leftover container", "workload", id, "container", o.Name)
			if err := a.docker.Remove(ctx, o.ID, 0); err != nil {
				a.log.Warn("removing leftover container failed", "workload", id, "container", o.Name, "error", err)
			}
		}
	}
	return changed
}

// prune removes workloads whose files left the repo. When the repo renders
// no workloads at all but some are deployed, it refuses unless AllowEmpty:
// an emptied checkout is more often a mistake than a wish.
func (a *Agent) prune(ctx context.Context, commit string, d *gitops.Desired, s *snapshot, res *TickResult) {
	ids := d.IDs()
	gone := map[string]bool{}
	for id := range s.rows {
		if !ids[id] {
			gone[id] = true
		}
	}
	for id := range s.containers {
		if !ids[id] {
			gone[id] = true
		}
	}
	if len(gone) == 0 {
		return
	}
	if len(ids) == 0 && !a.opts.AllowEmpty {
		msg := fmt.Sprintf("the config at %s renders no workloads; refusing to prune all %d deployed workloads (run with --allow-empty to allow it)", shortSHA(commit), len(gone))
		a.log.Warn("prune refused", "reason", msg)
		a.events.add(ctx, store.Event{Kind: KindPruneRefused, Severity: store.SeverityWarn, Message: msg, Commit: commit})
		return
	}
	var names []string
	for id := range gone {
		names = append(names, id)
	}
	sort.Strings(names)
	for _, id := range names {
		grace := sources.DefaultStopGrace
		failed := false
		if project := stackProject(s.containers[id]); project != "" && a.opts.Compose != nil {
			if err := a.opts.Compose.Down(ctx, project); err != nil {
				a.log.Warn("pruning the compose stack failed", "workload", id, "project", project, "error", err)
				continue
			}
		}
		for _, c := range s.containers[id] {
			if err := a.docker.Remove(ctx, c.ID, grace); err != nil {
				a.log.Warn("pruning container failed", "workload", id, "container", c.Name, "error", err)
				failed = true
			}
		}
		if failed {
			continue // the row stays, the next tick retries
		}
		if a.opts.Router != nil {
			if err := a.opts.Router.Remove(ctx, id); err != nil {
				a.log.Warn("removing the route failed", "workload", id, "error", err)
			}
		}
		if err := a.store.DeleteRuntime(ctx, id); err != nil {
			a.log.Warn("pruning runtime state failed", "workload", id, "error", err)
			continue
		}
		a.log.Info("pruned", "workload", id)
		a.events.add(ctx, store.Event{WorkloadID: id, Kind: KindWorkloadPruned, Severity: store.SeverityInfo,
			Message: fmt.Sprintf("%s was removed from the config at %s: containers removed", id, shortSHA(commit)), Commit: commit})
		res.Pruned = append(res.Pruned, id)
	}
}

// ensureRoute keeps the proxy pointing at the container the runtime row
// names: after a crash between the swap and the record, after Docker gave
// a restarted container a new port, or when the route block changed. It
// is an in-memory comparison unless something differs.
func (a *Agent) ensureRoute(ctx context.Context, w *sources.Workload, upstream string) {
	if a.opts.Router == nil {
		return
	}
	cur, has := a.opts.Router.Get(w.ID())
	switch {
	case w.Route == nil && has:
		if err := a.opts.Router.Remove(ctx, w.ID()); err != nil {
			a.log.Warn("removing the route failed", "workload", w.ID(), "error", err)
		}
	case w.Route != nil && upstream != "":
		want := router.Route{ID: w.ID(), Hosts: w.Route.Hosts, Upstream: upstream}
		if has && cur.Upstream == want.Upstream && slices.Equal(cur.Hosts, want.Hosts) {
			return
		}
		a.log.Info("repointing the route", "workload", w.ID(), "upstream", upstream)
		if err := a.opts.Router.Upsert(ctx, want); err != nil {
			a.log.Warn("updating the route failed", "workload", w.ID(), "error", err)
		}
	}
}

func (a *Agent) markInvalid(ctx context.Context, commit string, inv *gitops.InvalidWorkload, s *snapshot) bool {
	msg := inv.Err().Error()
	row, ok := s.rows[inv.ID]
	if ok && row.LastDeploy == store.DeployInvalid && row.Message == store.Truncate(msg, store.MaxMessageRunes) {
		return false // already reported for this content
	}
	a.log.Error("workload file is invalid", "workload", inv.ID, "error", msg)
	if !ok {
		row = store.Runtime{WorkloadID: inv.ID, Status: store.StatusInvalid}
	}
	row.LastDeploy = store.DeployInvalid
	row.Message = msg
	row.UpdatedAt = time.Time{}
	if err := a.store.PutRuntime(ctx, row); err != nil {
		a.log.Warn("updating runtime state failed", "workload", inv.ID, "error", err)
	}
	a.events.add(ctx, store.Event{WorkloadID: inv.ID, Kind: KindWorkloadInvalid, Severity: store.SeverityError,
		Message: msg, Commit: commit, Metadata: map[string]string{"workload_id": inv.ID, "file": inv.File}})
	return true
}

func (a *Agent) configInvalid(ctx context.Context, commit string, errs []error) {
	for _, err := range errs {
		a.log.Error("config is invalid", "commit", shortSHA(commit), "error", err)
	}
	if a.cache.commit == "invalid:"+commit {
		return // reported already
	}
	a.cache = loaded{commit: "invalid:" + commit}
	a.events.add(ctx, store.Event{Kind: KindConfigInvalid, Severity: store.SeverityError, Commit: commit,
		Message: fmt.Sprintf("config at %s is invalid, nothing deployed or pruned: %v", shortSHA(commit), errs[0])})
}

func (a *Agent) syncFailed(ctx context.Context, err error) {
	a.log.Error("sync failed", "error", err)
	a.events.add(ctx, store.Event{Kind: KindSyncFailed, Severity: store.SeverityError, Message: err.Error()})
}
