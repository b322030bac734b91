package gitops_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/testkit/gitserver"
)

func report(agent, state string) gitops.StatusReport {
	return gitops.StatusReport{Agent: agent, Commit: "abc1234def", Message: "berth(" + agent + "): shop/web " + state,
		Workloads: map[string]gitops.WorkloadStatus{"shop/web": {State: state, Strategy: "blue-green (default)", UpdatedAt: time.Unix(0, 0).UTC()}}}
}

// statusClone fetches the status branch into a fresh clone for checks.
func statusClone(t *testing.T, url string) string {
	t.Helper()
	dir := t.TempDir()
	gitserver.Git(t, "", "clone", "-q", "--branch", "berth/status", url, dir)
	return dir
}

func TestStatusBranchManyAgentsNeverLoseEachOther(t *testing.T) {
	src := gitserver.Start(t).NewRepo(t, "config")
	mainSHA := src.Write("apps/shop/web.yaml", okImage).Push("config")

	// Two agents race, several times each.
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for _, agent := range []string{"host-a", "host-b"} {
		w, err := gitops.NewStatusWriter(src.URL, "berth/status", agent, filepath.Join(t.TempDir(), "status.git"), gitops.Credentials{})
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, state := range []string{"deploying", "deployed", "failed", "deployed"} {
				r := report(agent, state)
				r.Commit = fmt.Sprint(i)
				errs <- w.Push(context.Background(), r)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	dir := statusClone(t, src.URL)
	for _, agent := range []string{"host-a", "host-b"} {
		r, err := gitops.ReadStatus(dir, "HEAD", agent)
		require.NoError(t, err, agent)
		assert.Equal(t, "deployed", r.Workloads["shop/web"].State)
		assert.FileExists(t, filepath.Join(dir, agent, "badges", "shop--web.svg"))
	}
	assert.Equal(t, mainSHA, strings.TrimSpace(gitserver.Git(t, src.Dir, "ls-remote", "origin", "refs/heads/main")[:40]), "the watched branch is untouched")

	// Unexpected files and a force-pushed branch: kept, and rebuilt on.
	other := t.TempDir()
	gitserver.Git(t, "", "clone", "-q", "--branch", "berth/status", src.URL, other)
	gitserver.Git(t, other, "checkout", "-q", "--orphan", "fresh")
	gitserver.Git(t, other, "rm", "-rqf", ".")
	gitserver.Write(t, filepath.Join(other, "NOTES.md"), "someone's notes\n")
	gitserver.Git(t, other, "add", "-A")
	gitserver.Git(t, other, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "-qm", "rewrite")
	gitserver.Git(t, other, "push", "-qf", "origin", "HEAD:berth/status")
	w, err := gitops.NewStatusWriter(src.URL, "berth/status", "host-a", filepath.Join(t.TempDir(), "status.git"), gitops.Credentials{})
	require.NoError(t, err)
	require.NoError(t, w.Push(context.Background(), report("host-a", "missing")))
	dir = statusClone(t, src.URL)
	assert.FileExists(t, filepath.Join(dir, "NOTES.md"))
	r, err := gitops.ReadStatus(dir, "HEAD", "host-a")
	require.NoError(t, err)
	assert.Equal(t, "missing", r.Workloads["shop/web"].State)

	// The same report again makes no commit.
	before := gitserver.Git(t, dir, "rev-parse", "HEAD")
	require.NoError(t, w.Push(context.Background(), report("host-a", "missing")))
	dir = statusClone(t, src.URL)
	assert.Equal(t, before, gitserver.Git(t, dir, "rev-parse", "HEAD"))
}
