package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/forge"
)

// Preview event kinds.
const (
	KindPreviewCreated EventKind = "preview.created"
	KindPreviewUpdated EventKind = "preview.updated"
	KindPreviewFailed  EventKind = "preview.failed"
	KindPreviewRemoved EventKind = "preview.removed"
)

// PreviewStatusContext is the commit-status context of previews.
const PreviewStatusContext = "berth/preview"

// Previews lists the previews: each pull request or branch head that has
// one, is waiting for one, or was refused one.
func (a *Agent) Previews() []Preview {
	a.previews.mu.Lock()
	defer a.previews.mu.Unlock()
	return slices.Clone(a.previews.list)
}

// PreviewsOn says whether the watched branch's settings ask for previews
// (as of the last tick).
func (a *Agent) PreviewsOn() bool { return a.previews.on.Load() }

// reportPreviews brings each preview's state in line with its rows and
// says so once per change: an event, and a commit status on its head
// that links the preview. A preview that is gone (its pull request
// closed or merged, its TTL passed, the limit reached) gets a last
// status, and its fetched files go.
func (a *Agent) reportPreviews(ctx context.Context) {
	p := &a.previews
	list := a.Previews()
	if len(list) == 0 && len(p.reported) == 0 {
		return
	}
	defer func() {
		p.mu.Lock()
		p.list = list // the states as reported
		p.mu.Unlock()
	}()
	rows, err := a.store.ListRuntime(ctx)
	if err != nil {
		a.log.Warn("reading preview state failed", "error", err)
		return
	}
	byID := map[string]store.Runtime{}
	for _, r := range rows {
		byID[r.WorkloadID] = r
	}
	if p.reported == nil {
		p.reported, p.up = map[string]string{}, map[string]string{}
	}
	current := map[string]bool{}
	for i := range list {
		pv := &list[i]
		current[pv.Slug] = true
		if len(pv.Workloads) > 0 {
			pv.State, pv.Reason = previewState(pv.Workloads, byID)
		}
		key := pv.Commit + " " + pv.State + " " + pv.Reason
		if p.reported[pv.Slug] == key {
			continue
		}
		p.reported[pv.Slug] = key
		a.previewChanged(ctx, pv)
	}
	for slug, last := range p.reported {
		if current[slug] {
			continue
		}
		delete(p.reported, slug)
		delete(p.up, slug)
		delete(p.loads, slug)
		commit, _, _ := strings.Cut(last, " ")
		a.events.add(ctx, store.Event{Kind: string(KindPreviewRemoved), Severity: store.SeverityInfo, Commit: commit,
			Message: fmt.Sprintf("preview %s torn down: its workloads, routes and (unless keep_data) volumes are removed", slug)})
		a.postPreviewStatus(ctx, commit, forge.Success, "preview torn down", "")
		if repo, ok := a.repo.(previewRepo); ok {
			repo.DropHead(slug)
		}
		_ = os.RemoveAll(filepath.Join(a.previewDir(), slug))
	}
}

// previewState sums up a preview's rows.
func previewState(ids []string, rows map[string]store.Runtime) (string, string) {
	state := "running"
	for _, id := range ids {
		r, ok := rows[id]
		switch {
		case !ok || r.Status == store.StatusDeploying:
			state = "deploying"
		case r.FailedHash != "" || r.LastDeploy == store.DeployFailed || r.LastDeploy == store.DeployRolledBack:
			return "failed", id + ": " + r.Message
		case r.Status != store.StatusRunning:
			return "failed", id + " is " + r.Status
		}
	}
	return state, ""
}

// previewChanged reports a preview's new state.
func (a *Agent) previewChanged(ctx context.Context, pv *Preview) {
	p := &a.previews
	ev := store.Event{Commit: pv.Commit, Severity: store.SeverityInfo}
	switch pv.State {
	case "running":
		ev.Kind, ev.Message = string(KindPreviewCreated), fmt.Sprintf("preview %s is up at %s (%s)", pv.Slug, pv.URL, strings.Join(pv.Workloads, ", "))
		if p.up[pv.Slug] != "" {
			ev.Kind = string(KindPreviewUpdated)
			ev.Message = fmt.Sprintf("preview %s updated to %s at %s", pv.Slug, shortSHA(pv.Commit), pv.URL)
		}
		p.up[pv.Slug] = pv.Commit
		a.postPreviewStatus(ctx, pv.Commit, forge.Success, "preview is up: "+strings.Join(pv.Workloads, ", "), pv.URL)
	case "deploying", "waiting":
		desc := "preview " + pv.State
		if pv.Reason != "" {
			desc = pv.Reason
		}
		a.postPreviewStatus(ctx, pv.Commit, forge.Pending, desc, "")
		if pv.State == "waiting" {
			ev.Kind, ev.Message = string(KindPreviewFailed), fmt.Sprintf("preview %s not started: %s", pv.Slug, pv.Reason)
			ev.Severity = store.SeverityWarn
		}
	case "expired":
		delete(p.up, pv.Slug)
		ev.Kind, ev.Message = string(KindPreviewRemoved), fmt.Sprintf("preview %s torn down: %s", pv.Slug, pv.Reason)
		a.postPreviewStatus(ctx, pv.Commit, forge.Success, "preview torn down: "+pv.Reason, "")
	default:
		ev.Kind, ev.Severity = string(KindPreviewFailed), store.SeverityWarn
		ev.Message = fmt.Sprintf("preview %s %s: %s", pv.Slug, pv.State, pv.Reason)
		a.postPreviewStatus(ctx, pv.Commit, forge.Failure, "preview "+pv.State+": "+pv.Reason, "")
	}
	if ev.Kind != "" {
		a.events.add(ctx, ev)
	}
}

// postPreviewStatus posts a preview's commit status (within the forge
// timeout; a failure is logged, never fatal).
func (a *Agent) postPreviewStatus(ctx context.Context, sha, state, desc, url string) {
	if a.opts.Forge == nil || sha == "" {
		return
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.opts.Timeouts.Forge)
	defer cancel()
	s := forge.Status{SHA: sha, Context: PreviewStatusContext, State: state, Description: truncate(a.opts.Redactor.Redact(desc), 140), URL: url}
	if err := a.opts.Forge.Post(fctx, s); err != nil {
		a.log.Warn("posting a preview status failed", "commit", shortSHA(sha), "error", err)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// previewVolumesGo reports whether a pruned workload is a preview whose
// volumes go with it (keep_data unset).
func (a *Agent) previewVolumesGo(id string) bool {
	if !strings.Contains(id, "@") {
		return false
	}
	a.previews.mu.Lock()
	defer a.previews.mu.Unlock()
	return !a.previews.keepData[id]
}
