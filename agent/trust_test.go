package agent_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/testkit/agenttest"
)

// TestComposeCommitCannotTakeTheHost: compose files an attacker with
// merge rights could commit, each once verified to run code as root on
// the host or to reach another app on the old main. Berth renders the
// project in process, with only the workload's variables, and checks the
// typed result: each is refused before anything runs, or (the
// environment attacks) deploys without the repo's values ever reaching a
// process environment.
func TestComposeCommitCannotTakeTheHost(t *testing.T) {
	requireCompose(t)
	marker := filepath.Join(t.TempDir(), "pwned")
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "host.env"), []byte("STOLEN=host-secret\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "evil.yml"), []byte("services:\n  evil:\n    image: x\n    privileged: true\n"), 0o644))
	script := fmt.Sprintf("#!/bin/sh\ntouch %s\n", marker)
	tests := []struct {
		name    string
		compose string            // services.web's body, indented by 4
		extra   string            // top-level sections
		env     string            // the workload's env block
		files   map[string]string // more files beside compose.yml
		refused string            // what the failure says; "" deploys
	}{
		{name: "DOCKER_CONFIG points the CLI at a committed plugin",
			compose: "image: %s\n", env: "env:\n  DOCKER_CONFIG: dc\n",
			files: map[string]string{"dc/cli-plugins/docker-compose": script, "dc/config.json": "{}"}},
		{name: "COMPOSE_ENV_FILES reads host files", compose: "image: %s\nenvironment:\n  S: ${STOLEN:-none}\n",
			env: "env:\n  COMPOSE_ENV_FILES: " + filepath.Join(outside, "host.env") + "\n"},
		{name: "DOCKER_HOST sends the login elsewhere", compose: "image: %s\n", env: "env:\n  DOCKER_HOST: tcp://127.0.0.1:1\n"},
		{name: "a provider runs a repo file", compose: "provider:\n  type: ./evil.sh\n", files: map[string]string{"evil.sh": script},
			refused: "needs --allow providers"},
		{name: "a default that renders as /", compose: "image: %s\nvolumes: [\"${SRC:-/}:/host:ro\"]\n", refused: "bind mount of /"},
		{name: "another app's pid namespace", compose: "image: %s\npid: \"container:berth-other_app\"\n", refused: "needs --allow host-pid"},
		{name: "another container's network", compose: "image: %s\nnetwork_mode: \"container:berth-other_app\"\n", refused: "needs --allow host-network"},
		{name: "the host network as an external network", compose: "image: %s\nnetworks: [n]\n", extra: "networks:\n  n:\n    external: true\n    name: host\n",
			refused: "needs --allow host-network"},
		{name: "another workload's volume", compose: "image: %s\nvolumes: [\"shared:/d\"]\n", extra: "volumes:\n  shared:\n    external: true\n    name: berth-other_app_data\n",
			refused: "needs --allow shared-volumes"},
		{name: "another workload's volume by its name", compose: "image: %s\nvolumes: [\"data:/d\"]\n", extra: "volumes:\n  data:\n    name: berth-trust-other_app_data\n",
			refused: "not this workload's"},
		{name: "GPUs by reservation", compose: "image: %s\ndeploy:\n  resources:\n    reservations:\n      devices:\n        - capabilities: [gpu]\n",
			refused: "needs --allow devices"},
		{name: "a build on the host network", compose: "build:\n  context: .\n  network: host\n", refused: "needs --allow host-network"},
		{name: "a build context from the host", compose: "build:\n  context: .\n  additional_contexts:\n    h: /etc\n", refused: "needs --allow host-mounts"},
		{name: "seccomp that allows everything", compose: "image: %s\nsecurity_opt: [\"seccomp=allow.json\"]\n", files: map[string]string{"allow.json": `{"defaultAction":"SCMP_ACT_ALLOW"}`},
			refused: "needs --allow privileged"},
		{name: "a privileged hook", compose: "image: %s\npost_start:\n  - command: [\"/hello-server\"]\n    privileged: true\n", refused: "needs --allow privileged"},
		{name: "a writable bind of its own release", compose: "image: %s\nvolumes: [\"./:/w\"]\n", refused: "is writable"},
		{name: "an include outside the release", compose: "image: %s\n", extra: "include:\n  - " + filepath.Join(outside, "evil.yml") + "\n",
			refused: "outside the"},
		{name: "an include whose env_file is a host file", compose: "image: %s\n", extra: "include:\n  - path: more.yml\n    env_file: " + filepath.Join(outside, "host.env") + "\n",
			files: map[string]string{"more.yml": "services:\n  more:\n    image: x\n"}, refused: "outside the release"},
		{name: "a remote include", compose: "image: %s\n", extra: "include:\n  - https://127.0.0.1:1/evil.yml\n", refused: "remote resource"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			project := "berth-" + h.App + "_stack"
			t.Cleanup(func() {
				_ = exec.Command("docker", "compose", "-p", project, "down", "--remove-orphans").Run()
				_ = exec.Command("docker", "volume", "rm", "-f", "berth-trust-other_app_data").Run()
			})
			body := tt.compose
			if strings.Contains(body, "%s") {
				body = fmt.Sprintf(body, h.Image)
			}
			dir := "apps/" + h.App + "/stack/"
			h.Repo.Write(dir+"compose.yml", "services:\n  web:\n"+indent(body, "    ")+tt.extra)
			for name, content := range tt.files {
				h.Repo.Write(dir+name, content)
			}
			h.Workload("stack", "source:\n  type: compose\n  file: stack/compose.yml\n"+tt.env)
			h.Repo.Push(tt.name)
			for name := range tt.files { // executable, as a commit can make them
				_ = os.Chmod(filepath.Join(h.StateDir, "repo", dir, name), 0o755)
			}
			a, st := h.Agent(agent.Options{})
			_, err := a.Tick(context.Background())
			assert.NoFileExists(t, marker, "repo code ran on the host")
			if tt.refused == "" {
				require.NoError(t, err)
				require.Len(t, h.Containers()[h.ID("stack")], 1)
				return
			}
			require.Error(t, err)
			assert.Empty(t, h.Containers()[h.ID("stack")], "nothing of it runs")
			msg := agenttest.Rows(t, st)[h.ID("stack")].Message
			if msg == "" { // refused by the loader: the config is invalid
				evs := agenttest.Events(t, st, h.ID("stack"))
				require.NotEmpty(t, evs)
				msg = evs[len(evs)-1].Message
			}
			assert.Contains(t, msg, tt.refused)
		})
	}
}

// TestComposeNeverSeesTheAgentsEnvironment: a compose file that names a
// variable of the agent's own environment (cloud credentials, say) gets
// its default, never the value.
func TestComposeNeverSeesTheAgentsEnvironment(t *testing.T) {
	requireCompose(t)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "agent-canary-7f3a")
	h := newHarness(t)
	project := "berth-" + h.App + "_stack"
	t.Cleanup(func() { _ = exec.Command("docker", "compose", "-p", project, "down", "--remove-orphans").Run() })
	h.Repo.Write("apps/"+h.App+"/stack/compose.yml", fmt.Sprintf("services:\n  web:\n    image: %s\n    environment:\n      SHOW_ENV: \"1\"\n      LEAK: ${AWS_SECRET_ACCESS_KEY:-none}\n      PRICE: $$5 and ${GREETING}\n    ports: [\"127.0.0.1::8080\"]\n", h.Image))
	h.Workload("stack", "source:\n  type: compose\n  file: stack/compose.yml\nenv:\n  GREETING: hi $USER\n")
	h.Repo.Push("names the agent's variable")
	a, st := h.Agent(agent.Options{})
	_, err := a.Tick(context.Background())
	require.NoError(t, err)
	cs := h.Containers()[h.ID("stack")]
	require.Len(t, cs, 1)
	env := envOf(t, fmt.Sprintf("127.0.0.1:%d", cs[0].HostPort))
	assert.Equal(t, "none", env["LEAK"])
	assert.Equal(t, "$5 and hi $USER", env["PRICE"], "a rendered $ reaches the container as written, never interpolated twice")
	for _, ev := range agenttest.Events(t, st, h.ID("stack")) {
		assert.NotContains(t, ev.Message, "agent-canary")
	}
}

func indent(s, by string) string {
	out := ""
	for _, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		out += by + l + "\n"
	}
	return out
}
