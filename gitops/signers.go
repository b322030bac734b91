package gitops

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// Signers is the operator's list of keys trusted to sign config commits
// (--trusted-signers). The file holds SSH allowed-signers lines, as for
// `git config gpg.ssh.allowedSignersFile`, and armored PGP public key
// blocks, in any order.
type Signers struct {
	ssh []sshSigner
	pgp string // armored key ring, every block of the file
}

type sshSigner struct {
	principals  string
	key         ssh.PublicKey
	validAfter  time.Time
	validBefore time.Time
}

// Signature is what the signature check found on one commit.
type Signature struct {
	Commit   string `json:"commit"`
	Format   string `json:"format,omitempty"` // "ssh" or "pgp"
	Signer   string `json:"signer,omitempty"` // principal or PGP identity
	Verified bool   `json:"verified"`
	// Reason says why a commit is not verified.
	Reason string `json:"reason,omitempty"`
}

// String is one line for logs, events and `berth plan`.
func (s Signature) String() string {
	if s.Verified {
		return fmt.Sprintf("%s signed by %s (%s)", short(s.Commit), s.Signer, s.Format)
	}
	return fmt.Sprintf("%s is not verified: %s", short(s.Commit), s.Reason)
}

const (
	pgpBegin = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
	pgpEnd   = "-----END PGP PUBLIC KEY BLOCK-----"
	// sshNamespace is the namespace git signs commits in.
	sshNamespace = "git"
)

// LoadSigners reads a trusted-signers file. Every line that is not blank,
// a comment or part of a PGP block must be an allowed-signers entry; a bad
// one is an error naming its line, so a typo never silently trusts less
// (or more) than the operator wrote.
func LoadSigners(path string) (*Signers, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading trusted signers: %w", err)
	}
	s := &Signers{}
	var block *strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case block != nil:
			block.WriteString(line + "\n")
			if line == pgpEnd {
				if err := s.addPGP(block.String()); err != nil {
					return nil, fmt.Errorf("%s:%d: %w", path, n, err)
				}
				block = nil
			}
		case line == pgpBegin:
			block = &strings.Builder{}
			block.WriteString(line + "\n")
		case line == "" || strings.HasPrefix(line, "#"):
		default:
			sg, err := parseAllowedSigner(line)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, n, err)
			}
			s.ssh = append(s.ssh, sg)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if block != nil {
		return nil, fmt.Errorf("%s: a PGP public key block has no %s line", path, pgpEnd)
	}
	if len(s.ssh) == 0 && s.pgp == "" {
		return nil, fmt.Errorf("%s: no keys: add allowed-signers lines or PGP public key blocks", path)
	}
	return s, nil
}

func (s *Signers) addPGP(armored string) error {
	if _, err := openpgp.ReadArmoredKeyRing(strings.NewReader(armored)); err != nil {
		return fmt.Errorf("PGP public key block: %w", err)
	}
	s.pgp += armored
	return nil
}

// parseAllowedSigner reads "principals [options] keytype base64 [comment]";
// the options are written as in authorized_keys.
func parseAllowedSigner(line string) (sshSigner, error) {
	principals, rest, _ := strings.Cut(line, " ")
	sg := sshSigner{principals: principals}
	key, _, opts, _, err := ssh.ParseAuthorizedKey([]byte(strings.TrimSpace(rest)))
	if err != nil {
		return sg, fmt.Errorf("allowed signer %q: no SSH public key after the principals and options", principals)
	}
	sg.key = key
	for _, opt := range opts {
		if err := sg.option(opt); err != nil {
			return sg, fmt.Errorf("allowed signer %q: %w", principals, err)
		}
	}
	return sg, nil
}

func (sg *sshSigner) option(opt string) error {
	name, value, _ := strings.Cut(opt, "=")
	value = strings.Trim(value, `"`)
	switch strings.ToLower(name) {
	case "namespaces":
		for _, ns := range strings.Split(value, ",") {
			if ns == sshNamespace || ns == "*" {
				return nil
			}
		}
		return fmt.Errorf("namespaces=%q does not include %q: the key may not sign commits", value, sshNamespace)
	case "valid-after":
		t, err := signerTime(value)
		sg.validAfter = t
		return err
	case "valid-before":
		t, err := signerTime(value)
		sg.validBefore = t
		return err
	default:
		return fmt.Errorf("option %q is not supported (namespaces, valid-after and valid-before are)", name)
	}
}

// signerTime reads ssh-keygen's YYYYMMDD[HHMM[SS]][Z] times.
func signerTime(v string) (time.Time, error) {
	loc := time.Local
	if strings.HasSuffix(v, "Z") {
		v, loc = strings.TrimSuffix(v, "Z"), time.UTC
	}
	for _, layout := range []string{"20060102150405", "200601021504", "20060102"} {
		if len(v) == len(layout) {
			if t, err := time.ParseInLocation(layout, v, loc); err == nil {
				return t, nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("time %q is not YYYYMMDD[HHMM[SS]][Z]", v)
}

// Check verifies the signature on c. A commit is verified only when it
// carries exactly one signature, made by a key in the file, over exactly
// its content.
func (s *Signers) Check(c *object.Commit) Signature {
	sig := Signature{Commit: c.Hash.String()}
	armored := strings.TrimSpace(c.PGPSignature)
	switch {
	case armored == "":
		sig.Reason = "the commit is not signed"
	case strings.Count(armored, "-----BEGIN ") > 1:
		sig.Reason = "the commit carries more than one signature"
	case strings.HasPrefix(armored, "-----BEGIN SSH SIGNATURE-----"):
		sig.Format = "ssh"
		sig.Signer, sig.Reason = s.checkSSH(c, armored)
	case strings.HasPrefix(armored, "-----BEGIN PGP SIGNATURE-----"):
		sig.Format = "pgp"
		sig.Signer, sig.Reason = s.checkPGP(c)
	default:
		sig.Reason = "the signature is neither SSH nor PGP (X.509 signatures are not supported)"
	}
	sig.Verified = sig.Reason == ""
	return sig
}

func (s *Signers) checkSSH(c *object.Commit, armored string) (signer, reason string) {
	parsed, err := sshsig.Unarmor([]byte(armored))
	if err != nil {
		return "", "the SSH signature cannot be read: " + err.Error()
	}
	payload, err := signedPayload(c)
	if err != nil {
		return "", err.Error()
	}
	fp := ssh.FingerprintSHA256(parsed.PublicKey)
	for _, sg := range s.ssh {
		if ssh.FingerprintSHA256(sg.key) != fp {
			continue
		}
		when := c.Committer.When
		if (!sg.validAfter.IsZero() && when.Before(sg.validAfter)) || (!sg.validBefore.IsZero() && !when.Before(sg.validBefore)) {
			return "", fmt.Sprintf("key %s of %s was not valid at the commit time %s", fp, sg.principals, when.UTC().Format(time.RFC3339))
		}
		err := sshsig.Verify(bytes.NewReader(payload), parsed, sg.key, parsed.HashAlgorithm, sshNamespace)
		if err != nil {
			return "", fmt.Sprintf("bad SSH signature by %s: %v", fp, err)
		}
		return sg.principals, ""
	}
	return "", fmt.Sprintf("key %s is not in the trusted signers", fp)
}

func (s *Signers) checkPGP(c *object.Commit) (signer, reason string) {
	if s.pgp == "" {
		return "", "the commit has a PGP signature and no PGP key is trusted"
	}
	entity, err := c.Verify(s.pgp)
	if err != nil {
		return "", "PGP signature not verified: " + err.Error()
	}
	if id := entity.PrimaryIdentity(); id != nil {
		return id.Name, ""
	}
	return entity.PrimaryKey.KeyIdString(), ""
}

func signedPayload(c *object.Commit) ([]byte, error) {
	o := &plumbing.MemoryObject{}
	if err := c.EncodeWithoutSignature(o); err != nil {
		return nil, fmt.Errorf("encoding the commit: %w", err)
	}
	r, err := o.Reader()
	if err != nil {
		return nil, err
	}
	defer func() { _ = r.Close() }()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// CheckRevision checks the signature of a revision of the local clone in
// dir, as the agent would check it as the branch tip.
func (s *Signers) CheckRevision(dir, rev string) (Signature, error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return Signature{}, fmt.Errorf("opening the git repo at %s: %w", dir, err)
	}
	h, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return Signature{}, fmt.Errorf("%w: %q in %s", ErrRevisionNotFound, rev, dir)
	}
	c, err := repo.CommitObject(*h)
	if err != nil {
		return Signature{}, fmt.Errorf("%w: %q is not a commit", ErrRevisionNotFound, rev)
	}
	return s.Check(c), nil
}

// UnverifiedError is returned by Pull when the branch tip is not signed by
// a trusted key. Kept is the last verified commit, still checked out, or
// "" when there is none (nothing may be deployed).
type UnverifiedError struct {
	Signature Signature
	Kept      string
}

func (e *UnverifiedError) Error() string {
	if e.Kept == "" {
		return fmt.Sprintf("%s, and no verified commit was checked out before", e.Signature)
	}
	return fmt.Sprintf("%s; staying at %s", e.Signature, short(e.Kept))
}

// ErrUnverified matches every UnverifiedError.
var ErrUnverified = errors.New("commit not verified")

// Is makes errors.Is(err, ErrUnverified) true.
func (e *UnverifiedError) Is(target error) bool { return target == ErrUnverified }
