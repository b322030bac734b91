// Package notify tells people what Berth did: a JSON POST for an http(s)
// URL, or a chat, push or mail message for a service URL shoutrrr knows
// (slack://, discord://, ntfy://, telegram://, smtp://, generic://, ...).
// A URL may hold a token, so no error of this package repeats one.
package notify

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/nicholas-fedor/shoutrrr"
)

// DefaultEvents are what a destination hears when it names none: failures
// and recoveries.
var DefaultEvents = []string{"deploy.failed", "deploy.rolled_back", "workload.missing", "workload.oom", "deploy.recovered", "job.failed", "job.recovered",
	"backup.failed", "backup.recovered", "backup.stale", "update.pr_opened", "update.failed"}

// Events are the event kinds a destination may ask for.
var Events = []string{
	"deploy.started", "deploy.succeeded", "deploy.failed", "deploy.rolled_back", "deploy.recovered",
	"workload.missing", "workload.oom", "workload.invalid", "workload.pruned", "workload.pinned", "workload.suspended", "workload.resumed", "workload.retry", "job.failed", "job.succeeded", "job.recovered",
	"backup.succeeded", "backup.failed", "backup.recovered", "backup.stale", "backup.restored",
	"update.found", "update.committed", "update.pr_opened", "update.failed",
	"preview.created", "preview.updated", "preview.failed", "preview.removed", "workload.task_failed",
	"config.invalid", "sync.failed", "prune.refused", "secret.unusable", "commit.unverified",
}

// Message is one event as a destination gets it (the JSON body of an
// http(s) destination).
type Message struct {
	Agent    string            `json:"agent"`
	Kind     string            `json:"kind"`
	Severity string            `json:"severity"`
	Workload string            `json:"workload,omitempty"`
	Commit   string            `json:"commit,omitempty"`
	Message  string            `json:"message"`
	Time     time.Time         `json:"time"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Text is the message for chat and mail services.
func (m Message) Text() string { return fmt.Sprintf("berth %s: %s", m.Agent, m.Message) }

// CheckEvents reports the first kind that is not a notifiable event.
func CheckEvents(kinds []string) error {
	for _, k := range kinds {
		if !slices.Contains(Events, k) {
			return fmt.Errorf("%q is not an event Berth notifies about (one of %s)", k, strings.Join(Events, ", "))
		}
	}
	return nil
}

// CheckURL reports whether raw names a destination Berth can send to. The
// error never repeats the URL.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("not a URL such as https://hooks.example.com/berth or slack://token@channel")
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return fmt.Errorf("the %s URL has no host", u.Scheme)
		}
		return nil
	}
	if _, err := shoutrrr.CreateSender(raw); err != nil {
		return fmt.Errorf("not a valid %s:// service URL (see shoutrrr's service docs)", u.Scheme)
	}
	return nil
}

// Label names a destination for logs and events without its secrets:
// scheme and host only.
func Label(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "an invalid URL"
	}
	if u.Scheme == "http" || u.Scheme == "https" || u.Scheme == "generic" || u.Scheme == "smtp" {
		return u.Scheme + "://" + u.Hostname()
	}
	return u.Scheme + "://…"
}
