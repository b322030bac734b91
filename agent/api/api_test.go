package api

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/badge"
)

func TestWebhookSignatures(t *testing.T) {
	a, ta, _ := testServer(t, agent.Options{}, Options{WebhookSecret: "hook-secret"})
	srv := a.Handler()
	body := `{"ref":"refs/heads/main"}`
	sign := func(secret string) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(body))
		return "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	tests := []struct {
		name   string
		header map[string]string
		code   int
	}{
		{"github", map[string]string{"X-Hub-Signature-256": sign("hook-secret")}, http.StatusAccepted},
		{"gitea", map[string]string{"X-Gitea-Signature": strings.TrimPrefix(sign("hook-secret"), "sha256=")}, http.StatusAccepted},
		{"gitlab", map[string]string{"X-Gitlab-Token": "hook-secret"}, http.StatusAccepted},
		{"wrong signature", map[string]string{"X-Hub-Signature-256": sign("other")}, http.StatusUnauthorized},
		{"wrong gitlab token", map[string]string{"X-Gitlab-Token": "nope"}, http.StatusUnauthorized},
		{"unsigned", nil, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/hooks/git", strings.NewReader(body))
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			assert.Equal(t, tc.code, rec.Code)
			if tc.code == http.StatusAccepted {
				select {
				case <-ta.triggers: // a valid hook queues a tick
				default:
					t.Error("no tick was triggered")
				}
			}
		})
	}
	other := `{"ref":"refs/heads/berth/status"}`
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/hooks/git", strings.NewReader(other))
	req.Header.Set("X-Gitlab-Token", "hook-secret")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusAccepted, rec.Code)
	assert.Contains(t, rec.Body.String(), "ignored: not a push to the watched branch")
	select {
	case <-ta.triggers:
		t.Error("a push to another branch triggered a tick")
	default:
	}
	off, ta, _ := testServer(t, agent.Options{}, Options{})
	rec = httptest.NewRecorder()
	off.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "http://127.0.0.1/hooks/git", strings.NewReader(body)))
	assert.Equal(t, http.StatusNotFound, rec.Code, "without a secret the hook is off")
}

func TestAPIBearerToken(t *testing.T) {
	a, _, _ := testServer(t, agent.Options{}, Options{Token: "api-token"})
	srv := a.Handler()
	for _, tc := range []struct {
		path, auth string
		code       int
	}{
		{"/api/workloads", "", http.StatusUnauthorized},
		{"/api/workloads", "Bearer wrong", http.StatusUnauthorized},
		{"/api/workloads", "Bearer api-token", http.StatusOK},
		{"/metrics", "", http.StatusUnauthorized},
		{"/healthz", "", http.StatusOK},
		{"/badges/shop/web.svg", "", http.StatusOK},
	} {
		t.Run(tc.path+" "+tc.auth, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1"+tc.path, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			assert.Equal(t, tc.code, rec.Code)
		})
	}
}

// signedHook returns a sender of deliveries signed with secret (GitHub's
// header): the answer's code, whether it queued a tick, and its body.
func signedHook(a *Server, ta *testAgent, secret string) func(body string, header map[string]string) (int, bool, string) {
	srv := a.Handler()
	return func(body string, header map[string]string) (int, bool, string) {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(body))
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/hooks/git", strings.NewReader(body))
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
		for k, v := range header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		select {
		case <-ta.triggers:
			return rec.Code, true, rec.Body.String()
		default:
			return rec.Code, false, rec.Body.String()
		}
	}
}

// TestWebhookTicksOnlyForPushesToTheBranch: pings, other events, tags and
// deliveries without a ref do not tick; GitHub's and Gitea's form-encoded
// deliveries are read like JSON ones.
func TestWebhookTicksOnlyForPushesToTheBranch(t *testing.T) {
	a, ta, _ := testServer(t, agent.Options{}, Options{WebhookSecret: "hook-secret"})
	send := signedHook(a, ta, "hook-secret")
	form := func(json string) string { return "payload=" + url.QueryEscape(json) }
	for _, tc := range []struct {
		name   string
		body   string
		header map[string]string
		tick   bool
	}{
		{"a push", `{"ref":"refs/heads/main"}`, map[string]string{"X-GitHub-Event": "push"}, true},
		{"a generic push", `{"ref":"refs/heads/main"}`, nil, true},
		{"a ping", `{"zen":"hi","hook_id":1}`, map[string]string{"X-GitHub-Event": "ping"}, false},
		{"a pull request, no previews configured", `{"action":"opened","pull_request":{"base":{"ref":"main"}}}`, map[string]string{"X-GitHub-Event": "pull_request"}, false},
		{"a branch created", `{"ref":"main","ref_type":"branch"}`, map[string]string{"X-Gitea-Event": "create"}, false},
		{"a delete", `{"ref":"refs/heads/main"}`, map[string]string{"X-Gitea-Event": "delete"}, false},
		{"a tag push", `{"ref":"refs/tags/v1"}`, map[string]string{"X-GitHub-Event": "push"}, false},
		{"no ref", `{}`, nil, false},
		{"GitHub, form-encoded", form(`{"ref":"refs/heads/main"}`), map[string]string{"X-GitHub-Event": "push", "Content-Type": "application/x-www-form-urlencoded"}, true},
		{"GitHub, form-encoded, another branch", form(`{"ref":"refs/heads/dev"}`), map[string]string{"X-GitHub-Event": "push", "Content-Type": "application/x-www-form-urlencoded"}, false},
		{"a form with more fields", "x=1&" + form(`{"ref": "refs/heads/main", "message": "a b+c"}`) + "&y=2", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, true},
		{"a big push payload", `{"commits":[` + strings.Repeat(`{"id":"abc","message":"x"},`, 20000) + `{}],"ref":"refs/heads/main"}`, map[string]string{"X-GitHub-Event": "push"}, true},
		{"Gitea, form-encoded", form(`{"ref":"refs/heads/main"}`), map[string]string{"X-Gitea-Event": "push", "Content-Type": "application/x-www-form-urlencoded"}, true},
	} {
		code, ticked, _ := send(tc.body, tc.header)
		assert.Equal(t, http.StatusAccepted, code, tc.name)
		assert.Equal(t, tc.tick, ticked, tc.name)
	}
}

// TestPullRequestWebhooksTickForPreviews: with previews configured, a
// pull-request delivery against the watched branch (GitHub, Gitea and
// Forgejo: pull_request.base.ref; GitLab: object_attributes.target_branch)
// starts a tick; one against another branch does not.
func TestPullRequestWebhooksTickForPreviews(t *testing.T) {
	a, ta, _ := testServer(t, agent.Options{}, Options{WebhookSecret: "hook-secret"})
	ta.previews = true
	hook := signedHook(a, ta, "hook-secret")
	send := func(body string, header map[string]string) (string, bool) {
		code, ticked, answer := hook(body, header)
		require.Equal(t, http.StatusAccepted, code)
		return answer, ticked
	}
	for _, tc := range []struct {
		name   string
		body   string
		header map[string]string
		tick   bool
	}{
		{"GitHub, opened", `{"action":"opened","number":3,"pull_request":{"head":{"ref":"feature"},"base":{"ref":"main","sha":"abc"}}}`, map[string]string{"X-GitHub-Event": "pull_request"}, true},
		{"Gitea, synchronized", `{"action":"synchronized","pull_request":{"base":{"ref":"main"}}}`, map[string]string{"X-Gitea-Event": "pull_request"}, true},
		{"Forgejo, closed", `{"action":"closed","pull_request":{"base":{"ref":"main"}}}`, map[string]string{"X-Forgejo-Event": "pull_request"}, true},
		{"GitLab, merge request", `{"object_kind":"merge_request","object_attributes":{"target_branch":"main","source_branch":"f"}}`, map[string]string{"X-Gitlab-Event": "Merge Request Hook"}, true},
		{"against another branch", `{"action":"opened","pull_request":{"base":{"ref":"dev"}}}`, map[string]string{"X-GitHub-Event": "pull_request"}, false},
		{"a base that is not a string", `{"action":"opened","pull_request":{"base":{"ref":7}}}`, map[string]string{"X-GitHub-Event": "pull_request"}, false},
		{"a review comment", `{"action":"created","pull_request":{"base":{"ref":"main"}}}`, map[string]string{"X-GitHub-Event": "pull_request_review_comment"}, false},
		{"a push still ticks", `{"ref":"refs/heads/main"}`, map[string]string{"X-GitHub-Event": "push"}, true},
	} {
		msg, ticked := send(tc.body, tc.header)
		assert.Equal(t, tc.tick, ticked, "%s: %s", tc.name, msg)
	}
	ta.previews = false
	msg, ticked := send(`{"action":"opened","pull_request":{"base":{"ref":"main"}}}`, map[string]string{"X-GitHub-Event": "pull_request"})
	assert.False(t, ticked)
	assert.Contains(t, msg, "no previews are configured")
}

// readCounter counts the bytes read from it.
type readCounter struct{ n int }

func (c *readCounter) Read(p []byte) (int, error) {
	c.n += len(p)
	return len(p), nil
}

// TestUnsignedWebhookIsNotRead: a delivery without a signature is refused
// before its body is read, so forged large bodies cost nothing.
func TestUnsignedWebhookIsNotRead(t *testing.T) {
	a, ta, _ := testServer(t, agent.Options{}, Options{WebhookSecret: "hook-secret"})
	body := &readCounter{}
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/hooks/git", io.LimitReader(body, 25<<20))
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, req)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Zero(t, body.n, "the body was read")
	req = httptest.NewRequest(http.MethodPost, "http://127.0.0.1/hooks/git", strings.NewReader("x"))
	req.Header.Set("X-Gitlab-Token", "wrong")
	rec = httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, req)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	select {
	case <-ta.triggers:
		t.Error("a refused hook ticked")
	default:
	}
}

func TestWorkloadEventsAPI(t *testing.T) {
	a, _, st := testServer(t, agent.Options{}, Options{})
	ctx := context.Background()
	for i := range 5 {
		sev := store.SeverityInfo
		if i%2 == 1 {
			sev = store.SeverityError
		}
		_, err := st.AddEvent(ctx, store.Event{WorkloadID: "shop/web", Kind: "deploy.started", Severity: sev, Message: fmt.Sprint(i)})
		require.NoError(t, err)
	}
	_, err := st.AddEvent(ctx, store.Event{WorkloadID: "shop/api", Kind: "deploy.started", Message: "other"})
	require.NoError(t, err)
	get := func(path string) (int, []store.Event) {
		rec := httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1"+path, nil))
		var evs []store.Event
		if rec.Code == http.StatusOK {
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &evs))
		}
		return rec.Code, evs
	}
	code, evs := get("/api/workloads/shop/web/events?limit=2")
	require.Equal(t, http.StatusOK, code)
	require.Len(t, evs, 2)
	assert.Equal(t, "4", evs[0].Message, "newest first")
	_, more := get(fmt.Sprintf("/api/workloads/shop/web/events?limit=2&before=%d", evs[1].ID))
	require.Len(t, more, 2)
	assert.Equal(t, "2", more[0].Message, "load more continues below the oldest shown")
	_, errs := get("/api/workloads/shop/web/events?severity=error")
	assert.Len(t, errs, 2)
	for _, e := range errs {
		assert.Equal(t, "shop/web", e.WorkloadID, "the id is pinned from the path")
	}
	for _, bad := range []string{"limit=0", "limit=x", "before=x", "severity=fatal"} {
		code, _ := get("/api/workloads/shop/web/events?" + bad)
		assert.Equal(t, http.StatusBadRequest, code, bad)
	}
}

func TestWorkloadsAPIAndBadge(t *testing.T) {
	a, _, st := testServer(t, agent.Options{}, Options{})
	ctx := context.Background()
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1/api/workloads", nil))
	assert.JSONEq(t, "[]", rec.Body.String(), "no workloads is an empty list, not null")

	require.NoError(t, st.PutRuntime(ctx, store.Runtime{WorkloadID: "shop/web", Status: store.StatusRunning, LastDeploy: store.DeploySucceeded}))
	require.NoError(t, st.PutRuntime(ctx, store.Runtime{WorkloadID: "shop/api", Status: store.StatusRunning, LastDeploy: store.DeployFailed}))
	rec = httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1/api/workloads", nil))
	var rows []store.Runtime
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rows))
	assert.Len(t, rows, 2)

	var views []agent.WorkloadView
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &views))
	assert.Equal(t, agent.StateDegraded, views[0].State, "the API says what serves: shop/api's last deploy failed")
	for id, want := range map[string]string{"shop/web": "running", "shop/api": "degraded", "shop/none": "unknown"} {
		rec = httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1/badges/"+id+".svg", nil))
		assert.Equal(t, "image/svg+xml", rec.Header().Get("Content-Type"))
		assert.Equal(t, string(badge.SVG(id, want)), rec.Body.String(), id)
	}
}

// TestReadyz: /readyz answers the agent's readiness: 503 with the
// reason, or 200.
func TestReadyz(t *testing.T) {
	a, ta, _ := testServer(t, agent.Options{}, Options{})
	readyz := func() (int, string) {
		rec := httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1/readyz", nil))
		return rec.Code, rec.Body.String()
	}
	code, body := readyz()
	assert.Equal(t, http.StatusServiceUnavailable, code, "a real agent that never ticked is not ready")
	assert.Contains(t, body, "no tick has succeeded yet")
	ta.ready = func() (bool, string) { return true, "ready" }
	code, _ = readyz()
	assert.Equal(t, http.StatusOK, code)
	ta.ready = func() (bool, string) { return false, "no tick has succeeded for 3m31s" }
	code, body = readyz()
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "no tick has succeeded for 3m31s")
}

// TestEventStreamIsLiveAndFiltered: the SSE stream delivers new events as
// they are written, only the asked workload's. (That the events are
// redacted before they reach a subscriber is the agent's: its tests.)
func TestEventStreamIsLiveAndFiltered(t *testing.T) {
	a, ta, _ := testServer(t, agent.Options{}, Options{})
	ta.events = make(chan store.Event, 4)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/events/stream?workload=shop/web", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	r := bufio.NewReader(resp.Body)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, ": connected\n", line)

	ta.events <- store.Event{ID: 1, WorkloadID: "shop/api", Kind: "deploy.started", Message: "not this one"}
	ta.events <- store.Event{ID: 2, WorkloadID: "shop/web", Kind: "deploy.failed", Severity: store.SeverityError, Message: "token *** leaked?"}
	var data, id, kind string
	for data == "" {
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		line = strings.TrimSuffix(line, "\n")
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			data = d
		}
		if v, ok := strings.CutPrefix(line, "id: "); ok {
			id = v
		}
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			kind = v
		}
	}
	var ev store.Event
	require.NoError(t, json.Unmarshal([]byte(data), &ev))
	assert.Equal(t, "shop/web", ev.WorkloadID)
	assert.Equal(t, "2", id)
	assert.Equal(t, "deploy.failed", kind)
}

func TestMetricsExposition(t *testing.T) {
	a, _, st := testServer(t, agent.Options{}, Options{})
	require.NoError(t, st.PutRuntime(context.Background(), store.Runtime{WorkloadID: "shop/web", Status: store.StatusRunning}))
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1/metrics", nil))
	for _, want := range []string{`berth_workloads{state="running"} 1`, "berth_sql_queries_total", "berth_last_successful_tick_timestamp_seconds",
		"berth_tick_duration_seconds_bucket", "go_goroutines", "process_resident_memory_bytes"} {
		assert.Contains(t, rec.Body.String(), want)
	}
}
