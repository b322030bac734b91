package agent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/forge"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/policy"
	"github.com/berthops/berth/sources"
)

// A preview is a set of ordinary workloads (APP/NAME@SLUG) built from a
// pull request's or a preview branch's head: the workloads it changes,
// at their own host, with the preview secret scope only. What may be
// previewed, where and how is read from the watched branch; the head
// only supplies workload files. previewreport.go reports them.

// previewRepo is what previews need of the config repo's clone.
type previewRepo interface {
	Heads(ctx context.Context) (map[string]string, error)
	FetchHead(ctx context.Context, ref, slug string) (string, error)
	DropHead(slug string)
	CommitTime(sha string) time.Time
	Export(sha, dir string) error
}

// pullLister lists open pull requests (the forge client).
type pullLister interface {
	OpenPulls(ctx context.Context, base string) ([]forge.OpenPull, error)
}

// Preview is one preview, as `berth previews` and GET /api/previews show it.
type Preview struct {
	Slug        string    `json:"slug"`
	PullRequest int       `json:"pull_request,omitempty"`
	Branch      string    `json:"branch,omitempty"`
	Author      string    `json:"author,omitempty"`
	Commit      string    `json:"commit"`
	PullURL     string    `json:"pull_url,omitempty"`
	URL         string    `json:"url,omitempty"` // where the preview answers
	Workloads   []string  `json:"workloads"`
	State       string    `json:"state"` // running, deploying, failed, waiting, refused, invalid
	Reason      string    `json:"reason,omitempty"`
	PushedAt    time.Time `json:"pushed_at"`
}

// previewHead is a pull request or branch head that may be previewed.
type previewHead struct {
	slug, ref, sha, branch, author, pullURL string
	number                                  int
	fork                                    bool
	pushed                                  time.Time
}

// previewLoad is a head's files as loaded, kept while its commit stays.
type previewLoad struct {
	sha         string
	d           *gitops.Desired
	err         string
	fetchFailed bool // the head could not be fetched (not: it does not load)
}

// previews is the agent's preview state between ticks. Ticks never
// overlap and only they touch it, so only what readers outside a tick
// see — the list, and the keep_data setting prune reads — is behind mu:
// no API call waits for a tick's forge listing or fetch.
type previews struct {
	mu       sync.Mutex
	pulls    []forge.OpenPull // the last good listing
	heads    map[string]string
	nextList time.Time // a failed listing backs off
	listed   bool      // a listing succeeded since the agent started
	failures int
	loads    map[string]previewLoad // by slug
	list     []Preview
	sig      string
	keepData map[string]bool   // preview workload ids whose volumes a teardown keeps
	reported map[string]string // slug → the commit, state and reason last reported
	up       map[string]string // slug → the commit last running
	// on says the last tick's settings ask for previews (a pull-request
	// webhook then starts a tick).
	on atomic.Bool
}

// publish replaces what readers see.
func (p *previews) publish(list []Preview, keep map[string]bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.list, p.keepData = list, keep
}

// withPreviews adds the previews the watched branch's settings ask for to
// d (a copy; d itself stays the cached base). moved says the set of
// previews or their heads changed since the last tick.
func (a *Agent) withPreviews(ctx context.Context, d *gitops.Desired, rows map[string]store.Runtime) (*gitops.Desired, bool) {
	p := &a.previews
	apps := previewApps(d)
	p.on.Store(len(apps) > 0)
	if len(apps) == 0 {
		moved := p.sig != ""
		p.sig, p.loads = "", nil
		p.publish(nil, p.keepData)
		return d, moved
	}
	heads, known := a.previewHeads(ctx, d, apps)
	merged := *d
	merged.Workloads = slices.Clone(d.Workloads)
	prodHosts := hostsOf(d)
	var list []Preview
	var sig []string
	keep := map[string]bool{}
	counts := map[string]int{}  // previews running, by app: newest pushes first
	unread := map[string]bool{} // heads that could not be fetched
	for _, h := range heads {
		pv := Preview{Slug: h.slug, PullRequest: h.number, Branch: h.branch, Author: h.author, Commit: h.sha, PullURL: h.pullURL, PushedAt: h.pushed, Workloads: []string{}}
		ws, why := a.previewWorkloads(ctx, d, apps, h, prodHosts, counts)
		if l := p.loads[h.slug]; l.d == nil && l.err != "" && l.fetchFailed {
			unread[h.slug] = true
		}
		switch {
		case why != "":
			pv.State, pv.Reason = firstWord(why), why
		case len(ws) == 0:
			continue // the head changes none of the previewed apps' workloads
		default:
			pv.State = "deploying"
			for _, w := range ws {
				merged.Workloads = append(merged.Workloads, w)
				pv.Workloads = append(pv.Workloads, w.ID())
				if w.Route != nil && pv.URL == "" {
					pv.URL = "http://" + w.Route.Hosts[0] + "/"
				}
				keep[w.ID()] = d.PreviewsFor(w.App).KeepData
				sig = append(sig, w.ID()+"="+h.sha)
			}
		}
		list = append(list, pv)
	}
	sort.Slice(merged.Workloads, func(i, j int) bool { return merged.Workloads[i].ID() < merged.Workloads[j].ID() })
	// Nothing is torn down on missing data: a preview whose head could not
	// be listed or fetched keeps running as it is.
	for id := range rows {
		_, slug, ok := strings.Cut(id, "@")
		if ok && (!known || unread[slug]) && !slices.ContainsFunc(merged.Workloads, func(w *sources.Workload) bool { return w.ID() == id }) {
			if merged.Kept == nil {
				merged.Kept = map[string]bool{}
			}
			merged.Kept[id] = true
		}
	}
	for id, k := range p.keepData {
		if _, still := keep[id]; !still {
			keep[id] = k // a preview being torn down keeps its setting
		}
	}
	p.publish(list, keep)
	s := strings.Join(sig, ",")
	moved := s != p.sig
	p.sig = s
	return &merged, moved
}

// previewApps are the apps with preview settings, by name.
func previewApps(d *gitops.Desired) map[string]*gitops.Previews {
	out := map[string]*gitops.Previews{}
	add := func(app string) {
		if p := d.PreviewsFor(app); p != nil {
			out[app] = p
		}
	}
	for _, w := range d.Workloads {
		add(w.App)
	}
	for _, w := range d.Elsewhere {
		add(w.App)
	}
	return out
}

// previewHeads lists the heads settings ask for, newest push first: open
// pull requests (through the forge) and matching branches. A listing that
// fails keeps the last good one: nothing is torn down on missing data.
func (a *Agent) previewHeads(ctx context.Context, d *gitops.Desired, apps map[string]*gitops.Previews) ([]previewHead, bool) {
	p := &a.previews
	wantPulls, wantBranches := false, false
	for _, s := range apps {
		wantPulls = wantPulls || s.PullRequests
		wantBranches = wantBranches || len(s.Branches) > 0
	}
	repo, ok := a.repo.(previewRepo)
	if !ok {
		return nil, true
	}
	if a.now().After(p.nextList) {
		var failed error
		lctx, cancel := context.WithTimeout(ctx, a.opts.Timeouts.Forge)
		if wantPulls && a.opts.Pulls != nil {
			if pulls, err := a.opts.Pulls.OpenPulls(lctx, a.repo.Branch()); err == nil {
				p.pulls = pulls
			} else {
				failed = err
			}
		}
		if wantBranches {
			if heads, err := repo.Heads(lctx); err == nil {
				p.heads = heads
			} else {
				failed = err
			}
		}
		cancel()
		if failed == nil {
			p.listed = true
		}
		if failed != nil {
			p.failures++
			p.nextList = a.now().Add(backoff(p.failures, 30*time.Second, 5*time.Minute))
			a.log.Warn("listing preview heads failed; previews stay as they are", "error", failed, "retry_in", p.nextList.Sub(a.now()).Round(time.Second))
		} else {
			p.failures = 0
		}
	}
	var out []previewHead
	seen := map[string]bool{}
	for _, pr := range p.pulls {
		h := previewHead{slug: fmt.Sprintf("pr-%d", pr.Number), ref: pr.Ref, sha: pr.HeadSHA, branch: pr.Branch, author: pr.Author,
			pullURL: pr.URL, number: pr.Number, fork: pr.Fork, pushed: pr.Created}
		seen[h.slug], seen["branch:"+pr.Branch] = true, !pr.Fork
		out = append(out, h)
	}
	for _, branch := range slices.Sorted(maps.Keys(p.heads)) {
		slug := gitops.Slug(branch)
		if branch == a.repo.Branch() || slug == "" || seen[slug] || seen["branch:"+branch] || !anyBranch(apps, branch) {
			continue
		}
		seen[slug] = true
		out = append(out, previewHead{slug: slug, ref: "refs/heads/" + branch, sha: p.heads[branch], branch: branch})
	}
	for i := range out {
		if t := repo.CommitTime(out[i].sha); !t.IsZero() {
			out[i].pushed = t
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].pushed.After(out[j].pushed) })
	return out, p.listed
}

func anyBranch(apps map[string]*gitops.Previews, branch string) bool {
	for _, s := range apps {
		if s.MatchBranch(branch) {
			return true
		}
	}
	return false
}

// load fetches and loads a head (once per commit), under the watched
// branch's berth.yaml and the operator's policy.
func (a *Agent) loadHead(ctx context.Context, d *gitops.Desired, h previewHead) previewLoad {
	p := &a.previews
	if l, ok := p.loads[h.slug]; ok && l.sha == h.sha {
		return l
	}
	repo := a.repo.(previewRepo)
	gctx, cancel := context.WithTimeout(ctx, a.opts.Timeouts.Git)
	defer cancel()
	sha, err := repo.FetchHead(gctx, h.ref, h.slug)
	if err == nil && sha != h.sha && h.number == 0 {
		h.sha = sha
	}
	dir := filepath.Join(a.previewDir(), h.slug)
	if err == nil {
		err = repo.Export(sha, dir)
	}
	var l previewLoad
	l.fetchFailed = err != nil && !errors.As(err, new(*gitops.UnverifiedError))
	if err == nil {
		rc := d.Repo
		l.d, err = gitops.LoadWith(dir, a.opts.Path, gitops.LoadOptions{Policy: a.opts.Policy, Repo: &rc})
	}
	l.sha = h.sha
	if err != nil {
		if old, ok := p.loads[h.slug]; ok && old.d != nil {
			a.log.Warn("fetching a preview head failed; the preview stays as it was", "preview", h.slug, "error", err)
			return old
		}
		l.err = "refused: " + a.opts.Redactor.Redact(err.Error())
		if uv := (*gitops.UnverifiedError)(nil); errors.As(err, &uv) {
			l.err = fmt.Sprintf("refused: the head is not verified with --trusted-signers: %s", uv.Signature.Reason)
		}
	}
	if p.loads == nil {
		p.loads = map[string]previewLoad{}
	}
	p.loads[h.slug] = l
	return l
}

// previewWorkloads are a head's preview workloads across the apps with
// settings, or why there are none.
func (a *Agent) previewWorkloads(ctx context.Context, d *gitops.Desired, apps map[string]*gitops.Previews, h previewHead, prodHosts map[string]bool, counts map[string]int) ([]*sources.Workload, string) {
	if h.fork && !a.opts.Policy.Allows(policy.ForkPreviews) {
		return nil, "refused: a pull request from a fork needs --allow fork-previews"
	}
	l := a.loadHead(ctx, d, h)
	if l.err != "" {
		return nil, l.err
	}
	if len(l.d.Errors) > 0 {
		return nil, "invalid: " + l.d.Errors[0].Error()
	}
	base := byID(d.Workloads)
	for id, w := range d.Elsewhere {
		base[id] = w
	}
	var out []*sources.Workload
	touched := map[string]bool{}
	for _, inv := range l.d.Invalid {
		if s := apps[appOf(inv.ID)]; s != nil && (base[inv.ID] == nil || chosen(s, nameOf(inv.ID), true)) {
			return nil, "invalid: " + inv.Err().Error()
		}
	}
	for _, w := range l.d.Workloads {
		s := apps[w.App]
		if s == nil || w.Job != nil || !chosen(s, w.Name, changed(base[w.ID()], w)) {
			continue
		}
		switch {
		case s.TTL > 0 && a.now().Sub(h.pushed) > s.TTL.Std():
			return nil, fmt.Sprintf("expired: its last push is older than the ttl (%s)", s.TTL.Std())
		case counts[w.App] >= s.Limit():
			return nil, fmt.Sprintf("waiting: at most %d previews of %s run at once (max), newer pushes first", s.Limit(), w.App)
		}
		touched[w.App] = true
		pw, why := a.previewOf(d, l.d, w, h, s, prodHosts)
		if why != "" {
			return nil, why
		}
		if pw.Placement.Places(a.opts.Name, a.opts.Labels) {
			out = append(out, pw)
		}
	}
	for app := range touched {
		counts[app]++
	}
	return out, ""
}

func appOf(id string) string  { a, _, _ := strings.Cut(id, "/"); return a }
func nameOf(id string) string { _, n, _ := strings.Cut(id, "/"); return n }

// chosen reports whether a workload of a head comes along: the names the
// settings list, else the ones the change touches.
func chosen(s *gitops.Previews, name string, changed bool) bool {
	if len(s.Workloads) > 0 {
		return slices.Contains(s.Workloads, name)
	}
	return changed
}

// changed reports whether a head's workload differs from the watched
// branch's (a new one does).
func changed(base, head *sources.Workload) bool {
	if base == nil {
		return true
	}
	strip := func(w *sources.Workload) string {
		c := *w
		c.ContentHashes = maps.Clone(w.ContentHashes)
		delete(c.ContentHashes, gitops.SecretsContent)
		return gitops.Hash(&c)
	}
	return strip(base) != strip(head)
}
