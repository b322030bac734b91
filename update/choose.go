// Package update finds the image an update policy (source.update) moves
// a workload to, asks registries with a bounded, shared cost, and rewrites
// exactly the line of the config repo file that names the image.
package update

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/berthops/berth/sources"
)

// Ref is an image reference split the way updates need it.
type Ref struct {
	Repo   string // registry/path, as written (no tag, no digest)
	Tag    string
	Digest string // sha256:…, when pinned
}

// ParseRef splits ref: "reg/app:1.4.2", "reg/app:stable@sha256:…".
func ParseRef(ref string) (Ref, error) {
	var r Ref
	rest := ref
	if i := strings.Index(rest, "@"); i >= 0 {
		rest, r.Digest = rest[:i], rest[i+1:]
	}
	slash := strings.LastIndex(rest, "/")
	if i := strings.LastIndex(rest, ":"); i > slash {
		rest, r.Tag = rest[:i], rest[i+1:]
	}
	r.Repo = rest
	if _, err := name.NewRepository(r.Repo); err != nil {
		return r, fmt.Errorf("%q is not an image reference: %w", ref, err)
	}
	if r.Tag == "" && r.Digest == "" {
		r.Tag = "latest"
	}
	return r, nil
}

func (r Ref) String() string {
	s := r.Repo
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Lister is what choosing needs of a registry.
type Lister interface {
	Tags(repo string) ([]string, error)
	Digest(ref string) (string, error)
	Created(ref string) (time.Time, error)
}

// Next is the image the policy moves current to; ok is false when current
// is already the one.
func Next(p *sources.UpdatePolicy, current Ref, reg Lister) (next Ref, ok bool, err error) {
	switch p.Policy {
	case sources.UpdateDigest:
		d, err := reg.Digest(current.Repo + ":" + current.Tag)
		if err != nil {
			return current, false, err
		}
		next = Ref{Repo: current.Repo, Tag: current.Tag, Digest: d}
		return next, d != current.Digest, nil
	case sources.UpdateSemver:
		tags, err := reg.Tags(current.Repo)
		if err != nil {
			return current, false, err
		}
		tag, ok, err := highest(p, current.Tag, tags)
		return Ref{Repo: current.Repo, Tag: tag}, ok, err
	case sources.UpdateNewest:
		tags, err := reg.Tags(current.Repo)
		if err != nil {
			return current, false, err
		}
		tag, ok, err := newest(p, current, tags, reg)
		return Ref{Repo: current.Repo, Tag: tag}, ok, err
	}
	return current, false, fmt.Errorf("unknown update policy %q", p.Policy)
}

// highest is the highest tag in range (and pattern) above current.
func highest(p *sources.UpdatePolicy, current string, tags []string) (string, bool, error) {
	cur, err := semver.NewVersion(current)
	if err != nil {
		return current, false, fmt.Errorf("the current tag %q is not a version: policy semver needs one", current)
	}
	c, _ := p.Constraint()
	m, _ := p.Matcher()
	best, bestTag := cur, current
	for _, t := range tags {
		if m != nil && !m.MatchString(t) {
			continue
		}
		v, err := semver.NewVersion(t)
		if err != nil {
			continue
		}
		if c != nil && !c.Check(v) || c == nil && v.Prerelease() != "" && cur.Prerelease() == "" {
			continue
		}
		if v.GreaterThan(best) {
			best, bestTag = v, t
		}
	}
	return bestTag, bestTag != current, nil
}

// newest is the most recently built image among the tags matching the
// pattern, when it is newer than current's.
func newest(p *sources.UpdatePolicy, current Ref, tags []string, reg Lister) (string, bool, error) {
	m, _ := p.Matcher()
	curAt, err := reg.Created(current.Repo + ":" + current.Tag)
	if err != nil {
		curAt = time.Time{} // the current tag is gone: any match is newer
	}
	slices.Sort(tags)
	best, bestAt := current.Tag, curAt
	for _, t := range tags {
		if t == current.Tag || m != nil && !m.MatchString(t) {
			continue
		}
		at, err := reg.Created(current.Repo + ":" + t)
		if err != nil {
			continue // a tag that disappeared between the list and its read
		}
		if at.After(bestAt) {
			best, bestAt = t, at
		}
	}
	return best, best != current.Tag, nil
}
