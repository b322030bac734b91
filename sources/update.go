package sources

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
)

// Update policies of source.update.
const (
	UpdateSemver = "semver" // the highest tag in range
	UpdateNewest = "newest" // the newest image (its config's created time) among the tags matching pattern
	UpdateDigest = "digest" // the tag's current digest, pinned as @sha256:
)

// How an update reaches the config repo.
const (
	PushDirect      = "direct"
	PushPullRequest = "pull-request"
)

// MinUpdateInterval is the shortest source.update.interval: registries
// are asked at most this often per repository.
const MinUpdateInterval = time.Minute

// DefaultUpdateBranch is the branch a pull-request update pushes to.
const DefaultUpdateBranch = "berth/update/{app}-{name}"

// UpdatePolicy is source.update: how Berth follows new images of an image
// source (or the base image of a dockerfile source) by committing them to
// the config repo. It does not change what runs, so it is not hashed.
type UpdatePolicy struct {
	Policy   string   `yaml:"policy"`
	Range    string   `yaml:"range"`
	Pattern  string   `yaml:"pattern"`
	Interval Duration `yaml:"interval"`
	Push     string   `yaml:"push"`
	Branch   string   `yaml:"branch"`
	Stage    string   `yaml:"stage"` // dockerfile sources: the FROM of this stage (default: the final one)
}

// Updatable is a source kind that can follow new images.
type Updatable interface {
	UpdatePolicy() *UpdatePolicy
}

// Every is the check interval (default 10m).
func (u *UpdatePolicy) Every() time.Duration {
	if u.Interval == 0 {
		return 10 * time.Minute
	}
	return time.Duration(u.Interval)
}

// PushMode is push, default direct.
func (u *UpdatePolicy) PushMode() string {
	if u.Push == "" {
		return PushDirect
	}
	return u.Push
}

// BranchFor is the pull-request branch of a workload.
func (u *UpdatePolicy) BranchFor(app, name string) string {
	b := u.Branch
	if b == "" {
		b = DefaultUpdateBranch
	}
	return strings.NewReplacer("{app}", app, "{name}", name).Replace(b)
}

// Constraint is the parsed semver range (nil: any version).
func (u *UpdatePolicy) Constraint() (*semver.Constraints, error) {
	if u.Range == "" {
		return nil, nil
	}
	return semver.NewConstraint(u.Range)
}

// Matcher is the parsed tag pattern (nil: every tag).
func (u *UpdatePolicy) Matcher() (*regexp.Regexp, error) {
	if u.Pattern == "" {
		return nil, nil
	}
	return regexp.Compile(u.Pattern)
}

var branchRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/{}-]*$`)

// Validate checks the policy; dockerfile says whether stage may be set.
func (u *UpdatePolicy) Validate(dockerfile bool) []FieldError {
	if u == nil {
		return nil
	}
	var errs []FieldError
	bad := func(field, format string, a ...any) {
		errs = append(errs, FieldError{Field: "source.update." + field, Msg: fmt.Sprintf(format, a...)})
	}
	switch u.Policy {
	case UpdateSemver, UpdateNewest, UpdateDigest:
	case "":
		bad("policy", "is required: one of %q, %q, %q", UpdateSemver, UpdateNewest, UpdateDigest)
	default:
		bad("policy", "%q is not one of %q, %q, %q", u.Policy, UpdateSemver, UpdateNewest, UpdateDigest)
	}
	if _, err := u.Constraint(); err != nil {
		bad("range", "%q is not a semver range such as \"~1.4\" or \">=2.0.0 <3\": %v", u.Range, err)
	} else if u.Range != "" && u.Policy != UpdateSemver {
		bad("range", "applies to policy: semver only")
	}
	if _, err := u.Matcher(); err != nil {
		bad("pattern", "%q is not a regular expression: %v", u.Pattern, err)
	} else if u.Pattern != "" && u.Policy == UpdateDigest {
		bad("pattern", "does not apply to policy: digest (it follows the tag the image names)")
	}
	if u.Interval != 0 && time.Duration(u.Interval) < MinUpdateInterval {
		bad("interval", "%s is shorter than the minimum, %s", time.Duration(u.Interval), MinUpdateInterval)
	}
	switch u.Push {
	case "", PushDirect, PushPullRequest:
	default:
		bad("push", "%q is not one of %q, %q", u.Push, PushDirect, PushPullRequest)
	}
	if u.Branch != "" && (!branchRe.MatchString(u.Branch) || strings.Contains(u.Branch, "..")) {
		bad("branch", "%q is not a branch name", u.Branch)
	}
	if u.Stage != "" && !dockerfile {
		bad("stage", "applies to dockerfile sources only")
	}
	return errs
}
