package gitops

import (
	"fmt"
	"path"
	"strings"

	"github.com/berthops/berth/sources"
)

// Previews is the previews block of berth.yaml or an app's app.yaml:
// which pull requests and branches get a running copy of the workloads
// they change. It is always read from the watched branch, never from the
// head it previews.
type Previews struct {
	Branches     []string           `yaml:"branches"`
	PullRequests bool               `yaml:"pull_requests"`
	Host         string             `yaml:"host"`
	Max          int                `yaml:"max"`
	TTL          sources.Duration   `yaml:"ttl"`
	KeepData     bool               `yaml:"keep_data"`
	Workloads    []string           `yaml:"workloads"`
	Placement    *sources.Placement `yaml:"placement"`
}

// DefaultPreviewMax is how many previews run at once when max is unset.
const DefaultPreviewMax = 5

// Limit is how many previews may run at once.
func (p *Previews) Limit() int {
	if p.Max > 0 {
		return p.Max
	}
	return DefaultPreviewMax
}

// HostFor is the preview host of slug.
func (p *Previews) HostFor(slug string) string { return strings.ReplaceAll(p.Host, "{slug}", slug) }

// MatchBranch reports whether a branch is a preview by the patterns.
func (p *Previews) MatchBranch(branch string) bool {
	for _, pat := range p.Branches {
		if ok, _ := path.Match(pat, branch); ok {
			return true
		}
	}
	return false
}

// PreviewsFor are the preview settings of an app: its app.yaml's, else
// berth.yaml's; nil when it has none.
func (d *Desired) PreviewsFor(app string) *Previews {
	if p := d.AppPreviews[app]; p != nil {
		return p
	}
	return d.Repo.Previews
}

// validatePreviews checks a previews block; field is where it is written.
func validatePreviews(dec *decoder, field string, p *Previews) {
	if p == nil {
		return
	}
	fail := func(f, format string, args ...any) { dec.errorf(field+"."+f, dec.at(field+"."+f), format, args...) }
	if len(p.Branches) == 0 && !p.PullRequests {
		fail("pull_requests", "previews need pull_requests: true (with --forge-url) or branches")
	}
	for i, b := range p.Branches {
		if _, err := path.Match(b, ""); err != nil || b == "" {
			fail(fmt.Sprintf("branches.%d", i), "%q is not a branch pattern such as \"preview/*\"", b)
		}
	}
	switch {
	case p.Host == "":
	case !strings.Contains(p.Host, "{slug}"):
		fail("host", "%q must contain {slug} (pr-12, or the branch name made DNS-safe)", p.Host)
	case !hostRe.MatchString(p.HostFor("pr-1")):
		fail("host", "%q is not a host name pattern such as \"{slug}.preview.example.com\"", p.Host)
	}
	if p.Max < 0 {
		fail("max", "%d is negative", p.Max)
	}
	if p.TTL < 0 {
		fail("ttl", "is negative")
	}
	for i, w := range p.Workloads {
		if !validName(w) {
			fail(fmt.Sprintf("workloads.%d", i), "%q is not a workload name", w)
		}
	}
}

// Slug makes a branch name DNS-safe: lower case, [a-z0-9-], at most 40
// characters.
func Slug(branch string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(branch) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.TrimRight(b.String(), "-")
	if len(s) > 40 {
		s = strings.TrimRight(s[:40], "-")
	}
	return s
}
