package sources

import "time"

// Job makes a workload a scheduled task: no port, no route, no serving
// container; on its schedule a container runs the command in the
// workload's image, with its env, secrets and volumes, and is removed
// once its output is kept.
type Job struct {
	// Schedule is a robfig/cron spec: five fields, a descriptor such as
	// @daily or @every 30s, optionally prefixed by CRON_TZ=Zone.
	Schedule string   `yaml:"schedule" json:"schedule"`
	Command  []string `yaml:"command" json:"command,omitempty"`
	Timeout  Duration `yaml:"timeout" json:"timeout,omitempty"`
	// Concurrency is forbid (the default: a run due while one runs is
	// skipped) or replace (the running one is stopped first).
	Concurrency string `yaml:"concurrency" json:"concurrency,omitempty"`
	// CatchUp is none (the default) or once: runs missed while the agent
	// was down start once when it is back.
	CatchUp string `yaml:"catch_up" json:"catch_up,omitempty"`
}

// The job settings' values.
const (
	ConcurrencyForbid  = "forbid"
	ConcurrencyReplace = "replace"
	CatchUpNone        = "none"
	CatchUpOnce        = "once"
)

// DefaultJobTimeout bounds a run that sets no timeout.
const DefaultJobTimeout = time.Hour

// RunTimeout is the job's timeout, or the default.
func (j *Job) RunTimeout() time.Duration {
	if j.Timeout > 0 {
		return j.Timeout.Std()
	}
	return DefaultJobTimeout
}

// Replaces reports whether a due run stops a running one.
func (j *Job) Replaces() bool { return j.Concurrency == ConcurrencyReplace }
