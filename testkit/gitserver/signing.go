package gitserver

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Signer signs commits with the git CLI, as a person pushing to a config
// repo does: an SSH key (gpg.format=ssh) or a PGP key in its own keyring.
type Signer struct {
	// Trusted is the signer's entry for a --trusted-signers file.
	Trusted string
	// KeyFile is an SSH signer's private key.
	KeyFile string
	config  []string // git -c settings
	env     []string
}

// NewSSHSigner makes an ed25519 key with ssh-keygen for principal.
func NewSSHSigner(t testing.TB, principal string) *Signer {
	t.Helper()
	key := filepath.Join(t.TempDir(), "id_ed25519")
	run(t, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", principal, "-f", key)
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return &Signer{
		KeyFile: key,
		Trusted: principal + " " + strings.TrimSpace(string(pub)) + "\n",
		config:  []string{"gpg.format=ssh", "user.signingkey=" + key},
	}
}

// NewPGPSigner makes an ed25519 PGP key for "name <email>" in a keyring of
// its own (a short path: gpg-agent's socket must fit in sun_path).
func NewPGPSigner(t testing.TB, name, email string) *Signer {
	t.Helper()
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	env := []string{"GNUPGHOME=" + home}
	t.Cleanup(func() {
		_ = exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		_ = os.RemoveAll(home)
	})
	uid := name + " <" + email + ">"
	run(t, env, "gpg", "--batch", "--quiet", "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
	armored := run(t, env, "gpg", "--batch", "--armor", "--export", email)
	return &Signer{
		Trusted: armored,
		config:  []string{"gpg.format=openpgp", "user.signingkey=" + email},
		env:     env,
	}
}

// PushSigned commits everything, signed by s, and pushes to main; it
// returns the commit.
func (r *Repo) PushSigned(msg string, s *Signer) string {
	r.t.Helper()
	return r.PushSignedTo("main", msg, s)
}

// PushSignedTo commits everything, signed by s (unsigned when nil), and
// pushes HEAD to branch; it returns the commit.
func (r *Repo) PushSignedTo(branch, msg string, s *Signer) string {
	r.t.Helper()
	if s == nil {
		s = &Signer{}
	}
	Git(r.t, r.Dir, "add", "-A")
	args := []string{"-c", "user.name=Berth Test", "-c", "user.email=test@berth.invalid"}
	for _, c := range s.config {
		args = append(args, "-c", c)
	}
	if s.config != nil {
		args = append(args, "commit", "-q", "-S", "--allow-empty", "-m", msg)
	} else {
		args = append(args, "commit", "-q", "--allow-empty", "-m", msg)
	}
	run(r.t, append([]string{"GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0"}, s.env...), "git", append([]string{"-C", r.Dir}, args...)...)
	Git(r.t, r.Dir, "push", "-q", "-f", "origin", "HEAD:refs/heads/"+branch)
	return strings.TrimSpace(Git(r.t, r.Dir, "rev-parse", "HEAD"))
}

func run(t testing.TB, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr)
	}
	return string(out)
}
