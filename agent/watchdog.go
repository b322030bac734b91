package agent

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// Timeouts bound the agent's remote calls; zero values take the defaults.
type Timeouts struct {
	Git   time.Duration // config and app repo fetches, the status branch (--git-timeout, 2m)
	Pull  time.Duration // image pulls (--pull-timeout, 10m)
	Build time.Duration // image builds (--build-timeout, 30m)
	Forge time.Duration // one commit status, retries included (--forge-timeout, 30s)
}

func (t Timeouts) withDefaults() Timeouts {
	if t.Git <= 0 {
		t.Git = 2 * time.Minute
	}
	if t.Pull <= 0 {
		t.Pull = 10 * time.Minute
	}
	if t.Build <= 0 {
		t.Build = 30 * time.Minute
	}
	if t.Forge <= 0 {
		t.Forge = 30 * time.Second
	}
	return t
}

// interval is the time between two ticks of a schedule (for "@every 1m",
// one minute; for a cron spec, the gap after the next run).
func interval(spec string, now time.Time) time.Duration {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return time.Minute
	}
	next := s.Next(now)
	return s.Next(next).Sub(next)
}

// staleAfter is how long the agent may go without a successful tick
// before /readyz fails: three missed ticks and one git timeout.
func (a *Agent) staleAfter() time.Duration {
	return 3*a.interval + a.opts.Timeouts.Git
}

// readiness reports whether a tick succeeded recently enough, and why not.
func (a *Agent) readiness(now time.Time) (bool, string) {
	last := a.lastSuccess.Load()
	if last == 0 {
		return false, "no tick has succeeded yet"
	}
	if age := now.Sub(time.Unix(0, last)); age > a.staleAfter() {
		return false, fmt.Sprintf("no tick has succeeded for %s (the limit is 3 × the schedule interval + --git-timeout = %s); see berth events",
			age.Round(time.Second), a.staleAfter())
	}
	return true, "ready"
}
