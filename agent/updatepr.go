package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/update"
)

// planOf is `berth plan`'s markdown for the loaded config with one file
// replaced by edited (relative to the repo root): the config folder is
// copied (without .git), the file written, and both sides compared.
func (a *Agent) planOf(d *gitops.Desired, file string, edited []byte) (string, error) {
	if edited == nil {
		return "", errors.New("no edit to plan")
	}
	tmp, err := os.MkdirTemp("", "berth-plan-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	root := a.configRoot()
	err = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case e.IsDir() && e.Name() == ".git":
			return filepath.SkipDir
		case e.IsDir():
			return os.MkdirAll(filepath.Join(tmp, rel), 0o755)
		case !e.Type().IsRegular():
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, _ := e.Info()
		return os.WriteFile(filepath.Join(tmp, rel), b, info.Mode().Perm())
	})
	if err != nil {
		return "", err
	}
	rel := strings.TrimPrefix(path.Clean(file), path.Clean(a.opts.Path)+"/")
	if err := os.WriteFile(filepath.Join(tmp, filepath.FromSlash(rel)), edited, 0o644); err != nil {
		return "", err
	}
	head, err := gitops.LoadWith(tmp, "", gitops.LoadOptions{Policy: a.opts.Policy})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	a.imgUpdates.mu.Lock()
	base := a.imgUpdates.base
	a.imgUpdates.mu.Unlock()
	if err := gitops.NewPlan(d, head, base, "proposed").WriteMarkdown(&b); err != nil {
		return "", err
	}
	return b.String(), nil
}

// readConfigFile reads a file of the config repo's clone (the commit the
// tick loaded); file is relative to the repo root.
func (a *Agent) readConfigFile(file string) ([]byte, error) {
	return os.ReadFile(filepath.Join(a.repo.Dir(), filepath.FromSlash(file)))
}

// registryLogin is berth.yaml's login for a registry host, as the last
// load resolved it.
func (a *Agent) registryLogin(host string) (update.Login, bool) {
	a.loginsMu.Lock()
	defer a.loginsMu.Unlock()
	l, ok := a.logins[host]
	return l, ok
}

// openPullRequest opens (or updates) the pull request of an update branch
// with `berth plan`'s view of the change as its body.
func (a *Agent) openPullRequest(ctx context.Context, d *gitops.Desired, w *sources.Workload, pu *PendingUpdate, branch, msg, file string, edited []byte) error {
	if a.opts.PullRequests == nil {
		return errors.New("push: pull-request needs a forge: start the agent with --commit-status KIND, --forge-url and --forge-token-file")
	}
	title := fmt.Sprintf("berth: update %s to %s", w.ID(), pu.Candidate)
	body := msg + "\n"
	if plan, err := a.planOf(d, file, edited); err == nil {
		body += plan
	} else {
		a.log.Warn("planning the update failed", "workload", w.ID(), "error", err)
		body += fmt.Sprintf("| workload | image now | proposed | policy |\n|---|---|---|---|\n| `%s` | `%s` | `%s` | %s |\n", w.ID(), pu.Current, pu.Candidate, pu.Policy)
	}
	url, opened, err := a.opts.PullRequests.PullRequest(ctx, branch, a.repo.Branch(), title, body)
	if err != nil {
		return fmt.Errorf("opening the pull request: %w", err)
	}
	pu.State, pu.URL = "pr_opened", url
	verb := "updated"
	if opened {
		verb = "opened"
	}
	a.events.add(ctx, store.Event{WorkloadID: w.ID(), Kind: string(KindUpdatePROpened), Severity: store.SeverityInfo,
		Message: fmt.Sprintf("pull request %s for %s: %s → %s (%s)", verb, w.ID(), pu.Current, pu.Candidate, url)})
	return nil
}
