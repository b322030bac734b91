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
	"strings"
)

// PullRequest opens a pull (merge) request from head to base, or, when
// one from head is open already, updates its title and body; it returns
// the request's web address and whether it was opened now.
func (f *Client) PullRequest(ctx context.Context, head, base, title, body string) (string, bool, error) {
	type pr struct {
		Number  int    `json:"number"`
		IID     int    `json:"iid"`
		HTMLURL string `json:"html_url"`
		WebURL  string `json:"web_url"`
		Head    struct {
			Ref string `json:"ref"`
		} `json:"head"`
		SourceBranch string `json:"source_branch"`
	}
	var list []pr
	var listURL, createURL, editURL string
	var create, edit map[string]string
	switch f.kind {
	case GitLab:
		p := fmt.Sprintf("%s/api/v4/projects/%s/merge_requests", f.base, url.PathEscape(f.repo))
		listURL = p + "?state=opened&source_branch=" + url.QueryEscape(head)
		createURL, editURL = p, p+"/%d"
		create = map[string]string{"source_branch": head, "target_branch": base, "title": title, "description": body}
		edit = map[string]string{"title": title, "description": body}
	case GitHub:
		p := fmt.Sprintf("%s/repos/%s/pulls", f.base, f.repo)
		owner, _, _ := strings.Cut(f.repo, "/")
		listURL = p + "?state=open&head=" + url.QueryEscape(owner+":"+head)
		createURL, editURL = p, p+"/%d"
		create = map[string]string{"head": head, "base": base, "title": title, "body": body}
		edit = map[string]string{"title": title, "body": body}
	default:
		p := fmt.Sprintf("%s/api/v1/repos/%s/pulls", f.base, f.repo)
		listURL = p + "?state=open&limit=50"
		createURL, editURL = p, p+"/%d"
		create = map[string]string{"head": head, "base": base, "title": title, "body": body}
		edit = map[string]string{"title": title, "body": body}
	}
	if err := f.doJSON(ctx, http.MethodGet, listURL, nil, &list); err != nil && !errors.Is(err, errNotFound) {
		return "", false, err
	} // a forge that answers 404 for a repo without pull requests yet: open one

	for _, p := range list {
		if p.Head.Ref != head && p.SourceBranch != head {
			continue
		}
		n := p.Number
		method := http.MethodPatch
		if f.kind == GitLab {
			n, method = p.IID, http.MethodPut
		}
		var out pr
		if err := f.doJSON(ctx, method, fmt.Sprintf(editURL, n), edit, &out); err != nil {
			return "", false, err
		}
		return firstNonEmpty(out.HTMLURL, out.WebURL, p.HTMLURL, p.WebURL), false, nil
	}
	var out pr
	if err := f.doJSON(ctx, http.MethodPost, createURL, create, &out); err != nil {
		return "", false, err
	}
	return firstNonEmpty(out.HTMLURL, out.WebURL), true, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

var errNotFound = errors.New("not found")

// doJSON sends one API request with the token and decodes the answer;
// errors name the forge's answer, never the token.
func (f *Client) doJSON(ctx context.Context, method, u string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	switch f.kind {
	case GitLab:
		req.Header.Set("PRIVATE-TOKEN", f.token)
	case GitHub:
		req.Header.Set("Authorization", "Bearer "+f.token)
		req.Header.Set("Accept", "application/vnd.github+json")
	default:
		req.Header.Set("Authorization", "token "+f.token)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %v", method, f.base, strings.ReplaceAll(err.Error(), f.token, "***"))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode == http.StatusNotFound && method == http.MethodGet {
		return fmt.Errorf("%w: %s", errNotFound, strings.TrimPrefix(u, f.base))
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %.300s", method, strings.TrimPrefix(u, f.base), resp.Status, strings.TrimSpace(strings.ReplaceAll(string(b), f.token, "***")))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not JSON: %w", method, strings.TrimPrefix(u, f.base), err)
	}
	return nil
}
