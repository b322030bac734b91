package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/engine"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/policy"
	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/sources/compose"
)

// fixtureModules are modules whose test data holds real compose files:
// compose-go's loader fixtures and docker/compose's end-to-end fixtures
// (the version scripts/compose-plugin builds).
var fixtureModules = []string{
	"github.com/compose-spec/compose-go/v2@v2.9.1",
	"github.com/docker/compose/v2@v2.40.3",
}

// The verdict `berth validate` gives a compose or stack workload (the
// loader and the policy, no Docker) is the agent's verdict before it
// creates anything (the project rendered from the kept copy of the
// release, held to the same policy): on every compose file in
// compose-go's and docker/compose's own test data, each wrapped as a
// workload of both kinds, the two agree on whether it renders and on
// every violation. The files name Docker Hub images; nothing is run.
func TestValidateVerdictIsTheAgents(t *testing.T) {
	var dirs []string // folders holding compose files
	for _, m := range fixtureModules {
		out, err := exec.Command("go", "mod", "download", "-json", m).Output()
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("go mod download %s: %v", m, err)
			}
			t.Skipf("go mod download %s: %v", m, err)
		}
		var info struct{ Dir string }
		require.NoError(t, json.Unmarshal(out, &info))
		seen := map[string]bool{}
		require.NoError(t, filepath.WalkDir(info.Dir, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || !composeFile(e.Name()) || !strings.Contains(p, "testdata") && !strings.Contains(p, "fixtures") {
				return err
			}
			if d := filepath.Dir(p); !seen[d] {
				seen[d] = true
				dirs = append(dirs, d)
			}
			return nil
		}))
	}
	require.Greater(t, len(dirs), 20, "fixture folders found")

	pol := policy.Policy{} // the default: nothing granted
	var files, accepted, refused, unrendered, loaderOnly int
	for i, dir := range dirs {
		repo := t.TempDir()
		app := fmt.Sprintf("f%d", i)
		src := filepath.Join(repo, "apps", app, "src")
		copyRegular(t, dir, src)
		names := map[string]string{} // workload name → compose file
		entries, err := os.ReadDir(src)
		require.NoError(t, err)
		for j, e := range entries {
			if e.IsDir() || !composeFile(e.Name()) {
				continue
			}
			for _, kind := range []string{"compose", "stack"} {
				name := fmt.Sprintf("%c%d", kind[0], j)
				names[name] = e.Name()
				body := fmt.Sprintf("source:\n  type: %s\n  file: src/%s\n", kind, e.Name())
				require.NoError(t, os.WriteFile(filepath.Join(repo, "apps", app, name+".yaml"), []byte(body), 0o644))
			}
		}
		d, err := gitops.LoadWith(repo, "", gitops.LoadOptions{Policy: pol})
		require.NoError(t, err)
		require.Empty(t, d.Errors)

		state := t.TempDir()
		judge := func(w *sources.Workload, id, file string) verdict {
			project, checkout := "", ""
			switch c := w.Source.(type) {
			case *compose.Config:
				project, checkout = compose.ProjectName(w, c), c.ResolvedFile()
			case *compose.SwarmConfig:
				project, checkout = compose.StackName(w, c), c.ResolvedFile()
			}
			kept, err := (&engine.Compose{Dir: state}).Snapshot(project, id, filepath.Join(repo, filepath.FromSlash(checkout)))
			require.NoError(t, err)
			_, vs, err := engine.Verdict(context.Background(), pol, project, kept, w.Env)
			if err != nil {
				return verdict{renders: false}
			}
			return agentVerdict(vs)
		}
		for _, w := range d.Workloads {
			files++
			accepted++
			assert.Equal(t, verdict{renders: true}, judge(w, w.ID(), ""), "%s (%s): validate accepts it, the agent must too", w.ID(), filepath.Join(dir, names[w.Name]))
		}
		for _, inv := range d.Invalid {
			files++
			name := strings.TrimPrefix(inv.ID, app+"/")
			kind := "compose"
			if name[0] == 's' {
				kind = "stack"
			}
			// The workload as the agent would have it: validate refused
			// it, so rebuild it from the same file to ask the agent.
			if loaderRefused(inv) {
				// The workload file itself is refused (a compose file
				// with nothing to run): the agent loads with this same
				// loader and never gets as far as rendering it.
				loaderOnly++
				continue
			}
			w := wrapped(t, repo, app, name, kind, names[name])
			want := validateVerdict(inv)
			if !want.renders {
				unrendered++
			} else {
				refused++
			}
			assert.Equal(t, want, judge(w, inv.ID, ""), "%s (%s): %v", inv.ID, filepath.Join(dir, names[name]), inv.Err())
		}
	}
	t.Logf("%d compose files from %d fixture folders, each as compose and as stack: %d accepted, %d refused by the policy, %d do not render (both verdicts agree on each), %d refused by the loader both run",
		files/2, len(dirs), accepted, refused, unrendered, loaderOnly)
	assert.NotZero(t, accepted)
	assert.NotZero(t, refused)
}

// verdict is a judgement of one workload: does it render, and what the
// policy refuses in it ("field: permission").
type verdict struct {
	renders    bool
	violations []string
}

// loaderRefused reports whether validate refused the workload file (not
// what its compose file renders to).
func loaderRefused(inv *gitops.InvalidWorkload) bool {
	return slices.ContainsFunc(inv.Errs, func(err error) bool {
		ce, ok := err.(*gitops.ConfigError)
		return ok && ce.File == inv.File
	})
}

var needsAllow = regexp.MustCompile(`needs --allow ([a-z-]+)`)

func validateVerdict(inv *gitops.InvalidWorkload) verdict {
	v := verdict{renders: true}
	for _, err := range inv.Errs {
		ce, ok := err.(*gitops.ConfigError)
		m := needsAllow.FindStringSubmatch(err.Error())
		if !ok || m == nil || ce.Field == "" {
			return verdict{renders: false}
		}
		v.violations = append(v.violations, ce.Field+": "+m[1])
	}
	slices.Sort(v.violations)
	return v
}

func agentVerdict(vs []policy.Violation) verdict {
	v := verdict{renders: true}
	for _, x := range vs {
		v.violations = append(v.violations, x.Field+": "+string(x.Permission))
	}
	slices.Sort(v.violations)
	return v
}

// wrapped is the workload the wrapper file describes, read alone (its
// compose file replaced by an empty one, so that it loads).
func wrapped(t *testing.T, repo, app, name, kind, file string) *sources.Workload {
	t.Helper()
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "apps", app)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "src"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "src", file), []byte("services:\n  x:\n    image: x\n"), 0o644))
	body, err := os.ReadFile(filepath.Join(repo, "apps", app, name+".yaml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".yaml"), body, 0o644))
	d, err := gitops.Load(tmp, "")
	require.NoError(t, err)
	require.Len(t, d.Workloads, 1, "%v", d.Invalid)
	return d.Workloads[0]
}

func composeFile(name string) bool {
	return strings.HasSuffix(name, ".yml") || strings.HasSuffix(name, ".yaml")
}

// copyRegular copies the regular files and folders under src to dst
// (symlinks and special files are left out, as the agent's kept copy
// leaves them).
func copyRegular(t *testing.T, src, dst string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		switch {
		case e.IsDir():
			return os.MkdirAll(to, 0o755)
		case e.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(to, b, 0o644)
		}
		return nil
	}))
}
