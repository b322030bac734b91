// Package backup turns a volume's tar stream into a snapshot only an
// identity holder can read — tar → zstd → age, encrypted to the repo's
// recipients — and back, checking that what comes back is byte for byte
// what was taken (the SHA-256 of the plaintext tar, kept in the
// manifest). Nothing is buffered whole: a volume of any size streams.
package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
)

// Sum is what a snapshot holds: the plaintext tar's size and SHA-256.
type Sum struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// ErrCorrupt: a snapshot does not decrypt, decompress or match its
// checksum; nothing of it may be restored.
var ErrCorrupt = errors.New("the snapshot is corrupt or incomplete")

// Seal writes tarball to w as age(zstd(tar)) for recipients and returns
// the plaintext's size and SHA-256.
func Seal(w io.Writer, tarball io.Reader, recipients []age.Recipient) (Sum, error) {
	if len(recipients) == 0 {
		return Sum{}, errors.New("no recipients: set secrets.recipients in berth.yaml (backups are encrypted to the same keys as shared secrets)")
	}
	enc, err := age.Encrypt(w, recipients...)
	if err != nil {
		return Sum{}, fmt.Errorf("encrypting: %w", err)
	}
	zw, err := zstd.NewWriter(enc, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(2))
	if err != nil {
		return Sum{}, err
	}
	h := sha256.New()
	n, err := io.Copy(zw, io.TeeReader(tarball, h))
	if err != nil {
		zw.Close()
		return Sum{}, fmt.Errorf("reading the volume: %w", err)
	}
	if err := zw.Close(); err != nil {
		return Sum{}, fmt.Errorf("compressing: %w", err)
	}
	if err := enc.Close(); err != nil {
		return Sum{}, fmt.Errorf("encrypting: %w", err)
	}
	return Sum{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// Open streams a sealed snapshot's plaintext tar to w, decrypting with
// identities, and returns ErrCorrupt (having written what it had) when
// the stream is damaged or its checksum is not want's. Callers restore
// into a fresh volume, so a refused snapshot leaves nothing half-done
// where it matters.
func Open(w io.Writer, sealed io.Reader, identities []age.Identity, want Sum) error {
	dec, err := age.Decrypt(sealed, identities...)
	if err != nil {
		var noMatch *age.NoIdentityMatchError
		if errors.As(err, &noMatch) {
			return fmt.Errorf("no identity can decrypt this snapshot (it was encrypted to other keys): %w", err)
		}
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	zr, err := zstd.NewReader(dec, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	defer zr.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), zr)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != want.Size || got != want.SHA256 {
		return fmt.Errorf("%w: %d bytes with SHA-256 %.12s, the manifest says %d bytes, %.12s", ErrCorrupt, n, got, want.Size, want.SHA256)
	}
	return nil
}
