package agent_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/berthops/berth/agent"
)

func TestWebhookAndAPIAuth(t *testing.T) {
	h := newHarness(t)
	a, _ := h.agent(agent.Options{WebhookSecret: "hook-secret", Token: "api-token"})
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
		{"unsigned", nil, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/hooks/git", strings.NewReader(body))
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			assert.Equal(t, tc.code, rec.Code)
		})
	}

	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/workloads", nil))
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	req := httptest.NewRequest(http.MethodGet, "/api/workloads", nil)
	req.Header.Set("Authorization", "Bearer api-token")
	rec = httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusOK, rec.Code)
	req = httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer api-token")
	rec = httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "<title>Berth</title>")
}
