package update_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/update"
)

// tagList is a registry's answer, as a table (the real registry is in
// the agent's tests).
type tagList struct {
	tags    []string
	created map[string]time.Time
}

func (l tagList) Tags(string) ([]string, error) { return l.tags, nil }
func (l tagList) Digest(string) (string, error) { return "", errors.New("unused") }
func (l tagList) Created(ref string) (time.Time, error) {
	for tag, at := range l.created {
		if ref == "reg/app:"+tag {
			return at, nil
		}
	}
	return time.Time{}, errors.New("gone")
}

func TestNextBySemverAndNewest(t *testing.T) {
	tags := tagList{tags: []string{"1.4.2", "1.4.3", "1.4.10", "1.5.0", "1.4.11-rc.1", "latest", "v1.4.9"}}
	for _, c := range []struct {
		policy  sources.UpdatePolicy
		current string
		want    string
		ok      bool
	}{
		{sources.UpdatePolicy{Policy: "semver", Range: "~1.4"}, "1.4.2", "1.4.10", true},
		{sources.UpdatePolicy{Policy: "semver"}, "1.4.2", "1.5.0", true},
		{sources.UpdatePolicy{Policy: "semver", Range: "~1.4", Pattern: `^v`}, "1.4.2", "v1.4.9", true},
		{sources.UpdatePolicy{Policy: "semver", Range: "~1.4"}, "1.4.10", "1.4.10", false},
		{sources.UpdatePolicy{Policy: "semver", Range: ">=1.4.11-0 <1.5"}, "1.4.10", "1.4.11-rc.1", true},
	} {
		cur, err := update.ParseRef("reg/app:" + c.current)
		require.NoError(t, err)
		next, ok, err := update.Next(&c.policy, cur, tags)
		require.NoError(t, err)
		assert.Equal(t, c.ok, ok, "%+v", c.policy)
		assert.Equal(t, "reg/app:"+c.want, next.String(), "%+v", c.policy)
	}
	_, _, err := update.Next(&sources.UpdatePolicy{Policy: "semver"}, update.Ref{Repo: "reg/app", Tag: "latest"}, tags)
	assert.ErrorContains(t, err, "not a version")

	now := time.Now()
	built := tagList{tags: []string{"main-a1", "main-b2", "dev-c3"}, created: map[string]time.Time{
		"main-a1": now.Add(-2 * time.Hour), "main-b2": now.Add(-time.Hour), "dev-c3": now}}
	next, ok, err := update.Next(&sources.UpdatePolicy{Policy: "newest", Pattern: `^main-`}, update.Ref{Repo: "reg/app", Tag: "main-a1"}, built)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "main-b2", next.Tag, "the newest build matching the pattern")
}

func TestParseRef(t *testing.T) {
	r, err := update.ParseRef("127.0.0.1:5000/shop/web:stable@sha256:abc")
	require.NoError(t, err)
	assert.Equal(t, update.Ref{Repo: "127.0.0.1:5000/shop/web", Tag: "stable", Digest: "sha256:abc"}, r)
	r, err = update.ParseRef("127.0.0.1:5000/shop/web")
	require.NoError(t, err)
	assert.Equal(t, "latest", r.Tag)
}
