package api

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/berthops/berth/agent"
)

// FuzzWebhook sends arbitrary payloads and signature headers to the hook:
// it never panics, a forged signature never triggers a tick, and a
// correctly signed push triggers one exactly when it is not a push to
// another branch. Run for real with:
// go test -fuzz=FuzzWebhook -fuzztime=10m ./agent/
func FuzzWebhook(f *testing.F) {
	for _, s := range []struct{ body, sig string }{
		{`{"ref":"refs/heads/main","after":"abc"}`, ""},
		{`{"ref":"refs/heads/berth/status"}`, "sha256=00"},
		{`{"zen":"ping"}`, "sha256=zz"},
		{`{"ref":7}`, ""},
		{`[`, "sha256="},
		{`{"ref":"refs/heads/main","ref":"refs/heads/other"}`, ""},
		{"\x00\xff", "sha256=" + hex.EncodeToString(make([]byte, 32))},
	} {
		f.Add([]byte(s.body), s.sig)
	}
	const secret = "fuzz-secret"
	a, ta, _ := testServer(f, agent.Options{}, Options{WebhookSecret: secret})
	h := a.Handler()
	f.Fuzz(func(t *testing.T, body []byte, sig string) {
		send := func(sig string) int {
			req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/hooks/git", bytes.NewReader(body))
			req.Header.Set("X-Hub-Signature-256", sig)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec.Code
		}
		drain := func() bool {
			select {
			case <-ta.triggers:
				return true
			default:
				return false
			}
		}
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(body)
		good := "sha256=" + hex.EncodeToString(m.Sum(nil))
		if sig != good && sig != good[len("sha256="):] {
			if code := send(sig); code != http.StatusUnauthorized || drain() {
				t.Fatalf("a forged signature %q got %d", sig, code)
			}
		}
		if code := send(good); code != http.StatusAccepted {
			t.Fatalf("a signed payload got %d", code)
		}
		ref := pushedRef(body)
		if triggered := drain(); triggered != (ref == "refs/heads/main") {
			t.Fatalf("ref %q: triggered=%v", ref, triggered)
		}
	})
}
