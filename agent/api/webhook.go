package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxHookBody is the largest webhook payload read (GitHub sends up to 25 MiB).
const maxHookBody = 25 << 20

// hookReads bounds the webhook bodies read at once: a body is buffered to
// check its signature, so many large forged requests in parallel would
// otherwise hold 25 MiB each.
const hookReads = 2

// gitHook receives push and pull-request webhooks from GitHub,
// Gitea/Forgejo, GitLab or anything that signs its body with HMAC-SHA256.
// A valid hook only triggers a tick (see hookAction). Without a webhook
// secret the endpoint is off.
//
// Nothing is read before the request names a signature (or a GitLab
// token, compared first); at most hookReads bodies are buffered at once.
func (s *Server) gitHook(w http.ResponseWriter, r *http.Request) {
	if s.opts.WebhookSecret == "" {
		http.Error(w, "webhooks are off (set --webhook-secret-file)", http.StatusNotFound)
		return
	}
	if tok := r.Header.Get("X-Gitlab-Token"); tok != "" {
		if subtle.ConstantTimeCompare([]byte(tok), []byte(s.opts.WebhookSecret)) != 1 {
			http.Error(w, "signature missing or wrong", http.StatusUnauthorized)
			return
		}
	} else if signature(r) == nil {
		http.Error(w, "signature missing or wrong", http.StatusUnauthorized)
		return
	}
	if r.ContentLength > maxHookBody {
		http.Error(w, "the payload is larger than 25 MiB", http.StatusRequestEntityTooLarge)
		return
	}
	select {
	case s.hooks <- struct{}{}:
		defer func() { <-s.hooks }()
	case <-r.Context().Done():
		return
	}
	// The body is streamed once through the HMAC and a reader of its
	// "ref": nothing of it is held, whatever its size.
	counted := &countingReader{r: io.LimitReader(r.Body, maxHookBody+1)}
	mac := hmac.New(sha256.New, []byte(s.opts.WebhookSecret))
	tee := io.TeeReader(counted, mac)
	got := streamDelivery(payloadReader(r, tee))
	if _, err := io.Copy(io.Discard, tee); err != nil {
		http.Error(w, "reading the body failed", http.StatusBadRequest)
		return
	}
	if counted.n > maxHookBody {
		http.Error(w, "the payload is larger than 25 MiB", http.StatusRequestEntityTooLarge)
		return
	}
	if r.Header.Get("X-Gitlab-Token") == "" && !hmac.Equal(signature(r), mac.Sum(nil)) {
		http.Error(w, "signature missing or wrong", http.StatusUnauthorized)
		return
	}
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintln(w, s.hookAction(hookEvent(r), got))
}

// hookAction triggers the tick a signed delivery asks for, if any, and
// says what it did: a push to the watched branch ticks; so does a
// pull-request event against it while previews are configured (the tick
// lists the open pull requests and brings their previews in line). The
// tick reads everything from git and the forge: a forged payload cannot
// deploy anything.
func (s *Server) hookAction(ev string, got delivery) string {
	switch ev {
	case "pull_request", "Merge Request Hook":
		switch {
		case got.base != s.opts.Branch:
			return fmt.Sprintf("ignored: a pull request against %q, not the watched branch", got.base)
		case !s.agent.PreviewsOn():
			return "ignored: a pull request, and no previews are configured"
		}
		s.agent.Trigger()
		return "sync queued for previews"
	case "", "push", "Push Hook":
	default:
		return fmt.Sprintf("ignored: a %s event, not a push or pull request", ev)
	}
	if got.ref != "refs/heads/"+s.opts.Branch {
		// Pushes to other branches (the status branch included: the
		// agent's own status commits would otherwise tick it again), tag
		// pushes, and deliveries that name no ref.
		return fmt.Sprintf("ignored: not a push to the watched branch (ref %q)", got.ref)
	}
	s.agent.Trigger()
	return "sync queued"
}

// hookEvent is the event a forge says it delivers ("" when it does not
// say: a generic sender).
func hookEvent(r *http.Request) string {
	for _, h := range []string{"X-GitHub-Event", "X-Gitea-Event", "X-Forgejo-Event", "X-Gogs-Event", "X-Gitlab-Event"} {
		if v := r.Header.Get(h); v != "" {
			return v
		}
	}
	return ""
}

// signature is the HMAC-SHA256 a request names (GitHub, Gitea, Forgejo,
// generic), nil when it names none.
func signature(r *http.Request) []byte {
	sig := r.Header.Get("X-Hub-Signature-256")
	if sig == "" {
		sig = r.Header.Get("X-Gitea-Signature")
	}
	if sig == "" {
		sig = r.Header.Get("X-Signature-256")
	}
	got, err := hex.DecodeString(strings.TrimPrefix(sig, "sha256="))
	if err != nil || len(got) != sha256.Size {
		return nil
	}
	return got
}
