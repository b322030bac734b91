package agent_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/api"
	"github.com/berthops/berth/secrets"
	"github.com/berthops/berth/testkit/agenttest"
)

// berth logs through the agent's API: -f follows the serving container
// and ends, with a line saying why, when a deploy replaces it; the output
// of a new version that failed its gate stays readable (--previous) after
// the old version is back; a shared secret the app prints is redacted
// everywhere, and never lands in an event.
func TestLogsFollowAndKeptOutputOfAFailedVersion(t *testing.T) {
	h := newHarness(t)
	const canary = "CANARY-logs-61f0-do-not-leak"
	keyFile := filepath.Join(t.TempDir(), "key.txt")
	rcpt := strings.TrimSpace(strings.Split(berthCLI(t, "", "secrets", "keygen", "--out", keyFile), "\n")[0])
	h.Repo.Write("berth.yaml", "secrets:\n  recipients: ["+rcpt+"]\n")
	web := func(msg, extra string) string {
		return fmt.Sprintf("source:\n  type: image\n  image: %s\n  deploy_strategy: blue-green\nenv:\n  MESSAGE: %q\n  LOG_EVERY: 50ms\n  PRINT_ENV: API_KEY\n%sport: 8080\nhealthcheck:\n  path: /healthz\n  timeout: 2s\n", h.Image, msg, extra)
	}
	h.Workload("web", web("v1", ""))
	berthCLI(t, canary, "secrets", "set", "API_KEY", "--app", h.App, "--dir", h.Repo.Dir)
	red := secrets.NewRedactor()
	ids, err := secrets.LoadIdentities([]string{keyFile})
	require.NoError(t, err)
	key, err := secrets.LoadKey(filepath.Join(h.StateDir, "secret.key"))
	require.NoError(t, err)
	a, st := h.Start("v1", agent.Options{Secrets: secrets.NewResolver(ids, nil, red), SecretKey: key, Redactor: red})
	srv := httptest.NewServer(api.New(a, st, nil, api.Options{Branch: a.Branch(), Redact: red.Redact}).Handler())
	defer srv.Close()
	ctx := context.Background()
	wid := h.ID("web")
	logsURL := srv.URL + "/api/workloads/" + wid + "/logs"

	get := func(q string) string {
		resp, err := http.Get(logsURL + "?" + q)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
		return string(b)
	}
	out := get("tail=50")
	assert.Contains(t, out, "API_KEY=***", "the secret the app printed is redacted")
	assert.NotContains(t, out, canary)

	// Follow: lines arrive live, then the stream ends when a deploy
	// replaces the container.
	resp, err := http.Get(logsURL + "?follow=1&tail=1")
	require.NoError(t, err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var followed []string
	for sc.Scan() && len(followed) < 5 {
		followed = append(followed, sc.Text())
	}
	require.Len(t, followed, 5, "live lines arrive")
	assert.Contains(t, strings.Join(followed, "\n"), "v1 line")
	h.Workload("web", web("v2", ""))
	h.Repo.Push("v2")
	_, err = a.Tick(ctx)
	require.NoError(t, err)
	var last string
	for sc.Scan() { // ends: bounded by the container's stop
		last = sc.Text()
	}
	assert.Contains(t, last, "stopped", "the stream says why it ended")

	// A new version that never gets ready: blue stays, green is removed,
	// and its output is kept.
	h.Workload("web", web("v3-broken", "  NEVER_READY: \"1\"\n"))
	h.Repo.Push("v3 never ready")
	_, err = a.Tick(ctx)
	require.ErrorIs(t, err, agent.ErrDeployFailed)
	prev := get("previous=1")
	assert.Contains(t, prev, "v3-broken line", "the failed version's last lines are readable")
	assert.Contains(t, prev, "failed")
	assert.Contains(t, prev, "v1 line", "and those of the versions a deploy replaced")
	assert.NotContains(t, prev, canary)
	assert.Contains(t, get("tail=5"), "v2 line", "v2 still serves")

	for _, e := range agenttest.Events(t, st, wid) {
		assert.NotContains(t, e.Message, "v3-broken line", "output never goes into events")
		assert.NotContains(t, e.Message, canary)
	}
	time.Sleep(10 * time.Millisecond)
}
