package agent

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"github.com/berthops/berth/backup"
	"github.com/berthops/berth/gitops"
)

// ErrNoBackups: the operator gave the agent no backup target.
var ErrNoBackups = errors.New("backups are off: start the agent with --backup-dir DIR or --backup-s3 URL")

// targetState is the backup target as the last loaded commit allows it:
// an S3 target's credentials are a shared secret, known after a load.
type targetState struct {
	target backup.Target
	err    error    // why there is none
	sum    [32]byte // of the S3 credentials the target was made with
}

// configureBackupTarget makes the --backup-s3 target with the
// credentials of the shared secret berth.yaml backups.s3_secret names;
// it is called under tickMu after each load and returns a problem to
// report (never the secret's value).
func (a *Agent) configureBackupTarget(cfg gitops.BackupsConfig) string {
	if a.opts.BackupS3 == "" {
		return ""
	}
	prev := a.target.Load()
	set := func(t backup.Target, sum [32]byte, err error) string {
		a.target.Store(&targetState{target: t, err: err, sum: sum})
		if err != nil {
			return err.Error()
		}
		return ""
	}
	if cfg.S3Secret == "" {
		return set(nil, [32]byte{}, errors.New("--backup-s3 needs credentials: name a global shared secret in berth.yaml backups.s3_secret (ACCESS_KEY_ID:SECRET_ACCESS_KEY)"))
	}
	v, ok := a.secrets.global[cfg.S3Secret]
	if !ok {
		return set(nil, [32]byte{}, fmt.Errorf("backups.s3_secret: shared secret %s has no value on this agent; backups to %s cannot run", cfg.S3Secret, a.opts.BackupS3))
	}
	sum := sha256.Sum256([]byte(v))
	if prev != nil && prev.target != nil && prev.sum == sum {
		return ""
	}
	key, secret, ok := strings.Cut(strings.TrimSpace(v), ":")
	if !ok || key == "" || secret == "" {
		return set(nil, [32]byte{}, fmt.Errorf("backups.s3_secret: shared secret %s is not ACCESS_KEY_ID:SECRET_ACCESS_KEY", cfg.S3Secret))
	}
	t, err := backup.NewS3(a.opts.BackupS3, key, secret, a.opts.BackupS3Options)
	return set(t, sum, err)
}

// backupTarget is where snapshots go: --backup-dir, or the --backup-s3
// store once a loaded commit has named its credentials.
func (a *Agent) backupTarget() (backup.Target, error) {
	switch {
	case a.opts.BackupDir != "":
		return backup.Dir{Root: a.opts.BackupDir}, nil
	case a.opts.BackupS3 == "":
		return nil, ErrNoBackups
	}
	s := a.target.Load()
	if s == nil {
		return nil, fmt.Errorf("backups to %s wait for the first loaded commit (its backups.s3_secret holds the credentials)", a.opts.BackupS3)
	}
	if s.err != nil {
		return nil, s.err
	}
	return s.target, nil
}
