package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/notify"
	"github.com/berthops/berth/policy"
	"github.com/berthops/berth/secrets"
	"github.com/berthops/berth/testkit/agenttest"
)

// receiver records what a notification destination got.
type receiver struct {
	mu     sync.Mutex
	bodies []string
	srv    *httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, string(b))
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...)
}

func (r *receiver) kinds(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, b := range r.got() {
		var m notify.Message
		require.NoError(t, json.Unmarshal([]byte(b), &m), b)
		out = append(out, m.Kind)
	}
	return out
}

// TestNotificationsOncePerFailureAndRecovery: a failing workload is
// notified once while it keeps failing, and once when it recovers, to a
// JSON destination and to a shoutrrr generic webhook whose URL is an
// age-encrypted shared secret; without --allow private-notify nothing is
// sent to a loopback address and a warning says why.
func TestNotificationsOncePerFailureAndRecovery(t *testing.T) {
	h := newHarness(t)
	plain, generic := newReceiver(t), newReceiver(t)
	keyFile := filepath.Join(t.TempDir(), "key.txt")
	rcpt := strings.TrimSpace(strings.Split(berthCLI(t, "", "secrets", "keygen", "--out", keyFile), "\n")[0])
	h.Repo.Write("berth.yaml", fmt.Sprintf("secrets:\n  recipients: [%s]\nnotifications:\n  - url: %s/hook\n  - url_secret: ALERTS_URL\n", rcpt, plain.srv.URL))
	genericURL := "generic://" + strings.TrimPrefix(generic.srv.URL, "http://") + "/hook?disabletls=yes"
	berthCLI(t, genericURL, "secrets", "set", "ALERTS_URL", "--dir", h.Repo.Dir)
	h.Workload("web", agenttest.Web(h.Image, "v0"))
	h.Repo.Push("notifications")

	red := secrets.NewRedactor()
	ids, err := secrets.LoadIdentities([]string{keyFile})
	require.NoError(t, err)
	key, err := secrets.LoadKey(filepath.Join(h.StateDir, "secret.key"))
	require.NoError(t, err)
	pol, err := policy.Parse("private-notify")
	require.NoError(t, err)
	a, st := h.Agent(agent.Options{Secrets: secrets.NewResolver(ids, nil, red), SecretKey: key, Redactor: red, Policy: pol,
		RetryBackoff: time.Millisecond, RetryMax: time.Millisecond})
	ctx := context.Background()
	_, err = a.Tick(ctx)
	require.NoError(t, err)
	a.Flush(ctx)
	assert.Empty(t, plain.got(), "a success is not a default event")

	h.Workload("web", agenttest.Web("127.0.0.1:1/none:v9", "v1"))
	h.Repo.Push("an image that cannot be pulled")
	for range 3 { // it keeps failing: one notification
		_, err = a.Tick(ctx)
		require.ErrorIs(t, err, agent.ErrDeployFailed)
		time.Sleep(5 * time.Millisecond)
	}
	a.Flush(ctx)
	assert.Equal(t, []string{"deploy.failed"}, plain.kinds(t))

	h.Workload("web", agenttest.Web(h.Image, "v2"))
	h.Repo.Push("fixed")
	_, err = a.Tick(ctx)
	require.NoError(t, err)
	_, err = a.Tick(ctx)
	require.NoError(t, err)
	a.Flush(ctx)
	assert.Equal(t, []string{"deploy.failed", "deploy.recovered"}, plain.kinds(t))
	var m notify.Message
	require.NoError(t, json.Unmarshal([]byte(plain.got()[0]), &m))
	assert.Equal(t, h.ID("web"), m.Workload)
	assert.Equal(t, h.Name, m.Agent)
	assert.Len(t, m.Commit, 40)

	got := generic.got()
	require.Len(t, got, 2, "the generic webhook (URL from a shared secret) hears the same two")
	assert.Contains(t, got[0], "berth "+h.Name+": deploy of "+h.ID("web"))
	assert.Contains(t, got[1], "recovered")
	for _, ev := range agenttest.Events(t, st, "") {
		assert.NotContains(t, ev.Message, "disabletls", "the secret URL never shows in an event")
	}
}

// TestNotificationsToPrivateAddressesNeedTheOperator: a loopback
// destination is refused without --allow private-notify, with a warning
// event that names the destination by scheme and host only.
func TestNotificationsToPrivateAddressesNeedTheOperator(t *testing.T) {
	h := newHarness(t)
	plain := newReceiver(t)
	h.Repo.Write("berth.yaml", fmt.Sprintf("notifications:\n  - url: %s/hook?token=s3cr3t\n    events: [deploy.succeeded]\n", plain.srv.URL))
	h.Workload("web", agenttest.Web(h.Image, "v0"))
	h.Repo.Push("notifications")
	a, st := h.Agent(agent.Options{})
	_, err := a.Tick(context.Background())
	require.NoError(t, err)
	a.Flush(context.Background())
	assert.Empty(t, plain.got())
	var warned bool
	for _, ev := range agenttest.Events(t, st, h.ID("web")) {
		if ev.Kind == string(agent.KindNotifyFailed) {
			warned = true
			assert.Contains(t, ev.Message, "http://127.0.0.1")
			assert.Contains(t, ev.Message, "--allow private-notify")
			assert.NotContains(t, ev.Message, "s3cr3t")
		}
	}
	assert.True(t, warned, "a warning event says why nothing was sent")
}
