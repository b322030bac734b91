package gitops_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/sources/image"
)

var update = flag.Bool("update", false, "rewrite golden files")

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

const okImage = "source:\n  type: image\n  image: nginx:1.27\n"

// TestValidationErrors locks the exact messages people see: file, line,
// column, field, and what is wrong.
func TestValidationErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		setup func(t *testing.T, dir string)
	}{
		{name: "unknown_field", files: map[string]string{
			"apps/shop/web.yaml": "source:\n  type: image\n  image: nginx:1.27\n  imagee: typo\nports: 80\n"}},
		{name: "wrong_types", files: map[string]string{
			"apps/shop/web.yaml": "source:\n  type: image\n  image: [a, b]\nport: eighty\nenv: [A]\nroute: yes\n"}},
		{name: "bad_strategy", files: map[string]string{
			"apps/shop/web.yaml": "source:\n  type: image\n  image: registry.example.com/shop/web:1.4.2\n  deploy_strategy: \"bluegreen\"\n"}},
		{name: "jobs", files: map[string]string{
			"apps/ops/bad-schedule.yaml": "source:\n  type: image\n  image: ops/tool:1\njob:\n  schedule: \"every night\"\n  command: [/tool, sweep]\n",
			"apps/ops/no-command.yaml":   "source:\n  type: image\n  image: ops/tool:1\njob:\n  schedule: \"@daily\"\n  command: []\n  concurrency: parallel\n  catch_up: always\n",
			"apps/ops/served.yaml":       "source:\n  type: image\n  image: ops/tool:1\nport: 8080\nroute:\n  hosts: [ops.example.com]\njob:\n  schedule: \"0 3 * * *\"\n  command: [/tool]\n",
			"apps/ops/static.yaml":       "source:\n  type: static\n  dir: site\njob:\n  schedule: \"CRON_TZ=Europe/Berlin 0 3 * * *\"\n  command: [/tool]\n",
			"apps/ops/site/index.html":   "hi\n",
			"apps/ops/ok.yaml":           "source:\n  type: image\n  image: ops/tool:1\njob:\n  schedule: \"CRON_TZ=Europe/Berlin 0 3 * * *\"\n  command: [/tool, sweep]\n  timeout: 30m\n  concurrency: replace\n  catch_up: once\n",
			"apps/ops/migrate.yaml":      "source:\n  type: image\n  image: ops/tool:1\nbefore_deploy:\n  command: []\n  service: web\n"}},
		{name: "volume_backups", files: map[string]string{
			"apps/db/pg.yaml":   "source:\n  type: image\n  image: postgres:16\nvolumes:\n  data:\n    path: /var/lib/postgresql/data\n    backup:\n      schedule: \"nightly\"\n      keep: {last: -1}\n      consistency: freeze\n",
			"apps/db/typo.yaml": "source:\n  type: image\n  image: postgres:16\nvolumes:\n  wal:\n    pth: /wal\n",
			"apps/db/ok.yaml":   "source:\n  type: image\n  image: postgres:16\nvolumes:\n  data:\n    path: /data\n    backup: {schedule: \"0 2 * * *\", keep: {last: 7, daily: 14, weekly: 8}, consistency: pause}\n  logs: /logs\n"}},
		{name: "image_updates", files: map[string]string{
			"apps/shop/range.yaml":    "source:\n  type: image\n  image: reg/web:1.4.2\n  update:\n    policy: semver\n    range: \"~1.x.y.z\"\n    interval: 10s\n",
			"apps/shop/regex.yaml":    "source:\n  type: image\n  image: reg/web:main-1\n  update: {policy: newest, pattern: \"^main-(\", push: sideways, range: \"~1\"}\n",
			"apps/shop/none.yaml":     "source:\n  type: image\n  image: reg/web:1\n  update: {stage: build}\n",
			"apps/shop/ok.yaml":       "source:\n  type: image\n  image: reg/web:1.4.2\n  update: {policy: semver, range: \"~1.4\", interval: 10m, push: pull-request, branch: \"berth/update/{app}-{name}\"}\n",
			"apps/shop/df.yaml":       "source:\n  type: dockerfile\n  context: df\n  update: {policy: digest, stage: final}\n",
			"apps/shop/df/Dockerfile": "FROM reg/base:stable AS final\n"}},
		{name: "compose_volume_backups", files: map[string]string{
			"apps/db/ok.yaml":       "source:\n  type: compose\n  file: c/compose.yml\nvolumes:\n  data:\n    backup: {schedule: \"@daily\"}\n",
			"apps/db/bad.yaml":      "source:\n  type: compose\n  file: c/compose.yml\nvolumes:\n  data: /data\n  logs:\n    path: \"\"\n",
			"apps/db/c/compose.yml": "services:\n  db:\n    image: reg/db:1\n"}},
		{name: "resources", files: map[string]string{
			"berth.yaml":              "defaults:\n  resources: {memory: 256Mi, pids: 3}\n",
			"apps/shop/small.yaml":    "source:\n  type: image\n  image: reg/web:1\nresources:\n  memory: 1Mi\n  cpus: -1\n",
			"apps/shop/words.yaml":    "source:\n  type: image\n  image: reg/web:1\nresources: {memory: lots, cpus: half}\n",
			"apps/shop/compose.yaml":  "source:\n  type: compose\n  file: c/compose.yml\nresources: {memory: 1Gi}\n",
			"apps/shop/c/compose.yml": "services:\n  web:\n    image: reg/web:1\n",
			"apps/shop/ok.yaml":       "source:\n  type: image\n  image: reg/web:1\nresources: {memory: 512Mi, cpus: 0.5, pids: 256}\n"}},
		{name: "previews", files: map[string]string{
			"berth.yaml":           "previews:\n  host: pr.example.com\n  max: -1\n  ttl: -1h\n  branches: [\"[\"]\n  workloads: [Web]\n",
			"apps/shop/app.yaml":   "previews:\n  pull_requests: true\n  host: \"{slug}..example.com\"\n",
			"apps/shop/web.yaml":   "source:\n  type: image\n  image: reg/web:1\n",
			"apps/blog/app.yaml":   "previews:\n  pull_requests: true\n  host: \"{slug}.preview.example.com\"\n  placement: {labels: {role: preview}}\n",
			"apps/blog/posts.yaml": "source:\n  type: image\n  image: reg/blog:1\n"}},
		{name: "swarm_fields", files: map[string]string{
			"apps/shop/bad.yaml":      "source:\n  type: image\n  image: reg/web:1\nreplicas: -2\nmode: everywhere\nconstraints: [\"role==web\", \"node.labels.role==web\"]\n",
			"apps/shop/global.yaml":   "source:\n  type: image\n  image: reg/web:1\nmode: global\nreplicas: 2\n",
			"apps/shop/pinned.yaml":   "source:\n  type: image\n  image: reg/web:1\nport: 8080\nhost_port: 8080\nreplicas: 3\n",
			"apps/shop/stack.yaml":    "source:\n  type: compose\n  file: c/compose.yml\nreplicas: 2\n",
			"apps/shop/c/compose.yml": "services:\n  web:\n    image: reg/web:1\n",
			"apps/shop/ok.yaml":       "source:\n  type: image\n  image: reg/web:1\nreplicas: 3\nconstraints: [\"node.labels.role == web\", \"node.role!=manager\"]\n"}},
		{name: "data_safety", files: map[string]string{
			"apps/db/no-snapshot.yaml": "source:\n  type: image\n  image: db:1\nvolumes:\n  data: /data\non_failure: restore-data\n",
			"apps/db/no-volume.yaml":   "source:\n  type: image\n  image: db:1\nsnapshot_before_deploy: true\n",
			"apps/db/bad-word.yaml":    "source:\n  type: image\n  image: db:1\nvolumes:\n  data: /data\nsnapshot_before_deploy: true\non_failure: restore\n",
			"apps/db/ok.yaml":          "source:\n  type: image\n  image: db:1\nvolumes:\n  data: /data\nsnapshot_before_deploy: true\non_failure: restore-data\n"}},
		{name: "compose_blue_green", files: map[string]string{
			"apps/shop/stack.yaml":        "source:\n  type: compose\n  file: stack/compose.yml\n  deploy_strategy: blue-green\n",
			"apps/shop/stack/compose.yml": "services:\n  web:\n    image: nginx\n"}},
		{name: "bad_names", files: map[string]string{
			"apps/Shop/web.yaml":   okImage,
			"apps/shop/Web_1.yaml": okImage}},
		{name: "case_collision", files: map[string]string{
			"apps/shop/web.yaml": okImage,
			"apps/shop/Web.yaml": okImage}},
		{name: "source_type", files: map[string]string{
			"apps/shop/a.yaml": "source:\n  type: helm\n",
			"apps/shop/b.yaml": "source:\n  image: nginx\n",
			"apps/shop/c.yaml": "port: 80\n",
			"apps/shop/d.yaml": "source: nginx\n"}},
		{name: "path_escape", files: map[string]string{
			"apps/shop/site.yaml": "source:\n  type: static\n  dir: ../../../etc\n",
			"apps/shop/abs.yaml":  "source:\n  type: static\n  dir: /etc\n",
			"apps/shop/gone.yaml": "source:\n  type: dockerfile\n  context: nothere\n",
			"apps/shop/link.yaml": "source:\n  type: dockerfile\n  context: outside\n"},
			setup: func(t *testing.T, dir string) {
				require.NoError(t, os.Symlink(t.TempDir(), filepath.Join(dir, "apps/shop/outside")))
			}},
		{name: "route_port_healthcheck", files: map[string]string{
			"apps/shop/web.yaml": okImage + "port: 70000\nroute:\n  hosts: [shop.example.com, \"not a host\"]\nhealthcheck:\n  path: healthz\n  timeout: soon\n"}},
		{name: "duplicate_host", files: map[string]string{
			"apps/shop/web.yaml": okImage + "port: 80\nroute:\n  hosts: [shop.example.com]\n",
			"apps/blog/web.yaml": okImage + "port: 80\nroute:\n  hosts: [www.example.com, shop.example.com]\n"}},
		{name: "env_names", files: map[string]string{
			"apps/shop/web.yaml": okImage + "env:\n  GOOD: 1\n  1BAD: x\n  ALSO-BAD: y\n  NESTED: {a: b}\n"}},
		{name: "syntax", files: map[string]string{
			"apps/shop/web.yaml": "source:\n  type: image\n image: x\n"}},
		{name: "repo_config", files: map[string]string{
			"berth.yaml":         "secrets:\n  on_error: explode\ndefaults:\n  healthcheck:\n    path: nope\n  stop_grace: 5s\n",
			"apps/shop/web.yaml": okImage}},
		{name: "host_port_blue_green", files: map[string]string{
			"apps/db/pg.yaml":  "source:\n  type: image\n  image: postgres:16\n  deploy_strategy: blue-green\nport: 5432\nhost_port: 5432\n",
			"apps/db/bad.yaml": okImage + "host_port: 99999\n"}},
		{name: "compose_file", files: map[string]string{
			"apps/shop/a.yaml":        "source:\n  type: compose\n  file: a/compose.yml\n",
			"apps/shop/a/compose.yml": "services: [\n",
			"apps/shop/b.yaml":        "source:\n  type: compose\n  file: ../../../outside.yml\nroute:\n  hosts: [b.example.com]\n"}},
		{name: "secret_files", files: map[string]string{
			"berth.yaml":                   "secrets:\n  recipients: [age1notakey]\n",
			"apps/shop/web.yaml":           okImage,
			"secrets/db_password.age":      "age-encryption.org/v1\n",
			"secrets/TOKEN.age":            "plaintext, oops",
			"apps/shop/secrets/KEY.age":    "age-encryption.org/v1\n",
			"apps/shop/secrets/key.age":    "age-encryption.org/v1\n",
			"apps/shop/secrets/README.txt": "ignored"}},
		{name: "volumes", files: map[string]string{
			"apps/db/pg.yaml":           "source:\n  type: image\n  image: postgres:16\nvolumes:\n  data: /var/lib/postgresql/data\n  Bad: /x\n  rel: data\n  again: /var/lib/postgresql/data/\n",
			"apps/db/stack.yaml":        "source:\n  type: compose\n  file: stack/compose.yml\nvolumes:\n  data: /data\n",
			"apps/db/stack/compose.yml": "services:\n  db:\n    image: postgres\n"}},
		{name: "duplicate_keys", files: map[string]string{
			"berth.yaml":         "defaults:\n  stop_grace_period: 5s\n  stop_grace_period: 50s\n",
			"apps/shop/web.yaml": okImage + "port: 8080\nenv:\n  A: one\n  A: two\nport: 9090\n",
			"apps/shop/api.yaml": okImage + "port: 0\n"}},
		{name: "compose_projects", files: map[string]string{
			"apps/a-b/c.yaml":        "source:\n  type: compose\n  file: s/compose.yml\n  project: shared\n",
			"apps/a-b/s/compose.yml": "services:\n  web:\n    image: nginx\n",
			"apps/a/b-c.yaml":        "source:\n  type: compose\n  file: s/compose.yml\n  project: shared\n",
			"apps/a/s/compose.yml":   "services:\n  web:\n    image: nginx\n",
			"apps/a/escape.yaml":     "source:\n  type: compose\n  file: s/compose.yml\n  project: ../../x\n"}},
		{name: "stack", files: map[string]string{
			"apps/shop/a.yaml":        "source:\n  type: stack\n  file: a/compose.yml\n  deploy_strategy: blue-green\nroute:\n  hosts: [a.example.com]\nport: 80\n",
			"apps/shop/a/compose.yml": "services:\n  web:\n    image: nginx\n    privileged: true\n",
			"apps/shop/b.yaml":        "source:\n  type: stack\n  file: a/compose.yml\n  stack: berth-shop_a\nvolumes:\n  data: /data\n",
			"apps/shop/c.yaml":        "source:\n  type: stack\n  file: c.yml\n  stack: Bad/Name\n  deploy_strategy: recreate\n"}},
		{name: "notifications", files: map[string]string{
			"berth.yaml": "notifications:\n  - url: https://hooks.example.com/x\n    url_secret: ALSO\n  - {}\n  - url: \"not a url\"\n" +
				"  - url: nosuchservice://x\n  - url_secret: lower-case\n  - url: https://hooks.example.com/y\n    events: [deploy.failed, notify.failed]\n" +
				"  - url: https://hooks.example.com/z\n    evnets: [deploy.failed]\n  - just a string\n",
			"apps/shop/web.yaml": okImage}},
		{name: "registries", files: map[string]string{
			"berth.yaml": "registries:\n  - host: registry.example.com\n    username: deploy\n    password_secret: TOKEN\n" +
				"  - host: registry.example.com\n    username: again\n    password_secret: TOKEN\n  - host: \"https://x\"\n    password_secret: bad-name\n",
			"apps/shop/web.yaml": okImage}},
		{name: "placement", files: map[string]string{
			"apps/shop/a.yaml": okImage + "placement: {}\n",
			"apps/shop/b.yaml": okImage + "placement:\n  agents: [Host_A, host-b]\n  labels: {role: \"\", Bad: x}\n",
			"apps/shop/c.yaml": okImage + "placement:\n  agent: [host-a]\n"}},
		{name: "too_large", files: map[string]string{
			"apps/shop/web.yaml": okImage + "env:\n  BIG: \"" + strings.Repeat("x", gitops.MaxFileSize) + "\"\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeTree(t, tc.files)
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			d, err := gitops.Load(dir, "")
			require.NoError(t, err)
			var lines []string
			for _, e := range d.AllErrors() {
				lines = append(lines, e.Error())
			}
			require.NotEmpty(t, lines, "the case must be invalid")
			got := strings.Join(lines, "\n") + "\n"
			golden := filepath.Join("testdata", "validate", tc.name+".golden")
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test ./gitops -update to create the golden file")
			assert.Equal(t, string(want), got)
		})
	}
}

func TestLoadValid(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"deploy/berth.yaml":                "defaults:\n  stop_grace_period: 3s\n  healthcheck:\n    path: /healthz\n",
		"deploy/apps/shop/app.yaml":        "defaults:\n  stop_grace_period: 7s\n",
		"deploy/apps/shop/web.yaml":        "source:\n  type: image\n  image: nginx\nport: 80\nenv:\n  PORT: 80\n  DEBUG: true\n",
		"deploy/apps/shop/notes.txt":       "not a workload",
		"deploy/apps/shop/site/index.html": "<h1>hi</h1>",
		"deploy/apps/blog/site.yaml":       "source:\n  type: static\n  dir: public\nport: 80\n",
		"deploy/apps/blog/public/a.html":   "a",
	})
	d, err := gitops.Load(dir, "deploy")
	require.NoError(t, err)
	require.Empty(t, d.AllErrors())
	require.Len(t, d.Workloads, 2)
	blog, shop := d.Workloads[0], d.Workloads[1]
	assert.Equal(t, "blog/site", blog.ID())
	assert.Equal(t, 3*time.Second, blog.StopGracePeriod.Std(), "berth.yaml default")
	assert.Equal(t, 7*time.Second, shop.StopGracePeriod.Std(), "app.yaml overrides berth.yaml")
	assert.Equal(t, "/healthz", shop.Healthcheck.Path)
	assert.Equal(t, map[string]string{"PORT": "80", "DEBUG": "true"}, shop.Env, "scalars read as strings")
	assert.Equal(t, "nginx", shop.Source.(*image.Config).Image)
	assert.Len(t, shop.Hash, 64)

	_, err = gitops.Load(dir, "../elsewhere")
	require.Error(t, err)
}

// TestHashStability: the hash moves with the config and nothing else.
func TestHashStability(t *testing.T) {
	load := func(files map[string]string) *sources.Workload {
		d, err := gitops.Load(writeTree(t, files), "")
		require.NoError(t, err)
		require.Empty(t, d.AllErrors())
		return d.Workloads[0]
	}
	base := load(map[string]string{"apps/a/w.yaml": okImage + "env:\n  A: \"1\"\n  B: \"2\"\n"})
	reordered := load(map[string]string{"apps/a/w.yaml": "# a comment\nenv:\n  B: \"2\"\n  A: \"1\"\n" + okImage, "README.md": "other"})
	changed := load(map[string]string{"apps/a/w.yaml": okImage + "env:\n  A: \"1\"\n  B: \"3\"\n"})
	assert.Equal(t, base.Hash, reordered.Hash, "key order, comments and other files do not matter")
	assert.NotEqual(t, base.Hash, changed.Hash)
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }
