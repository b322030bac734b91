package main_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthops/berth/testkit/gitserver"
	"github.com/berthops/berth/testkit/loopback"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// TestInitWritesAValidRepo: `berth init --age-key` writes a repo that
// `berth validate` accepts, with the identity's recipient in berth.yaml
// and the identity itself outside git (mode 0600), and never overwrites.
func TestInitWritesAValidRepo(t *testing.T) {
	dir, key := filepath.Join(t.TempDir(), "config"), filepath.Join(t.TempDir(), "age.key")
	r := run(t, nil, "init", dir, "--age-key", key)
	require.Equal(t, 0, r.code, r.stderr)
	r = run(t, nil, "validate", dir)
	assert.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
	info, err := os.Stat(key)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	id, err := os.ReadFile(key)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(id), "AGE-SECRET-KEY-"))
	berth, err := os.ReadFile(filepath.Join(dir, "berth.yaml"))
	require.NoError(t, err)
	assert.Regexp(t, `recipients: \[age1[0-9a-z]+\]`, string(berth))
	for _, f := range []string{".berth/schema/workload.json", ".vscode/settings.json", ".gitignore"} {
		assert.FileExists(t, filepath.Join(dir, f))
	}
	r = run(t, nil, "init", dir)
	assert.Equal(t, 1, r.code, "a second init refuses to overwrite")
	assert.Contains(t, r.stderr, "exists")
}

// schemaFor compiles `berth schema file`.
func schemaFor(t *testing.T, file string) *jsonschema.Schema {
	t.Helper()
	r := run(t, nil, "schema", file)
	require.Equal(t, 0, r.code, r.stderr)
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(r.stdout))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource(file+".json", doc))
	s, err := c.Compile(file + ".json")
	require.NoError(t, err)
	return s
}

// yamlInstance reads a YAML file as the JSON value a schema validates.
func yamlInstance(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	require.NoError(t, yaml.Unmarshal(data, &v))
	b, err := json.Marshal(v)
	require.NoError(t, err)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err)
	return inst
}

// TestSchemaValidatesTheExamples: the generated schemas accept every file
// of examples/hello and reject a misspelt field and a wrong kind.
func TestSchemaValidatesTheExamples(t *testing.T) {
	workload, berth := schemaFor(t, "workload"), schemaFor(t, "berth")
	files, err := filepath.Glob("../../examples/hello/apps/*/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		if filepath.Base(f) == "app.yaml" {
			continue
		}
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.NoError(t, workload.Validate(yamlInstance(t, data)), f)
	}
	data, err := os.ReadFile("../../examples/hello/berth.yaml")
	require.NoError(t, err)
	assert.NoError(t, berth.Validate(yamlInstance(t, data)))

	for _, bad := range []string{
		"source:\n  type: image\n  image: nginx\nprot: 80\n",
		"source:\n  type: image\n  imgae: nginx\n",
		"source:\n  type: helm\n",
		"source:\n  type: image\n  image: nginx\nhealthcheck:\n  path: /\n  timeout: soon\n",
	} {
		assert.Error(t, workload.Validate(yamlInstance(t, []byte(bad))), bad)
	}
}

// The starter repo runs offline: its workload is a static site built
// FROM scratch, so a first sync on a machine with no registry serves it.
func TestInitStarterRunsOffline(t *testing.T) {
	w := newCLIWorld(t) // a Docker daemon, and berth with berth-site beside it
	dir := filepath.Join(t.TempDir(), "config")
	r := run(t, nil, "init", dir)
	require.Equal(t, 0, r.code, r.stderr)
	gitserver.Git(t, dir, "init", "-q", "-b", "main")
	gitserver.Git(t, dir, "add", "-A")
	gitserver.Git(t, dir, "-c", "user.name=t", "-c", "user.email=t@t.invalid", "commit", "-q", "-m", "berth init")
	proxy := loopback.FreeAddr(t)
	state := t.TempDir()
	t.Cleanup(func() {
		// The containers before their image (an image in use cannot go).
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=berth.agent="+w.name).Output()
		for _, id := range strings.Fields(string(out)) {
			_ = exec.Command("docker", "rm", "-f", "-v", id).Run()
		}
		out, _ = exec.Command("docker", "images", "-q", "berth/hello_web").Output()
		for _, id := range strings.Fields(string(out)) {
			_ = exec.Command("docker", "rmi", "-f", id).Run()
		}
	})
	startAgent(t, "--repo", dir, "--state-dir", state, "--agent-name", w.name, "--allow", "local-repos",
		"--router", "embedded", "--http", proxy, "--https", "", "--status-branch", "")
	servedWithin(t, proxy, "hello.localhost", "Hello from Berth", time.Minute)
}
