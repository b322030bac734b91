package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/internal/fault"
	"github.com/berthops/berth/router"
)

// ErrDeployFailed is returned (wrapped) by Tick when any workload failed to
// deploy or to load; the others were still deployed.
var ErrDeployFailed = errors.New("some workloads failed")

// ErrConfigInvalid is returned (wrapped) by Tick when the config repo has
// a repo-wide error: nothing is deployed or pruned until it is fixed.
var ErrConfigInvalid = errors.New("the config is invalid")

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
	// Outcomes of this tick's deploys, sorted by workload id.
	Outcomes []Outcome
	// Note, when set, is what an operator's action did (a rollback, a
	// suspension), or why the config tip was not applied, for the status
	// commit.
	Note string
	// Unverified is the signature check of a config tip that was not
	// applied (--trusted-signers).
	Unverified *gitops.Signature
	announce   bool // push a status report even if nothing changed
}

// Changed reports whether the tick changed anything a person would see.
func (r *TickResult) Changed() bool {
	return len(r.Deployed)+len(r.Failed)+len(r.Pruned)+r.Observed > 0
}

func (r *TickResult) addOutcomes(os []Outcome) {
	r.Outcomes = append(r.Outcomes, os...)
	for _, o := range os {
		if r.Timings == nil {
			r.Timings = map[string]Timing{}
		}
		r.Timings[o.Workload.ID()] = o.Timing
		if o.Result == Failed {
			r.Failed = append(r.Failed, o.Workload.ID())
		} else {
			r.Deployed = append(r.Deployed, o.Workload.ID())
		}
	}
}

func (r *TickResult) outcome(id string) *Outcome {
	for i := range r.Outcomes {
		if r.Outcomes[i].Workload.ID() == id {
			return &r.Outcomes[i]
		}
	}
	return nil
}

func firstOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

type loaded struct {
	commit  string
	desired *gitops.Desired
}

// Tick runs one pass: pull, load, snapshot, decide, deploy, reconcile,
// prune, report. It returns an error wrapping ErrDeployFailed when a
// workload failed, and other errors when the tick could not run at all; in
// both cases nothing that was running is stopped because of the failure.
func (a *Agent) Tick(ctx context.Context) (res *TickResult, err error) {
	a.tickMu.Lock()
	defer a.tickMu.Unlock()
	start := a.now()
	res = &TickResult{}
	defer func() {
		if !res.NoOp {
			a.containersChanged()
		}
		res.Duration = a.now().Sub(start)
		ran := err == nil || errors.Is(err, ErrDeployFailed) || errors.Is(err, ErrConfigInvalid)
		if ran {
			a.lastSuccess.Store(a.now().UnixNano())
		}
		a.metrics.tick(res, ran, res.Duration, a.now())
	}()

	commit, err := a.pull(ctx, res)
	if err != nil {
		return res, err
	}
	res.Commit = commit
	snap, err := a.takeSnapshot(ctx)
	if err != nil {
		// Without a full snapshot nothing is marked missing, pruned or
		// deployed: a partial view would act on wrong facts.
		a.report.syncFailed(ctx, err)
		return res, err
	}
	d, fresh, err := a.load(ctx, commit)
	if err != nil {
		return res, err
	}
	d, moved := a.withPreviews(ctx, d, snap.rows)
	fresh = fresh || moved
	defer a.reportPreviews(ctx)
	if !fresh && !drifted(snap, a.opts.SelfHeal, a.now()) && len(a.moving) == 0 {
		res.NoOp = true
		res.Observed = a.reconcile(ctx, decideObservations(snap, d.ByID(), nil, a.decideOptions(ctx, snap, false)))
		a.checkRoutes(ctx)
		a.scheduleJobs(ctx, d) // no query without jobs; the agent that runs a job may change
		a.finish(ctx, res, false, start)
		return res, nil
	}
	p := decide(d, snap, a.decideOptions(ctx, snap, true))
	a.markInvalid(ctx, commit, p.invalid)
	res.Invalid = invalidIDs(d)
	res.addOutcomes(a.act(ctx, commit, p.deploys))
	res.Observed = a.reconcile(ctx, p.observe)
	a.holdMoves(ctx, commit, d, &p)
	a.prune(ctx, commit, p, res)
	a.collect(ctx, append(res.Deployed, res.Pruned...))
	a.checkRoutes(ctx)
	a.scheduleJobs(ctx, d)
	a.finish(ctx, res, len(p.invalid) > 0, start)
	if failed := res.failures(); len(failed) > 0 {
		return res, fmt.Errorf("%w: %s", ErrDeployFailed, strings.Join(failed, "; "))
	}
	return res, nil
}

// failures names each failed workload with its generic reason, and each
// invalid one, for the error a tick returns.
func (r *TickResult) failures() []string {
	var out []string
	for _, id := range r.Failed {
		if o := r.outcome(id); o != nil && o.Reason != "" {
			id += " (" + o.Reason + ")"
		}
		out = append(out, id)
	}
	for _, id := range r.Invalid {
		out = append(out, id+" (invalid config)")
	}
	return out
}

// pull brings the config checkout to the branch tip, or keeps the last
// verified commit when the tip is not signed by a trusted key.
func (a *Agent) pull(ctx context.Context, res *TickResult) (string, error) {
	a.log.Info("pulling", "repo", a.repo.URL(), "branch", a.repo.Branch())
	var commit string
	err := fault.Deadline(ctx, a.opts.Timeouts.Git, "--git-timeout", func(ctx context.Context) (err error) {
		commit, err = a.repo.Pull(ctx)
		return err
	})
	var uv *gitops.UnverifiedError
	switch {
	case errors.As(err, &uv):
		if commit = a.untrusted(ctx, uv, res); commit == "" {
			if res.announce {
				a.pushStatus(ctx, res)
			}
			return "", fmt.Errorf("pulling config repo: %w", uv)
		}
	case err != nil:
		err = fmt.Errorf("pulling config repo: %w", err)
		a.report.syncFailed(ctx, err)
		return "", err
	case a.rejected != "":
		a.rejected, res.announce = "", true // verified again: clear the status
	}
	return commit, nil
}

// load renders the config at commit, or reuses the last rendering while
// HEAD stays put. fresh says whether anything may have moved: a new
// rendering, or an app repo that moved.
func (a *Agent) load(ctx context.Context, commit string) (d *gitops.Desired, fresh bool, err error) {
	if a.cache.commit == commit && a.cache.desired != nil {
		moved := a.apps.any(a.cache.desired) && a.apps.resolve(ctx, a.cache.desired)
		return a.cache.desired, moved, nil
	}
	d, err = gitops.LoadWith(a.repo.Dir(), a.opts.Path, gitops.LoadOptions{Policy: a.opts.Policy})
	if err != nil {
		a.report.syncFailed(ctx, err)
		return nil, false, err
	}
	if len(d.Errors) > 0 {
		a.configInvalid(ctx, commit, d.Errors)
		return nil, false, fmt.Errorf("%w: at %s: %w", ErrConfigInvalid, shortSHA(commit), errors.Join(d.Errors...))
	}
	d.PlaceOn(a.opts.Name, a.opts.Labels) // a workload placed elsewhere is not this agent's: not deployed, pruned here, not reported
	a.cache = loaded{commit: commit, desired: d}
	a.loadedDesired.Store(d)
	a.report.secretWarnings(ctx, commit, a.secrets.apply(d))
	problems := a.events.notify.configure(d.Repo.Notifications, a.secrets.global)
	problems = append(problems, a.registries(d.Repo.Registries)...)
	if p := a.configureBackupTarget(d.Repo.Backups); p != "" {
		problems = append(problems, p)
	}
	for _, p := range problems {
		a.report.secretWarnings(ctx, commit, []secretWarning{{msg: p}})
	}
	a.apps.resolve(ctx, d)
	a.log.Info("loaded config", "commit", shortSHA(commit), "workloads", len(d.Workloads), "invalid", len(d.Invalid))
	return d, true, nil
}

func (a *Agent) decideOptions(ctx context.Context, snap *snapshot, cleanup bool) decideOptions {
	o := decideOptions{now: a.now(), selfHeal: a.opts.SelfHeal, allowEmpty: a.opts.AllowEmpty, cleanup: cleanup, held: a.secrets.held()}
	if cleanup {
		o.retryNow, a.retryNow = a.retryNow, false
	}
	if a.opts.Router != nil {
		o.overrides = a.overrides(ctx)
		o.routes = map[string]router.Route{}
		for _, r := range a.opts.Router.Routes() {
			o.routes[r.ID] = r
		}
	}
	if cleanup {
		o.releases = a.releasesFor(ctx, snap)
	}
	return o
}

// releasesFor reads, in one query, the releases that pinned rows and
// backing-off rows point at (none in a steady state: no query).
func (a *Agent) releasesFor(ctx context.Context, snap *snapshot) map[int64]release {
	var ids []int64
	for _, row := range snap.rows {
		if row.PinnedRelease != 0 {
			ids = append(ids, row.PinnedRelease)
		}
		if row.FailedHash != "" && row.ReleaseID != 0 {
			ids = append(ids, row.ReleaseID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	recs, err := a.store.ReleasesByID(ctx, ids)
	if err != nil {
		a.log.Warn("reading releases failed", "error", err)
		return nil
	}
	out := make(map[int64]release, len(recs))
	for id, rec := range recs {
		w, err := gitops.DecodeWorkload(rec.Spec)
		if err != nil {
			a.log.Warn("reading a release failed", "release", id, "error", err)
			continue
		}
		out[id] = release{rec: rec, w: w}
	}
	return out
}

// configInvalid reports a repo-wide config error once per commit; while
// it stands nothing is deployed or pruned.
func (a *Agent) configInvalid(ctx context.Context, commit string, errs []error) {
	for _, err := range errs {
		a.log.Error("config is invalid", "commit", shortSHA(commit), "error", err)
	}
	if a.cache.commit == "invalid:"+commit {
		return // reported already
	}
	a.cache = loaded{commit: "invalid:" + commit}
	a.report.configInvalid(ctx, commit, errs)
}

// finish reports the tick: a status commit when something changed, the
// last commit for `berth status`, readiness, and a log line.
func (a *Agent) finish(ctx context.Context, res *TickResult, newlyInvalid bool, start time.Time) {
	if a.jobsChanged.Swap(false) {
		res.announce = true // a job's last run changed its state: tell the status branch
	}
	switch {
	case res.Changed() || newlyInvalid || res.announce:
		a.pushStatus(ctx, res)
	case a.report.heartbeatDue(ctx):
		hb := *res // nothing changed: the same report, a new heartbeat
		hb.Note = "heartbeat at " + shortSHA(res.Commit)
		a.pushStatus(ctx, &hb)
	}
	a.pruneEvents(ctx)
	if !res.NoOp {
		if prev, _ := a.store.Meta(ctx, metaLastCommit); prev != res.Commit {
			if err := a.store.SetMeta(ctx, metaLastCommit, res.Commit); err != nil {
				a.log.Warn("recording last commit failed", "error", err)
			}
		}
	}
	took := a.now().Sub(start).Round(time.Millisecond)
	if res.NoOp {
		a.log.Info("up to date", "commit", shortSHA(res.Commit), "took", took)
		return
	}
	a.log.Info("done", "commit", shortSHA(res.Commit), "deployed", len(res.Deployed), "failed", len(res.Failed),
		"invalid", len(res.Invalid), "pruned", len(res.Pruned), "took", took)
}

func (a *Agent) pushStatus(ctx context.Context, res *TickResult) {
	if a.report.status == nil {
		return
	}
	rows, err := a.store.ListRuntime(ctx)
	if err != nil {
		a.log.Warn("status report skipped", "error", err)
		return
	}
	a.report.tick(ctx, res, rows)
}

func invalidIDs(d *gitops.Desired) []string {
	var ids []string
	for _, inv := range d.Invalid {
		ids = append(ids, inv.ID)
	}
	return ids
}

// eventsPerWorkload caps the event log of one workload.
const eventsPerWorkload = 10_000

// pruneEvents bounds the event log: at most once an hour, events older
// than EventsMaxAge go, and each workload keeps its newest 10,000.
func (a *Agent) pruneEvents(ctx context.Context) {
	now := a.now()
	if now.Sub(a.prunedAt) < time.Hour {
		return
	}
	a.prunedAt = now
	n, err := a.store.PruneEvents(ctx, now.Add(-a.opts.EventsMaxAge), eventsPerWorkload)
	if err != nil {
		a.log.Warn("pruning the event log failed", "error", err)
		return
	}
	if n > 0 {
		a.log.Info("pruned the event log", "deleted", n)
	}
}
