package gitops_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/testkit/gitserver"
)

func TestPullOverSmartHTTP(t *testing.T) {
	const token = "s3cr3t-token-canary"
	srv := gitserver.Start(t, gitserver.WithPassword(token))
	src := srv.NewRepo(t, "config")
	first := src.Write("apps/a/w.yaml", okImage).Push("first")

	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(token+"\n"), 0o600))
	dir := filepath.Join(t.TempDir(), "repo")
	repo, err := gitops.NewRepo(src.URL, "main", dir, gitops.Credentials{PasswordFile: tokenFile})
	require.NoError(t, err)

	sha, err := repo.Pull(context.Background())
	require.NoError(t, err)
	assert.Equal(t, first, sha)
	assert.FileExists(t, filepath.Join(dir, "apps/a/w.yaml"))

	second := src.Write("apps/a/x.yaml", okImage).Push("second")
	sha, err = repo.Pull(context.Background())
	require.NoError(t, err)
	assert.Equal(t, second, sha)
	assert.FileExists(t, filepath.Join(dir, "apps/a/x.yaml"))

	sha, err = repo.Pull(context.Background())
	require.NoError(t, err)
	assert.Equal(t, second, sha, "an idle pull stays put")

	// Wrong credentials: a clear error that never echoes the secret.
	wrong := filepath.Join(t.TempDir(), "wrong")
	require.NoError(t, os.WriteFile(wrong, []byte("nope"), 0o600))
	bad, err := gitops.NewRepo(src.URL, "main", filepath.Join(t.TempDir(), "r"), gitops.Credentials{PasswordFile: wrong})
	require.NoError(t, err)
	_, err = bad.Pull(context.Background())
	require.Error(t, err)
	assert.NotContains(t, err.Error(), token)

	// A missing token file is an error naming the flag's purpose.
	none, err := gitops.NewRepo(src.URL, "main", filepath.Join(t.TempDir(), "r"), gitops.Credentials{PasswordFile: "/nonexistent/token"})
	require.NoError(t, err)
	_, err = none.Pull(context.Background())
	require.ErrorContains(t, err, "git password file")
}

func TestPullRecoversBrokenClone(t *testing.T) {
	srv := gitserver.Start(t)
	a := srv.NewRepo(t, "a")
	shaA := a.Write("apps/a/w.yaml", okImage).Push("a")
	b := srv.NewRepo(t, "b")
	shaB := b.Write("apps/b/w.yaml", okImage).Push("b")
	dir := filepath.Join(t.TempDir(), "repo")

	tests := []struct {
		name   string
		url    string
		want   string
		break_ func()
	}{
		{name: "fresh", url: a.URL, want: shaA},
		{name: "corrupt objects", url: a.URL, want: shaA, break_: func() {
			require.NoError(t, os.RemoveAll(filepath.Join(dir, ".git", "objects")))
			require.NoError(t, os.WriteFile(filepath.Join(dir, ".git", "HEAD"), []byte("garbage"), 0o644))
		}},
		{name: "not a repo", url: a.URL, want: shaA, break_: func() {
			require.NoError(t, os.RemoveAll(filepath.Join(dir, ".git")))
		}},
		{name: "other url", url: b.URL, want: shaB},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.break_ != nil {
				tc.break_()
			}
			repo, err := gitops.NewRepo(tc.url, "main", dir, gitops.Credentials{})
			require.NoError(t, err)
			sha, err := repo.Pull(context.Background())
			require.NoError(t, err)
			assert.Equal(t, tc.want, sha)
		})
	}
}

func TestPullLocalPathAndFileURL(t *testing.T) {
	srv := gitserver.Start(t)
	src := srv.NewRepo(t, "config")
	sha := src.Write("apps/a/w.yaml", okImage).Push("first")
	for _, url := range []string{src.Dir, "file://" + src.Dir} {
		repo, err := gitops.NewRepo(url, "main", filepath.Join(t.TempDir(), "repo"), gitops.Credentials{})
		require.NoError(t, err)
		got, err := repo.Pull(context.Background())
		require.NoError(t, err, url)
		assert.Equal(t, sha, got, url)
	}
}

func TestPullErrors(t *testing.T) {
	srv := gitserver.Start(t)
	src := srv.NewRepo(t, "config")
	src.Write("apps/a/w.yaml", okImage).Push("first")

	repo, err := gitops.NewRepo(src.URL, "release", filepath.Join(t.TempDir(), "repo"), gitops.Credentials{})
	require.NoError(t, err)
	_, err = repo.Pull(context.Background())
	require.ErrorIs(t, err, gitops.ErrBranchNotFound)
	assert.Contains(t, err.Error(), `"release"`)

	repo, err = gitops.NewRepo("http://127.0.0.1:1/config.git", "main", filepath.Join(t.TempDir(), "repo"), gitops.Credentials{})
	require.NoError(t, err)
	_, err = repo.Pull(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "127.0.0.1:1")

	assert.Equal(t, "https://bot:redacted@git.example.com/x.git", gitops.RedactURL("https://bot:hunter2@git.example.com/x.git"))
}

// TestTornCheckoutIsDoneAgain: go-git moves HEAD before it writes the
// files, so a crash or a full disk in the middle of a checkout leaves
// HEAD at the new commit over the old (or half-written) files. The next
// pull must not read that as the new commit: the checkout marker still
// names the old one, so the tree is checked out again.
func TestTornCheckoutIsDoneAgain(t *testing.T) {
	srv := gitserver.Start(t)
	src := srv.NewRepo(t, "config")
	src.Write("apps/a/w.yaml", okImage).Push("one")
	dir := filepath.Join(t.TempDir(), "repo")
	repo, err := gitops.NewRepo(src.URL, "main", dir, gitops.Credentials{})
	require.NoError(t, err)
	_, err = repo.Pull(context.Background())
	require.NoError(t, err)

	two := src.Write("apps/a/w.yaml", okImage+"port: 8080\n").Write("apps/a/x.yaml", okImage).Push("two")
	// The torn state: the branch (and HEAD) at "two", the files of "one",
	// one of them half gone.
	gitserver.Git(t, dir, "fetch", "-q", "origin", "main")
	gitserver.Git(t, dir, "update-ref", "refs/heads/main", two)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "apps/a/w.yaml"), []byte("sou"), 0o644))

	sha, err := repo.Pull(context.Background())
	require.NoError(t, err)
	assert.Equal(t, two, sha)
	b, err := os.ReadFile(filepath.Join(dir, "apps/a/w.yaml"))
	require.NoError(t, err)
	assert.Equal(t, okImage+"port: 8080\n", string(b), "the file is the new commit's, whole")
	assert.FileExists(t, filepath.Join(dir, "apps/a/x.yaml"))

	// An untracked leftover of a torn checkout is cleaned too.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "apps/a/stray.yaml"), []byte(okImage), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".git", "berth-checkout"), []byte("0000\n"), 0o644))
	_, err = repo.Pull(context.Background())
	require.NoError(t, err)
	assert.NoFileExists(t, filepath.Join(dir, "apps/a/stray.yaml"))
}
