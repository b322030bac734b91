package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxHookBody is the largest webhook payload read (GitHub sends up to 25 MiB).
const maxHookBody = 25 << 20

// gitHook receives push webhooks from GitHub, Gitea/Forgejo, GitLab or
// anything that signs its body with HMAC-SHA256. A valid hook only
// triggers a tick: the tick pulls and decides, so a forged payload cannot
// deploy anything that is not in git. Without a webhook secret the
// endpoint is off.
func (s *Server) gitHook(w http.ResponseWriter, r *http.Request) {
	if s.opts.WebhookSecret == "" {
		http.Error(w, "webhooks are off (set --webhook-secret-file)", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxHookBody+1))
	if err != nil {
		http.Error(w, "reading the body failed", http.StatusBadRequest)
		return
	}
	if len(body) > maxHookBody {
		http.Error(w, "the payload is larger than 25 MiB", http.StatusRequestEntityTooLarge)
		return
	}
	if !s.validHook(r, body) {
		http.Error(w, "signature missing or wrong", http.StatusUnauthorized)
		return
	}
	if ref := pushedRef(body); ref != "" && ref != "refs/heads/"+s.opts.Branch {
		// Pushes to other branches (the status branch included: the
		// agent's own status commits would otherwise tick it again).
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, "ignored: a push to %s, not to the watched branch\n", ref)
		return
	}
	s.agent.Trigger()
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintln(w, "sync queued")
}

// pushedRef is the ref a push payload names (GitHub, Gitea, Forgejo and
// GitLab all send "ref"); "" when it names none (a ping, another event,
// a sender that does not say), which triggers a tick to be safe.
func pushedRef(body []byte) string {
	var p struct {
		Ref string `json:"ref"`
	}
	if json.Unmarshal(body, &p) != nil || !strings.HasPrefix(p.Ref, "refs/") {
		return ""
	}
	return p.Ref
}

func (s *Server) validHook(r *http.Request, body []byte) bool {
	secret := []byte(s.opts.WebhookSecret)
	if tok := r.Header.Get("X-Gitlab-Token"); tok != "" {
		return subtle.ConstantTimeCompare([]byte(tok), secret) == 1
	}
	sig := r.Header.Get("X-Hub-Signature-256") // GitHub, Gitea, Forgejo, generic
	if sig == "" {
		sig = r.Header.Get("X-Gitea-Signature")
	}
	if sig == "" {
		sig = r.Header.Get("X-Signature-256")
	}
	sig = strings.TrimPrefix(sig, "sha256=")
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) == 0 {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}
