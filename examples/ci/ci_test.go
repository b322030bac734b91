// Package ci holds the CI workflow examples for config repos; its test
// runs their comment step against a real Gitea.
package ci_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/berthops/berth/testkit/giteatest"
)

type workflow struct {
	Env  map[string]string `yaml:"env"`
	Jobs map[string]struct {
		Steps []struct {
			Name string            `yaml:"name"`
			Env  map[string]string `yaml:"env"`
			Run  string            `yaml:"run"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

func load(t *testing.T, file string) workflow {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	var w workflow
	require.NoError(t, yaml.Unmarshal(b, &w), file)
	return w
}

// TestWorkflowsPinBerth: a plan is made by the version the hosts run, never
// whatever @latest is that day.
func TestWorkflowsPinBerth(t *testing.T) {
	for _, file := range []string{"github-actions.yml", "gitea-actions.yml"} {
		w := load(t, file)
		assert.Regexp(t, `^v\d+\.\d+\.\d+$`, w.Env["BERTH_VERSION"], file)
		run := w.Jobs["plan"].Steps[2].Run
		assert.Contains(t, run, `cmd/berth@${BERTH_VERSION}`, file)
		assert.NotContains(t, run, "@latest", file)
	}
}

// TestPlanCommentIsUpdatedInPlace runs the Gitea workflow's comment step,
// as the runner would, on a real Gitea pull-request thread: the first push
// adds the comment, later pushes edit it; other comments are left alone.
func TestPlanCommentIsUpdatedInPlace(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 runs the comment step")
	}
	g := giteatest.Start(t)
	g.CreateRepo(t, "config")
	var issue struct {
		Number int `json:"number"`
	}
	g.API(t, http.MethodPost, "/repos/"+g.User+"/config/issues", map[string]any{"title": "a change"}, &issue)
	g.API(t, http.MethodPost, "/repos/"+g.User+"/config/issues/"+itoa(issue.Number)+"/comments", map[string]any{"body": "looks good"}, nil)

	var step struct {
		env map[string]string
		run string
	}
	for _, s := range load(t, "gitea-actions.yml").Jobs["plan"].Steps {
		if s.Name == "comment" {
			step.env, step.run = s.Env, s.Run
		}
	}
	require.NotEmpty(t, step.run)
	ctx := map[string]string{
		"gitea.server_url":                g.URL,
		"gitea.repository":                g.User + "/config",
		"gitea.event.pull_request.number": itoa(issue.Number),
		"secrets.GITEA_TOKEN":             g.Token,
	}
	expr := regexp.MustCompile(`\$\{\{\s*([^}]+?)\s*\}\}`)
	env := os.Environ()
	for k, v := range step.env {
		env = append(env, k+"="+expr.ReplaceAllStringFunc(v, func(m string) string { return ctx[expr.FindStringSubmatch(m)[1]] }))
	}
	dir := t.TempDir()
	for _, plan := range []string{"## berth plan\n\n1 change", "## berth plan\n\n2 changes"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "plan.md"), []byte(plan), 0o644))
		cmd := exec.Command("bash", "-e", "-c", step.run)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
	}

	var comments []struct {
		Body string `json:"body"`
	}
	g.API(t, http.MethodGet, "/repos/"+g.User+"/config/issues/"+itoa(issue.Number)+"/comments", nil, &comments)
	require.Len(t, comments, 2, "one plan comment, edited, beside the reviewer's")
	assert.Equal(t, "looks good", comments[0].Body)
	assert.Equal(t, "<!-- berth-plan -->\n## berth plan\n\n2 changes", strings.TrimSpace(comments[1].Body))
}

func itoa(n int) string { return strconv.Itoa(n) }
