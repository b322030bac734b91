package policy

import (
	"regexp"
	"strings"
)

var scpLike = regexp.MustCompile(`^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+:`)

// RepoURL checks an app repo's URL: one on this host (file:// or a path)
// can bake any repo the agent can read into an image, so it needs
// local-repos.
func (p Policy) RepoURL(field, u string) []Violation {
	scheme, _, hasScheme := strings.Cut(u, "://")
	local := hasScheme && strings.EqualFold(scheme, "file") || !hasScheme && !scpLike.MatchString(u)
	if !local || p.Allows(LocalRepos) {
		return nil
	}
	return []Violation{{Permission: LocalRepos, Field: field, Detail: "an app repo on this host (" + u + ")"}}
}
