package forge

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// OpenPull is an open pull (merge) request against a branch, as previews
// need it.
type OpenPull struct {
	Number  int
	HeadSHA string
	// Ref is the ref that holds its head in the base repo
	// (refs/pull/N/head; refs/merge-requests/N/head on GitLab): a fork's
	// head is fetched from there.
	Ref string
	// Branch is the head's branch name.
	Branch string
	Author string
	// Fork says the head lives in another repository.
	Fork    bool
	URL     string
	Created time.Time
}

// OpenPulls lists the open pull requests against base (at most 100).
func (f *Client) OpenPulls(ctx context.Context, base string) ([]OpenPull, error) {
	type repo struct {
		FullName string `json:"full_name"`
	}
	type side struct {
		Ref  string `json:"ref"`
		SHA  string `json:"sha"`
		Repo *repo  `json:"repo"`
	}
	type pr struct {
		Number          int    `json:"number"`
		IID             int    `json:"iid"`
		HTMLURL         string `json:"html_url"`
		WebURL          string `json:"web_url"`
		Head            side   `json:"head"`
		Base            side   `json:"base"`
		User            struct{ Login, Username string }
		Author          struct{ Username string }
		CreatedAt       time.Time `json:"created_at"`
		SHA             string    `json:"sha"`
		SourceBranch    string    `json:"source_branch"`
		SourceProjectID int       `json:"source_project_id"`
		TargetProjectID int       `json:"target_project_id"`
	}
	var u string
	switch f.kind {
	case GitLab:
		u = fmt.Sprintf("%s/api/v4/projects/%s/merge_requests?state=opened&per_page=100&target_branch=%s", f.base, url.PathEscape(f.repo), url.QueryEscape(base))
	case GitHub:
		u = fmt.Sprintf("%s/repos/%s/pulls?state=open&per_page=100&base=%s", f.base, f.repo, url.QueryEscape(base))
	default:
		u = fmt.Sprintf("%s/api/v1/repos/%s/pulls?state=open&limit=50", f.base, f.repo)
	}
	var list []pr
	if err := f.doJSON(ctx, http.MethodGet, u, nil, &list); err != nil {
		return nil, fmt.Errorf("listing open pull requests: %w", err)
	}
	out := make([]OpenPull, 0, len(list))
	for _, p := range list {
		o := OpenPull{Number: p.Number, HeadSHA: p.Head.SHA, Branch: p.Head.Ref, URL: firstNonEmpty(p.HTMLURL, p.WebURL),
			Author: firstNonEmpty(p.User.Login, p.User.Username, p.Author.Username), Created: p.CreatedAt}
		switch f.kind {
		case GitLab:
			o.Number, o.HeadSHA, o.Branch = p.IID, p.SHA, p.SourceBranch
			o.Fork = p.SourceProjectID != p.TargetProjectID
			o.Ref = "refs/merge-requests/" + strconv.Itoa(p.IID) + "/head"
		default:
			if p.Base.Ref != base {
				continue // Gitea lists every base
			}
			o.Fork = p.Head.Repo == nil || p.Base.Repo == nil || p.Head.Repo.FullName != p.Base.Repo.FullName
			o.Ref = "refs/pull/" + strconv.Itoa(p.Number) + "/head"
		}
		out = append(out, o)
	}
	return out, nil
}
