package main_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthops/berth/testkit/browsertest"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// berth backup, backups and restore against a running agent with only
// BERTH_AGENT set: the volume's data comes back after it was overwritten.
func TestBackupCommands(t *testing.T) {
	w := newCLIWorld(t)
	key := filepath.Join(t.TempDir(), "key.txt")
	r := run(t, nil, "secrets", "keygen", "--out", key)
	require.Equal(t, 0, r.code, r.stderr)
	w.src.Write("berth.yaml", "secrets:\n  recipients: ["+strings.TrimSpace(r.stdout)+"]\n")
	w.src.Write("apps/"+w.app+"/db.yaml", "source:\n  type: image\n  image: "+w.img+"\nenv:\n  DATA_FILE: /data/value\nport: 8080\nvolumes:\n  data: /data\n").Push("db")
	t.Cleanup(func() {
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=berth.agent="+w.name).Output()
		for _, id := range strings.Fields(string(out)) {
			_ = exec.Command("docker", "rm", "-f", id).Run()
		}
		vols, _ := exec.Command("docker", "volume", "ls", "-q", "--filter", "label=berth.agent="+w.name).Output()
		for _, v := range strings.Fields(string(vols)) {
			_ = exec.Command("docker", "volume", "rm", "-f", v).Run()
		}
	})
	state := t.TempDir()
	ag := startAgent(t, "--repo", w.src.URL, "--state-dir", state, "--agent-name", w.name, "--schedule", "@every 1h",
		"--router", "none", "--status-branch", "", "--identity", key, "--backup-dir", filepath.Join(t.TempDir(), "backups"))
	env := []string{"BERTH_AGENT=http://" + ag.addr}
	id := w.app + "/db"
	upstream := func() string {
		var views []struct {
			ID       string `json:"workload_id"`
			Upstream string `json:"upstream"`
		}
		r := run(t, env, "status", "--json")
		require.Equal(t, 0, r.code, r.stderr)
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &views))
		for _, v := range views {
			if v.ID == id {
				return v.Upstream
			}
		}
		return ""
	}
	require.Eventually(t, func() bool { return upstream() != "" }, 30*time.Second, 300*time.Millisecond)
	put := func(body string) {
		req, err := http.NewRequest(http.MethodPut, "http://"+upstream()+"/data", bytes.NewBufferString(body))
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
	}
	get := func() string {
		resp, err := http.Get("http://" + upstream() + "/data")
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	put("before")

	r = run(t, env, "backup", id)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "data")
	r = run(t, env, "backups", id, "--json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"volume": "data"`)
	put("after")
	assert.Equal(t, "after", get())

	r = run(t, env, "restore", id, "data")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "before", get())
	r = run(t, env, "restore", id, "nosuch")
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, "no snapshot")

	// The workload's page lists its snapshots, in English and Russian.
	ctx := browsertest.New(t)
	pageHas := func(sel, text string) chromedp.Action[chromedp.Void] {
		expr := `!!document.querySelector(` + quote(sel) + `)?.textContent.includes(` + quote(text) + `)`
		return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(30*time.Second))
	}
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate("http://"+ag.addr+"/w/"+id),
		pageHas("#snapsection", "Snapshots"),
		pageHas("#snapshots", "data"),
		chromedp.Navigate("http://"+ag.addr+"/w/"+id+"?lang=ru"),
		pageHas("#snapsection", "Снимки"),
		pageHas("#snapsection", "Том"),
	), ag.stderr.String())
}
