package agent

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/badge"
)

func TestWebhookSignatures(t *testing.T) {
	a, _ := testAgent(t, Options{WebhookSecret: "hook-secret"})
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
				case <-a.trigger: // a valid hook queues a tick
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
	assert.Contains(t, rec.Body.String(), "ignored: a push to refs/heads/berth/status")
	select {
	case <-a.trigger:
		t.Error("a push to another branch triggered a tick")
	default:
	}
	off, _ := testAgent(t, Options{})
	rec = httptest.NewRecorder()
	off.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "http://127.0.0.1/hooks/git", strings.NewReader(body)))
	assert.Equal(t, http.StatusNotFound, rec.Code, "without a secret the hook is off")
}

func TestAPIBearerToken(t *testing.T) {
	a, _ := testAgent(t, Options{Token: "api-token"})
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

func TestWorkloadEventsAPI(t *testing.T) {
	a, st := testAgent(t, Options{})
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
	a, st := testAgent(t, Options{})
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

	var views []WorkloadView
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &views))
	assert.Equal(t, StateDegraded, views[0].State, "the API says what serves: shop/api's last deploy failed")
	for id, want := range map[string]string{"shop/web": "running", "shop/api": "degraded", "shop/none": "unknown"} {
		rec = httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1/badges/"+id+".svg", nil))
		assert.Equal(t, "image/svg+xml", rec.Header().Get("Content-Type"))
		assert.Equal(t, string(badge.SVG(id, want)), rec.Body.String(), id)
	}
}

// TestReadyzWatchdog: /readyz is 503 until a tick succeeds, 200 after,
// and 503 again when no tick has succeeded for 3 × the schedule interval
// + the git timeout.
func TestReadyzWatchdog(t *testing.T) {
	now := time.Now()
	a, _ := testAgent(t, Options{Schedule: "@every 1m", Timeouts: Timeouts{Git: 30 * time.Second}, Now: func() time.Time { return now }})
	readyz := func() (int, string) {
		rec := httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1/readyz", nil))
		return rec.Code, rec.Body.String()
	}
	code, body := readyz()
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "no tick has succeeded yet")
	a.lastSuccess.Store(now.UnixNano())
	code, _ = readyz()
	assert.Equal(t, http.StatusOK, code)
	now = now.Add(3*time.Minute + 29*time.Second)
	code, _ = readyz()
	assert.Equal(t, http.StatusOK, code, "within 3 × 1m + 30s")
	now = now.Add(2 * time.Second)
	code, body = readyz()
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "no tick has succeeded for 3m31s")
}

// TestEventStreamIsLiveAndFiltered: the SSE stream delivers new events as
// they are written, only the asked workload's, with the redactor applied.
func TestEventStreamIsLiveAndFiltered(t *testing.T) {
	a, _ := testAgent(t, Options{})
	a.opts.Redactor.Add("s3cret-value")
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

	a.events.add(ctx, store.Event{WorkloadID: "shop/api", Kind: "deploy.started", Message: "not this one"})
	a.events.add(ctx, store.Event{WorkloadID: "shop/web", Kind: "deploy.failed", Severity: store.SeverityError, Message: "token s3cret-value leaked?"})
	var data string
	for data == "" {
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			data = d
		}
	}
	var ev store.Event
	require.NoError(t, json.Unmarshal([]byte(data), &ev))
	assert.Equal(t, "shop/web", ev.WorkloadID)
	assert.Equal(t, "token *** leaked?", ev.Message)
}

func TestMetricsExposition(t *testing.T) {
	a, st := testAgent(t, Options{})
	require.NoError(t, st.PutRuntime(context.Background(), store.Runtime{WorkloadID: "shop/web", Status: store.StatusRunning}))
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1/metrics", nil))
	for _, want := range []string{`berth_workloads{state="running"} 1`, "berth_sql_queries_total", "berth_last_successful_tick_timestamp_seconds",
		"berth_tick_duration_seconds_bucket", "go_goroutines", "process_resident_memory_bytes"} {
		assert.Contains(t, rec.Body.String(), want)
	}
}
