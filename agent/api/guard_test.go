package api

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/berthops/berth/agent"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func do(t *testing.T, h http.Handler, method, target string, header map[string]string, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, "http://127.0.0.1"+target, strings.NewReader(body))
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestHostHeaderGuard: a page on a name that rebinds to 127.0.0.1 cannot
// read the API: only localhost, IP addresses, the listen host and
// --api-host names are answered.
func TestHostHeaderGuard(t *testing.T) {
	a, _, _ := testServer(t, agent.Options{}, Options{Listen: "127.0.0.1:9090", APIHosts: []string{"berth.internal"}})
	h := a.Handler()
	for host, want := range map[string]int{
		"evil.example": http.StatusForbidden, "evil.example:9090": http.StatusForbidden,
		"localhost:9090": http.StatusOK, "127.0.0.1:9090": http.StatusOK, "[::1]:9090": http.StatusOK, "10.1.2.3": http.StatusOK,
		"berth.internal:9090": http.StatusOK, "BERTH.internal": http.StatusOK,
	} {
		assert.Equal(t, want, do(t, h, http.MethodGet, "/api/workloads", map[string]string{"Host": host}, "").Code, host)
	}
	assert.Equal(t, http.StatusNotFound, do(t, a.HooksHandler(), http.MethodPost, "/hooks/git", map[string]string{"Host": "hooks.example.com"}, "").Code,
		"the hooks listener answers any Host (it is meant for a forge); without a secret the hook is off")
	assert.Equal(t, http.StatusNotFound, do(t, a.HooksHandler(), http.MethodGet, "/api/workloads", nil, "").Code, "and nothing but the hook")
}

// TestCrossOriginWritesRefused: a page of another origin cannot make the
// browser POST to the API (CSRF); the CLI and same-origin pages can.
func TestCrossOriginWritesRefused(t *testing.T) {
	a, _, _ := testServer(t, agent.Options{}, Options{})
	h := a.Handler()
	tests := []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"no origin (curl, the CLI)", nil, http.StatusAccepted},
		{"same origin", map[string]string{"Host": "127.0.0.1:9090", "Origin": "http://127.0.0.1:9090"}, http.StatusAccepted},
		{"foreign origin", map[string]string{"Host": "127.0.0.1:9090", "Origin": "http://evil.example"}, http.StatusForbidden},
		{"cross-site fetch", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, do(t, h, http.MethodPost, "/api/sync", tc.header, "").Code)
		})
	}
}

// TestLoginSession: with a token, the UI logs in once and then works with
// an HttpOnly, SameSite=Strict session cookie, the event stream included
// (EventSource cannot send a header).
func TestLoginSession(t *testing.T) {
	a, _, _ := testServer(t, agent.Options{}, Options{Token: "s3cret-token"})
	h := a.Handler()
	rec := do(t, h, http.MethodGet, "/", nil, "")
	assert.Equal(t, http.StatusSeeOther, rec.Code)
	assert.Equal(t, "/login", rec.Header().Get("Location"))
	assert.Contains(t, do(t, h, http.MethodGet, "/login", nil, "").Body.String(), `name="token"`)

	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	rec = do(t, h, http.MethodPost, "/login", form, url.Values{"token": {"wrong"}}.Encode())
	assert.Equal(t, "/login?failed=1", rec.Header().Get("Location"))
	assert.Empty(t, rec.Result().Cookies())

	rec = do(t, h, http.MethodPost, "/login", form, url.Values{"token": {"s3cret-token"}}.Encode())
	require.Len(t, rec.Result().Cookies(), 1)
	c := rec.Result().Cookies()[0]
	assert.True(t, c.HttpOnly)
	assert.Equal(t, http.SameSiteStrictMode, c.SameSite)
	assert.NotContains(t, c.Value, "s3cret", "the cookie is a session id, not the token")
	cookie := map[string]string{"Cookie": sessionCookie + "=" + c.Value}
	assert.Equal(t, http.StatusOK, do(t, h, http.MethodGet, "/", cookie, "").Code)
	assert.Equal(t, http.StatusOK, do(t, h, http.MethodGet, "/api/workloads", cookie, "").Code)

	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/events/stream", nil)
	require.NoError(t, err)
	req.AddCookie(c)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the event stream works with the session")
	resp.Body.Close()
	cancel()

	do(t, h, http.MethodPost, "/logout", cookie, "")
	assert.Equal(t, http.StatusUnauthorized, do(t, h, http.MethodGet, "/api/workloads", cookie, "").Code, "logged out")
	assert.Equal(t, http.StatusOK, do(t, h, http.MethodGet, "/api/workloads", map[string]string{"Authorization": "Bearer s3cret-token"}, "").Code)
}

func TestWebhookBodyLimit(t *testing.T) {
	a, _, _ := testServer(t, agent.Options{}, Options{WebhookSecret: "x"})
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/hooks/git", bytes.NewReader(make([]byte, maxHookBody+1)))
	req.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("ab", 32)) // signed (wrongly): the size is checked first
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, req)
	assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
}

func TestEventStreamsAreCapped(t *testing.T) {
	a, _, _ := testServer(t, agent.Options{}, Options{})
	a.streams.Store(maxStreams)
	assert.Equal(t, http.StatusServiceUnavailable, do(t, a.Handler(), http.MethodGet, "/api/events/stream", nil, "").Code)
	assert.Equal(t, int64(maxStreams), a.streams.Load(), "a refused stream does not count")
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:9090": true, "localhost:9090": true, "[::1]:9090": true,
		":9090": false, "0.0.0.0:9090": false, "10.0.0.5:9090": false, "berth.example:9090": false} {
		assert.Equal(t, want, Loopback(addr), addr)
	}
}

// TestTokenGuessesBackOff: after a few wrong tokens a client waits, and
// is answered 429 without its next guess being compared; the right
// token is not accepted during the wait either, and another client is
// not held up.
func TestTokenGuessesBackOff(t *testing.T) {
	now := time.Now()
	a, _, _ := testServer(t, agent.Options{}, Options{Token: "the-right-token-1234", Now: func() time.Time { return now }})
	h := a.Handler()
	login := func(from, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/login", strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = from + ":40000"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for i := range freeTries {
		rec := login("192.0.2.1", fmt.Sprintf("guess-%d", i))
		require.Equal(t, http.StatusSeeOther, rec.Code)
		assert.Contains(t, rec.Header().Get("Location"), "failed=1")
	}
	assert.Equal(t, http.StatusSeeOther, login("192.0.2.1", "guess-6").Code, "the first guess past the free ones is still compared")
	rec := login("192.0.2.1", "the-right-token-1234")
	assert.Equal(t, http.StatusTooManyRequests, rec.Code, "inside the wait nothing is compared")
	assert.NotEmpty(t, rec.Header().Get("Retry-After"))
	assert.Equal(t, http.StatusSeeOther, login("192.0.2.2", "the-right-token-1234").Code, "another client logs in")
	bearer := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/api/workloads", nil)
	bearer.RemoteAddr = "192.0.2.1:40001"
	bearer.Header.Set("Authorization", "Bearer the-right-token-1234")
	brec := httptest.NewRecorder()
	h.ServeHTTP(brec, bearer)
	assert.Equal(t, http.StatusTooManyRequests, brec.Code, "the bearer path waits too")
	now = now.Add(2 * time.Second)
	rec = login("192.0.2.1", "the-right-token-1234")
	assert.Equal(t, http.StatusSeeOther, rec.Code)
	assert.Equal(t, "/", rec.Header().Get("Location"), "after the wait the right token logs in")
}
