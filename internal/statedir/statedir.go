// Package statedir owns what belongs to a state dir as a whole: its lock
// (one sync or agent at a time) and its identity (a label on every
// container, so two agents that share a name never touch each other's).
package statedir

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/berthops/berth/internal/atomicfile"
)

// ErrInUse means another process holds the state dir.
var ErrInUse = errors.New("in use")

// Lock is the held lock of a state dir.
type Lock struct{ f *os.File }

// Acquire takes <dir>/lock for this process (what says who: "berth
// agent"), or fails at once naming the holder. The kernel releases it
// when the process ends, however it ends.
func Acquire(dir, what string) (*Lock, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the state dir lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := io.ReadAll(io.LimitReader(f, 256))
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: state dir %s is in use by %s", ErrInUse, dir, strings.TrimSpace(orUnknown(string(holder))))
		}
		return nil, fmt.Errorf("locking the state dir: %w", err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(fmt.Sprintf("pid %d (%s)\n", os.Getpid(), what)), 0)
	}
	return &Lock{f: f}, nil
}

func orUnknown(s string) string {
	if strings.TrimSpace(s) == "" {
		return "another process"
	}
	return s
}

// Release lets the state dir go.
func (l *Lock) Release() error {
	if l == nil {
		return nil
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	return l.f.Close()
}

// ID is the state dir's identity, made once (16 random bytes, hex).
func ID(dir string) (string, error) {
	path := filepath.Join(dir, "id")
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) == 32 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	id := hex.EncodeToString(raw[:])
	if err := atomicfile.Write(path, []byte(id+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return id, nil
}
