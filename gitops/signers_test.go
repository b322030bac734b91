package gitops_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/testkit/gitserver"
)

func writeSigners(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "trusted_signers")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

func loadSigners(t *testing.T, text string) *gitops.Signers {
	t.Helper()
	s, err := gitops.LoadSigners(writeSigners(t, text))
	require.NoError(t, err)
	return s
}

func checkCommit(t *testing.T, s *gitops.Signers, dir, sha string) gitops.Signature {
	t.Helper()
	repo, err := git.PlainOpen(dir)
	require.NoError(t, err)
	c, err := repo.CommitObject(plumbing.NewHash(sha))
	require.NoError(t, err)
	return s.Check(c)
}

func TestSignatureCheck(t *testing.T) {
	srv := gitserver.Start(t)
	src := srv.NewRepo(t, "config")
	alice := gitserver.NewSSHSigner(t, "alice@example.com")
	mallory := gitserver.NewSSHSigner(t, "mallory@example.com")
	carol := gitserver.NewPGPSigner(t, "Carol Ops", "carol@example.com")

	bySSH := src.Write("apps/a/w.yaml", okImage).PushSigned("by alice", alice)
	byOther := src.Write("apps/a/x.yaml", okImage).PushSigned("by mallory", mallory)
	byPGP := src.Write("apps/a/y.yaml", okImage).PushSigned("by carol", carol)
	unsigned := src.Write("apps/a/z.yaml", okImage).Push("unsigned")

	trusted := loadSigners(t, "# ops team\n"+alice.Trusted+"\n"+carol.Trusted)
	for _, tc := range []struct {
		name, sha, format, signer, reason string
	}{
		{"trusted ssh key", bySSH, "ssh", "alice@example.com", ""},
		{"unknown ssh key", byOther, "ssh", "", "is not in the trusted signers"},
		{"trusted pgp key", byPGP, "pgp", "Carol Ops <carol@example.com>", ""},
		{"unsigned", unsigned, "", "", "not signed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sig := checkCommit(t, trusted, src.Dir, tc.sha)
			assert.Equal(t, tc.sha, sig.Commit)
			assert.Equal(t, tc.format, sig.Format)
			assert.Equal(t, tc.reason == "", sig.Verified, sig.Reason)
			assert.Equal(t, tc.signer, sig.Signer)
			if tc.reason != "" {
				assert.Contains(t, sig.Reason, tc.reason)
			}
		})
	}

	sshOnly := loadSigners(t, alice.Trusted)
	sig := checkCommit(t, sshOnly, src.Dir, byPGP)
	assert.False(t, sig.Verified)
	assert.Contains(t, sig.Reason, "no PGP key is trusted")

	// A commit whose content differs from what was signed fails, even
	// with the signature block copied over.
	repo, err := git.PlainOpen(src.Dir)
	require.NoError(t, err)
	c, err := repo.CommitObject(plumbing.NewHash(bySSH))
	require.NoError(t, err)
	c.Message = "by alice, honestly\n"
	sig = trusted.Check(c)
	assert.False(t, sig.Verified)
	assert.Contains(t, sig.Reason, "bad SSH signature")

	// A key past its valid-before date no longer signs.
	expired := strings.Replace(alice.Trusted, "alice@example.com ", `alice@example.com valid-before="20000101Z" `, 1)
	sig = checkCommit(t, loadSigners(t, expired), src.Dir, bySSH)
	assert.False(t, sig.Verified)
	assert.Contains(t, sig.Reason, "was not valid at the commit time")
	limited := strings.Replace(alice.Trusted, "alice@example.com ", `alice@example.com namespaces="git",valid-after="20000101" `, 1)
	assert.True(t, checkCommit(t, loadSigners(t, limited), src.Dir, bySSH).Verified)
}

func TestLoadSignersErrors(t *testing.T) {
	alice := gitserver.NewSSHSigner(t, "alice@example.com")
	key := strings.TrimPrefix(strings.TrimSpace(alice.Trusted), "alice@example.com ")
	for _, tc := range []struct{ name, text, want string }{
		{"empty", "# nobody\n", "no keys"},
		{"no key", "alice@example.com\n", ":1: allowed signer \"alice@example.com\": no SSH public key"},
		{"garbage key", "\nbob ssh-ed25519 AAAAnotakey\n", ":2: allowed signer \"bob\""},
		{"wrong namespace", `alice namespaces="file" ` + key, `namespaces="file" does not include "git"`},
		{"cert authority", "alice cert-authority " + key, `option "cert-authority" is not supported`},
		{"bad time", `alice valid-after="yesterday" ` + key, `time "yesterday"`},
		{"open pgp block", "-----BEGIN PGP PUBLIC KEY BLOCK-----\nabc\n", "has no -----END PGP PUBLIC KEY BLOCK----- line"},
		{"bad pgp block", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nabc\n-----END PGP PUBLIC KEY BLOCK-----\n", ":4: PGP public key block"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeSigners(t, tc.text)
			_, err := gitops.LoadSigners(path)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			if tc.name != "empty" && tc.name != "open pgp block" {
				assert.Contains(t, err.Error(), path+":")
			}
		})
	}
	_, err := gitops.LoadSigners("/nonexistent/signers")
	assert.ErrorContains(t, err, "reading trusted signers")
}

func TestPullKeepsLastVerifiedCommit(t *testing.T) {
	srv := gitserver.Start(t)
	src := srv.NewRepo(t, "config")
	alice := gitserver.NewSSHSigner(t, "alice@example.com")
	signers := loadSigners(t, alice.Trusted)
	pull := func(dir string) (string, error) {
		repo, err := gitops.NewRepo(src.URL, "main", dir, gitops.Credentials{})
		require.NoError(t, err)
		repo.Signers = signers
		return repo.Pull(context.Background())
	}

	// A first clone of an unsigned tip has nothing verified to run.
	src.Write("apps/a/w.yaml", okImage).Push("unsigned start")
	dir := filepath.Join(t.TempDir(), "repo")
	sha, err := pull(dir)
	require.ErrorIs(t, err, gitops.ErrUnverified)
	assert.Empty(t, sha)
	assert.Contains(t, err.Error(), "no verified commit was checked out before")

	good := src.Write("apps/a/v.yaml", okImage).PushSigned("signed", alice)
	sha, err = pull(dir)
	require.NoError(t, err)
	assert.Equal(t, good, sha)

	// An unsigned push is fetched but never checked out.
	bad := src.Write("apps/a/evil.yaml", okImage).Push("unsigned")
	sha, err = pull(dir)
	var uv *gitops.UnverifiedError
	require.ErrorAs(t, err, &uv)
	assert.Equal(t, good, sha)
	assert.Equal(t, good, uv.Kept)
	assert.Equal(t, bad, uv.Signature.Commit)
	assert.Contains(t, err.Error(), "staying at "+good[:7])
	assert.NoFileExists(t, filepath.Join(dir, "apps/a/evil.yaml"))

	next := src.Remove("apps/a/evil.yaml").PushSigned("signed again", alice)
	sha, err = pull(dir)
	require.NoError(t, err)
	assert.Equal(t, next, sha)

	// Turning verification on over a clone made without it does not trust
	// what that clone holds.
	plain := filepath.Join(t.TempDir(), "plain")
	src.Push("unsigned again")
	repo, err := gitops.NewRepo(src.URL, "main", plain, gitops.Credentials{})
	require.NoError(t, err)
	_, err = repo.Pull(context.Background())
	require.NoError(t, err)
	sha, err = pull(plain)
	require.ErrorIs(t, err, gitops.ErrUnverified)
	assert.Empty(t, sha)
}
