package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/internal/secretfile"
)

// agentClient talks to a running agent's API: --agent (env BERTH_AGENT)
// and --api-token-file.
type agentClient struct {
	url, tokenFile string
	timeout        time.Duration
}

func (c *agentClient) register(cmd *cobra.Command, timeout time.Duration) {
	cmd.Flags().StringVar(&c.url, "agent", "http://127.0.0.1:9090", "the running agent's API")
	cmd.Flags().StringVar(&c.tokenFile, "api-token-file", "", "file holding the agent's API token")
	c.timeout = timeout
}

// do sends a request and decodes a JSON answer into out. An answer that
// is not 2xx is an error carrying the agent's message.
func (c *agentClient) do(ctx context.Context, method, path string, body, out any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.url, "/")+path, rd)
	if err != nil {
		return 0, &exitError{code: 2, msg: fmt.Sprintf("--agent %q: %v", c.url, err)}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.tokenFile != "" {
		tok, err := secretfile.Read(c.tokenFile)
		if err != nil {
			return 0, &exitError{code: 2, msg: fmt.Sprintf("--api-token-file: %v", err)}
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("no answer from the agent at %s (is `berth agent` running? --agent): %w", c.url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		hint := "pass the agent's API token with --api-token-file FILE (or BERTH_API_TOKEN_FILE)"
		if c.tokenFile != "" {
			hint = "the token in " + c.tokenFile + " is not the agent's (--api-token-file, BERTH_API_TOKEN_FILE)"
		}
		return resp.StatusCode, fmt.Errorf("the agent at %s answered 401 Unauthorized: %s", c.url, hint)
	}
	if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusConflict {
		return resp.StatusCode, fmt.Errorf("the agent answered %s: %s", resp.Status, strings.TrimSpace(string(data)))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("reading the agent's answer: %w", err)
		}
	}
	return resp.StatusCode, nil
}

// workloadPath is the API path of APP/NAME.
func workloadPath(id string) (string, error) {
	app, name, ok := strings.Cut(id, "/")
	if !ok || app == "" || name == "" || strings.Contains(name, "/") {
		return "", &exitError{code: 2, msg: fmt.Sprintf("%q is not a workload id (APP/NAME)", id)}
	}
	return "/api/workloads/" + app + "/" + name, nil
}

// completeWorkloads completes APP/NAME from the running agent's workload
// list (asked with a short deadline: a shell must not hang on a tab).
func (c *agentClient) completeWorkloads(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	short := *c
	short.timeout = 2 * time.Second
	// Completion runs without the root's environment fallback.
	if f := cmd.Flags().Lookup("agent"); f != nil && !f.Changed && os.Getenv("BERTH_AGENT") != "" {
		short.url = os.Getenv("BERTH_AGENT")
	}
	if f := cmd.Flags().Lookup("api-token-file"); f != nil && !f.Changed && os.Getenv("BERTH_API_TOKEN_FILE") != "" {
		short.tokenFile = os.Getenv("BERTH_API_TOKEN_FILE")
	}
	var list []struct {
		ID string `json:"workload_id"`
	}
	if _, err := short.do(cmd.Context(), http.MethodGet, "/api/workloads", nil, &list); err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
	}
	ids := make([]string, 0, len(list))
	for _, w := range list {
		ids = append(ids, w.ID)
	}
	return ids, cobra.ShellCompDirectiveNoFileComp
}

// answers reports whether a Berth agent answers at --agent, within a
// second: the commands that can read a state dir ask a running agent
// first.
func (c *agentClient) answers(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.url, "/")+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// viaAgent decides where a command that reads or changes state goes: an
// explicit --state-dir (or BERTH_STATE_DIR) always wins; otherwise the
// agent at --agent (BERTH_AGENT), when one answers; else the default
// state dir.
func viaAgent(cmd *cobra.Command, c *agentClient) bool {
	if f := cmd.Flags().Lookup("state-dir"); f != nil && f.Changed {
		return false
	}
	return c.answers(cmd.Context())
}
