package agent

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"sync"
	"time"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/sources/dockerfile"
	"github.com/berthops/berth/sources/image"
	"github.com/berthops/berth/update"
)

// Update event kinds.
const (
	KindUpdateFound     EventKind = "update.found"
	KindUpdateCommitted EventKind = "update.committed"
	KindUpdatePROpened  EventKind = "update.pr_opened"
	KindUpdateFailed    EventKind = "update.failed"
)

// committer commits one file's edit to a branch of the config repo.
type committer interface {
	Commit(ctx context.Context, branch, base, file, message string, edit func([]byte) ([]byte, error)) (string, error)
}

// pullRequester opens or updates a pull request (push: pull-request).
type pullRequester interface {
	PullRequest(ctx context.Context, head, base, title, body string) (url string, opened bool, err error)
}

// PendingUpdate is what `berth updates` lists: a newer image a policy
// found for a workload, and what became of it.
type PendingUpdate struct {
	Workload  string    `json:"workload"`
	Policy    string    `json:"policy"`
	Current   string    `json:"current"`
	Candidate string    `json:"candidate"`
	State     string    `json:"state"` // current, found, committed, pr_opened, failed
	Commit    string    `json:"commit,omitempty"`
	URL       string    `json:"url,omitempty"` // the pull request
	Error     string    `json:"error,omitempty"`
	CheckedAt time.Time `json:"checked_at"`
}

// updates is the agent's image-update state: when each workload is
// checked next, and what each check found. One registry client serves
// every workload, so a repository is asked once per interval.
type updates struct {
	mu      sync.Mutex
	reg     update.Registry
	next    map[string]time.Time
	fails   map[string]int
	pending map[string]PendingUpdate
	base    string // the loaded commit the checks read
}

// Updates lists the pending updates, by workload.
func (a *Agent) Updates() []PendingUpdate {
	a.imgUpdates.mu.Lock()
	defer a.imgUpdates.mu.Unlock()
	out := make([]PendingUpdate, 0, len(a.imgUpdates.pending))
	for _, p := range a.imgUpdates.pending {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Workload < out[j].Workload })
	return out
}

// target is what an update of w edits: the file, the image as written
// there, and the edit.
type updateTarget struct {
	file    string // relative to the repo root
	current string
	rewrite func(src []byte, ref string) ([]byte, error)
	read    func(src []byte) (string, error)
}

func (a *Agent) updateTarget(w *sources.Workload) (*sources.UpdatePolicy, updateTarget, bool) {
	root := a.opts.Path
	switch c := w.Source.(type) {
	case *image.Config:
		if c.Update == nil {
			return nil, updateTarget{}, false
		}
		return c.Update, updateTarget{file: path.Join(root, w.File), current: c.Image, rewrite: update.RewriteImage,
			read: func(src []byte) (string, error) { v, _, _, err := update.ImageLine(src); return v, err }}, true
	case *dockerfile.Config:
		if c.Update == nil || c.Git != nil {
			return nil, updateTarget{}, false
		}
		ps := c.Paths()
		if len(ps) < 2 {
			return nil, updateTarget{}, false
		}
		stage := c.Update.Stage
		return c.Update, updateTarget{file: path.Join(root, ps[1].Resolved),
			rewrite: func(src []byte, ref string) ([]byte, error) { return update.RewriteFrom(src, stage, ref) },
			read:    func(src []byte) (string, error) { v, _, _, err := update.FromLine(src, stage); return v, err }}, true
	}
	return nil, updateTarget{}, false
}

// CheckUpdates asks the registries about every workload whose update
// check is due and elected here (one writer per workload in a fleet), and
// commits (or proposes) what its policy finds. It runs beside the ticks.
func (a *Agent) CheckUpdates(ctx context.Context) {
	if a.opts.Committer == nil {
		return
	}
	a.tickMu.Lock()
	d, commit := a.cache.desired, a.cache.commit
	a.tickMu.Unlock()
	if d == nil {
		return
	}
	a.imgUpdates.mu.Lock()
	if a.imgUpdates.next == nil {
		a.imgUpdates.next, a.imgUpdates.fails, a.imgUpdates.pending = map[string]time.Time{}, map[string]int{}, map[string]PendingUpdate{}
		a.imgUpdates.reg.Now = a.now
		a.imgUpdates.reg.Timeout = 30 * time.Second
	}
	a.imgUpdates.reg.Logins = a.registryLogin
	a.imgUpdates.base = commit
	a.imgUpdates.mu.Unlock()
	now := a.now()
	for _, w := range d.Workloads {
		p, t, ok := a.updateTarget(w)
		if !ok {
			continue
		}
		a.imgUpdates.mu.Lock()
		due := !a.imgUpdates.next[w.ID()].After(now)
		if due {
			a.imgUpdates.next[w.ID()] = now.Add(p.Every())
		}
		a.imgUpdates.mu.Unlock()
		if !due || !a.runsJobHere(ctx, w) {
			continue
		}
		a.checkUpdate(ctx, d, w, p, t, now)
	}
}

func (a *Agent) checkUpdate(ctx context.Context, d *gitops.Desired, w *sources.Workload, p *sources.UpdatePolicy, t updateTarget, now time.Time) {
	id := w.ID()
	if t.current == "" {
		src, err := a.readConfigFile(t.file)
		if err == nil {
			t.current, err = t.read(src)
		}
		if err != nil {
			a.updateFailed(ctx, w, p, PendingUpdate{Workload: id, Policy: p.Policy, CheckedAt: now}, err)
			return
		}
	}
	cur, err := update.ParseRef(t.current)
	if err != nil {
		a.updateFailed(ctx, w, p, PendingUpdate{Workload: id, Policy: p.Policy, Current: t.current, CheckedAt: now}, err)
		return
	}
	view := a.imgUpdates.reg.View(ctx, p.Every())
	next, ok, err := update.Next(p, cur, view)
	pu := PendingUpdate{Workload: id, Policy: describePolicy(p), Current: t.current, Candidate: next.String(), State: "found", CheckedAt: now}
	if err == nil && ok && next.Digest == "" {
		// A registry may list a tag it no longer serves: never commit
		// an image that cannot be pulled.
		if _, derr := view.Digest(next.String()); derr != nil {
			err = fmt.Errorf("the registry lists %s but does not serve it: %w", next, derr)
		}
	}
	if err != nil {
		a.updateFailed(ctx, w, p, pu, err)
		return
	}
	a.imgUpdates.mu.Lock()
	prev, had := a.imgUpdates.pending[id]
	had = had && prev.State != "current"
	a.imgUpdates.fails[id] = 0
	if !ok {
		pu.State, pu.Candidate = "current", t.current
		a.imgUpdates.pending[id] = pu
		a.imgUpdates.mu.Unlock()
		return
	}
	a.imgUpdates.mu.Unlock()
	if !had || prev.Candidate != pu.Candidate {
		a.events.add(ctx, store.Event{WorkloadID: id, Kind: string(KindUpdateFound), Severity: store.SeverityInfo,
			Message: fmt.Sprintf("update found for %s: %s → %s (%s)", id, t.current, pu.Candidate, pu.Policy)})
	}
	a.commitUpdate(ctx, d, w, p, t, pu, next)
}

// commitUpdate writes a found update to the config repo (or proposes
// it) and records what became of it.
func (a *Agent) commitUpdate(ctx context.Context, d *gitops.Desired, w *sources.Workload, p *sources.UpdatePolicy, t updateTarget, pu PendingUpdate, next update.Ref) {
	id := w.ID()
	msg := fmt.Sprintf("berth: update %s to %s\n\n%s → %s (source.update: %s), found by agent %s.\n", id, tagOf(next), t.current, pu.Candidate, pu.Policy, a.opts.Name)
	var edited []byte
	edit := func(src []byte) ([]byte, error) {
		v, err := t.read(src)
		if err != nil {
			return nil, err
		}
		if v == pu.Candidate {
			return src, nil // already done, by someone else
		}
		if v != t.current {
			return nil, fmt.Errorf("%w: the file now says %s", errChangedMeanwhile, v)
		}
		edited, err = t.rewrite(src, pu.Candidate)
		return edited, err
	}
	branch, base := a.repo.Branch(), ""
	if p.PushMode() == sources.PushPullRequest {
		branch, base = p.BranchFor(w.App, w.Name), a.repo.Branch()
	}
	sha, err := a.opts.Committer.Commit(ctx, branch, base, t.file, msg, edit)
	switch {
	case errors.Is(err, gitops.ErrNothingToChange):
		pu.State = "committed"
		a.setPending(pu)
		return // another agent or a human made the change
	case errors.Is(err, errChangedMeanwhile):
		a.log.Info("update skipped: the file changed meanwhile; checked again next interval", "workload", id, "error", err)
		return
	case err != nil:
		a.updateFailed(ctx, w, p, pu, err)
		return
	default:
		pu.State, pu.Commit = "committed", sha
		a.events.add(ctx, store.Event{WorkloadID: id, Kind: string(KindUpdateCommitted), Severity: store.SeverityInfo, Commit: sha,
			Message: fmt.Sprintf("update committed for %s: %s → %s on %s (%s)", id, t.current, pu.Candidate, branch, shortSHA(sha))})
	}
	if p.PushMode() == sources.PushPullRequest {
		if err := a.openPullRequest(ctx, d, w, &pu, branch, msg, t.file, edited); err != nil {
			a.updateFailed(ctx, w, p, pu, err)
			return
		}
	}
	a.setPending(pu)
}

var errChangedMeanwhile = errors.New("the file changed since it was read")

func (a *Agent) setPending(pu PendingUpdate) {
	a.imgUpdates.mu.Lock()
	a.imgUpdates.pending[pu.Workload] = pu
	a.imgUpdates.mu.Unlock()
}

// updateFailed reports a failed check or commit once per distinct error
// (a repeat is counted on the same event) and backs the workload off:
// twice the interval per failure in a row, up to an hour — no retry storm.
func (a *Agent) updateFailed(ctx context.Context, w *sources.Workload, p *sources.UpdatePolicy, pu PendingUpdate, err error) {
	id := w.ID()
	pu.State, pu.Error = "failed", err.Error()
	a.imgUpdates.mu.Lock()
	a.imgUpdates.fails[id]++
	n := a.imgUpdates.fails[id]
	wait := min(p.Every()<<min(n, 6), time.Hour)
	a.imgUpdates.next[id] = a.now().Add(max(wait, p.Every()))
	a.imgUpdates.pending[id] = pu
	a.imgUpdates.mu.Unlock()
	a.log.Warn("image update failed", "workload", id, "error", err, "next_check_in", wait)
	a.events.count(ctx, store.Event{WorkloadID: id, Kind: string(KindUpdateFailed), Severity: store.SeverityWarn,
		Message: fmt.Sprintf("update of %s failed: %v", id, err)})
}

func describePolicy(p *sources.UpdatePolicy) string {
	s := p.Policy
	if p.Range != "" {
		s += " " + p.Range
	}
	if p.Pattern != "" {
		s += " /" + p.Pattern + "/"
	}
	return s
}

func tagOf(r update.Ref) string {
	if r.Digest != "" {
		return r.Tag + "@" + r.Digest[:min(len(r.Digest), 19)]
	}
	return r.Tag
}

// updateLoop checks image updates every 10 s until ctx ends (each
// workload is asked no more often than its interval).
func (a *Agent) updateLoop(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.CheckUpdates(ctx)
		}
	}
}
