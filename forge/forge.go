// Package forge posts commit statuses to Gitea/Forgejo, GitHub and GitLab.
package forge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/berthops/berth/internal/secretfile"
)

// Commit status states, as Berth names them.
const (
	Pending = "pending"
	Success = "success"
	Failure = "failure"
)

// Forge kinds for --commit-status.
const (
	Gitea  = "gitea"
	GitHub = "github"
	GitLab = "gitlab"
)

// Status is one status on one commit.
type Status struct {
	SHA         string
	Context     string // berth/<agent>/<app>/<name>
	State       string // pending, success, failure
	Description string
	// URL, when set, is where the status links (a preview's address).
	URL string
}

// Client posts commit statuses to Gitea/Forgejo, GitHub or GitLab.
type Client struct {
	kind   string
	base   string // API root, e.g. https://gitea.example.com
	repo   string // owner/name
	token  string
	client *http.Client
	// Tries bounds retries of errors and rate limits (default 4).
	Tries int
	// Backoff is the first retry delay (default 1s), doubled each time.
	Backoff time.Duration
}

// New returns a client for kind at base for the repo owner/name; the
// token is read from tokenFile.
func New(kind, base, repo, tokenFile string) (*Client, error) {
	switch kind {
	case Gitea, GitHub, GitLab:
	default:
		return nil, fmt.Errorf("--commit-status %q: want gitea, github or gitlab", kind)
	}
	if _, err := url.Parse(base); err != nil || base == "" {
		return nil, fmt.Errorf("--forge-url %q is not a URL", base)
	}
	if strings.Count(repo, "/") < 1 {
		return nil, fmt.Errorf("forge repo %q: want owner/name", repo)
	}
	if tokenFile == "" {
		return nil, errors.New("--forge-token-file is required for commit statuses")
	}
	token, err := secretfile.Read(tokenFile)
	if err != nil {
		return nil, fmt.Errorf("forge token file: %w", err)
	}
	return &Client{kind: kind, base: strings.TrimRight(base, "/"), repo: repo, token: token,
		client: &http.Client{Timeout: 15 * time.Second}, Tries: 4, Backoff: time.Second}, nil
}

// Post sends one status, retrying server errors and rate limits with
// backoff, within ctx's deadline: a Retry-After that reaches past it ends
// the tries at once instead of stalling. The error names the forge's
// answer, never the token.
func (f *Client) Post(ctx context.Context, s Status) error {
	var last error
	delay := f.Backoff
	for attempt := 1; attempt <= f.Tries; attempt++ {
		retry, wait, err := f.postOnce(ctx, s)
		if err == nil {
			return nil
		}
		last = err
		if !retry || attempt == f.Tries {
			break
		}
		if wait > 0 {
			delay = wait
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			return fmt.Errorf("%w (not retried: the next try in %s is past the deadline)", last, delay.Round(time.Second))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (%w)", last, ctx.Err())
		case <-time.After(delay):
		}
		delay *= 2
	}
	return last
}

func (f *Client) postOnce(ctx context.Context, s Status) (retry bool, wait time.Duration, err error) {
	req, err := f.request(ctx, s)
	if err != nil {
		return false, 0, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return true, 0, fmt.Errorf("posting commit status to %s: %v", f.base, strings.ReplaceAll(err.Error(), f.token, "***"))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 300 {
		return false, 0, nil
	}
	err = fmt.Errorf("posting commit status to %s: %s: %s", f.base, resp.Status, strings.TrimSpace(strings.ReplaceAll(string(body), f.token, "***")))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || (resp.StatusCode == http.StatusForbidden && resp.Header.Get("X-RateLimit-Remaining") == "0"):
		if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil {
			wait = time.Duration(s) * time.Second
		}
		return true, wait, err
	case resp.StatusCode >= 500:
		return true, 0, err
	}
	return false, 0, err // 401, 404, 422: retrying will not help
}

func (f *Client) request(ctx context.Context, s Status) (*http.Request, error) {
	switch f.kind {
	case GitLab:
		state := map[string]string{Pending: "running", Success: "success", Failure: "failed"}[s.State]
		q := url.Values{"state": {state}, "name": {s.Context}, "description": {s.Description}}
		if s.URL != "" {
			q.Set("target_url", s.URL)
		}
		u := fmt.Sprintf("%s/api/v4/projects/%s/statuses/%s?%s", f.base, url.PathEscape(f.repo), s.SHA, q.Encode())
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("PRIVATE-TOKEN", f.token)
		return req, nil
	default:
		fields := map[string]string{"state": s.State, "context": s.Context, "description": s.Description}
		if s.URL != "" {
			fields["target_url"] = s.URL
		}
		body, _ := json.Marshal(fields)
		u := fmt.Sprintf("%s/repos/%s/statuses/%s", f.base, f.repo, s.SHA)
		if f.kind == Gitea {
			u = fmt.Sprintf("%s/api/v1/repos/%s/statuses/%s", f.base, f.repo, s.SHA)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		if f.kind == GitHub {
			req.Header.Set("Authorization", "Bearer "+f.token)
			req.Header.Set("Accept", "application/vnd.github+json")
		} else {
			req.Header.Set("Authorization", "token "+f.token)
		}
		return req, nil
	}
}
