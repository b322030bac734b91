package statedir_test

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/internal/statedir"
)

func TestLockIsExclusiveAndNamesTheHolder(t *testing.T) {
	dir := t.TempDir()
	l, err := statedir.Acquire(dir, "berth agent")
	require.NoError(t, err)
	// A second process cannot take it (flock locks are per open file, so a
	// second open in this process shows the same as another process).
	_, err = statedir.Acquire(dir, "berth sync")
	require.ErrorIs(t, err, statedir.ErrInUse)
	assert.Contains(t, err.Error(), "is in use by pid "+strconv.Itoa(os.Getpid())+" (berth agent)")
	require.NoError(t, l.Release())
	l, err = statedir.Acquire(dir, "berth sync")
	require.NoError(t, err, "free again after release")
	require.NoError(t, l.Release())

	// The kernel frees a lock whose holder was killed.
	cmd := exec.Command("flock", dir+"/lock", "sleep", "30")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // sleep inherits the lock: kill the group
	if err := cmd.Start(); err != nil {
		t.Skip("no flock(1)")
	}
	held := false
	for range 100 { // bounded: 5 s
		l, err := statedir.Acquire(dir, "probe")
		if err != nil && strings.Contains(err.Error(), "in use") {
			held = true
			break
		}
		require.NoError(t, err)
		require.NoError(t, l.Release())
		time.Sleep(50 * time.Millisecond)
	}
	require.True(t, held, "flock(1) took the lock")
	require.NoError(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL))
	_ = cmd.Wait()
	for range 100 { // bounded: 5 s, while the killed group finishes exiting
		if l, err = statedir.Acquire(dir, "after a kill"); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(t, err, "the kernel frees the lock of a killed holder")
	require.NoError(t, l.Release())
}

func TestIDIsStable(t *testing.T) {
	dir := t.TempDir()
	a, err := statedir.ID(dir)
	require.NoError(t, err)
	b, err := statedir.ID(dir)
	require.NoError(t, err)
	assert.Len(t, a, 32)
	assert.Equal(t, a, b)
	other, err := statedir.ID(t.TempDir())
	require.NoError(t, err)
	assert.NotEqual(t, a, other)
}
