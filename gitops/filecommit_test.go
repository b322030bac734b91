package gitops_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/testkit/gitserver"
)

// The agent's commits: one file edited, the rest of the tree untouched,
// signed with the agent's SSH key so --trusted-signers can name it; a
// proposal branch a human committed to is never overwritten.
func TestFileCommitterSignsAndRespectsHumanBranches(t *testing.T) {
	srv := gitserver.Start(t)
	src := srv.NewRepo(t, "config")
	src.Write("apps/a/w.yaml", okImage).Write("apps/a/other.yaml", okImage).Push("start")
	agentKey := gitserver.NewSSHSigner(t, "berth-agent@host-a")
	key, err := gitops.LoadSigningKey(agentKey.KeyFile)
	require.NoError(t, err)
	c := gitops.NewFileCommitter(src.URL, filepath.Join(t.TempDir(), "c.git"), "host-a", gitops.Credentials{})
	c.Key = key
	ctx := context.Background()
	edit := func(b []byte) ([]byte, error) { return []byte(strings.Replace(string(b), "nginx", "caddy", 1)), nil }

	sha, err := c.Commit(ctx, "main", "", "apps/a/w.yaml", "edit\n", edit)
	require.NoError(t, err)
	gitserver.Git(t, src.Dir, "pull", "-q", "--ff-only", "origin", "main")
	assert.Equal(t, "apps/a/w.yaml\n", gitserver.Git(t, src.Dir, "diff", "--name-only", "HEAD~1", "HEAD"))
	sig := checkCommit(t, loadSigners(t, agentKey.Trusted), src.Dir, sha)
	assert.True(t, sig.Verified, sig.Reason)
	assert.Equal(t, "berth-agent@host-a", sig.Signer)

	_, err = c.Commit(ctx, "main", "", "apps/a/w.yaml", "again\n", func(b []byte) ([]byte, error) { return b, nil })
	assert.ErrorIs(t, err, gitops.ErrNothingToChange)

	// A human's commit on the proposal branch stays.
	gitserver.Git(t, src.Dir, "checkout", "-q", "-b", "berth/update/a-w")
	src.Write("apps/a/w.yaml", okImage+"# by hand\n")
	gitserver.Git(t, src.Dir, "add", "-A")
	gitserver.Git(t, src.Dir, "-c", "user.name=Ann", "-c", "user.email=ann@example.com", "commit", "-q", "-m", "by hand")
	gitserver.Git(t, src.Dir, "push", "-q", "origin", "berth/update/a-w")
	_, err = c.Commit(ctx, "berth/update/a-w", "main", "apps/a/w.yaml", "edit\n", edit)
	assert.ErrorIs(t, err, gitops.ErrNotOurs)
	assert.ErrorContains(t, err, "Ann")
}
