package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/internal/secretfile"
)

func newLogsCmd() *cobra.Command {
	var c agentClient
	var follow, previous bool
	var since time.Duration
	var tail int
	var service string
	var run int64
	cmd := &cobra.Command{
		Use:   "logs APP/NAME",
		Short: "Print a workload's output through the agent (shared secrets redacted); -f follows it",
		Long: `logs prints the serving container's output (each service's for a compose workload,
prefixed with its name), a job run's kept output (--run, ids from berth jobs), or the last
lines of containers Berth removed — a new version that failed its gate, an old one a deploy
replaced (--previous). Shared-secret values are redacted. -f follows until the container
stops (a deploy replaces it: the last line says so) or Ctrl-C.`,
		Example: `  berth logs shop/web --tail 100 -f
  berth logs shop/web --previous          # why did the new version fail its gate?
  berth logs shop/stack --service db --since 10m
  berth logs ops/cleanup --run 42`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: c.completeWorkloads,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := workloadPath(args[0])
			if err != nil {
				return err
			}
			q := url.Values{}
			if follow {
				q.Set("follow", "1")
			}
			if previous {
				q.Set("previous", "1")
			}
			if tail > 0 {
				q.Set("tail", fmt.Sprint(tail))
			}
			if since > 0 {
				q.Set("since", since.String())
			}
			if service != "" {
				q.Set("service", service)
			}
			if run != 0 {
				q.Set("run", fmt.Sprint(run))
			}
			return c.stream(cmd.Context(), p+"/logs?"+q.Encode(), follow, cmd.OutOrStdout())
		},
	}
	c.register(cmd, 30*time.Second)
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new lines until the container stops")
	f.BoolVar(&previous, "previous", false, "the kept last lines of containers Berth removed (a failed new version, a replaced old one)")
	f.DurationVar(&since, "since", 0, "only lines of the last duration, e.g. 10m")
	f.IntVar(&tail, "tail", 0, "only the last N lines (default: all)")
	f.StringVar(&service, "service", "", "compose workloads: one service")
	f.Int64Var(&run, "run", 0, "a job run's output (ids from berth jobs)")
	return cmd
}

// stream copies a text answer to out as it comes; a follow has no
// deadline but the caller's.
func (c *agentClient) stream(ctx context.Context, path string, follow bool, out io.Writer) error {
	if !follow {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.url, "/")+path, nil)
	if err != nil {
		return &exitError{code: 2, msg: fmt.Sprintf("--agent %q: %v", c.url, err)}
	}
	if c.tokenFile != "" {
		tok, err := secretfile.Read(c.tokenFile)
		if err != nil {
			return &exitError{code: 2, msg: fmt.Sprintf("--api-token-file: %v", err)}
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("no agent answers at %s (start one, or point --agent / BERTH_AGENT at it): %w", c.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return &exitError{code: 1, msg: fmt.Sprintf("the agent answered %s: %s", resp.Status, strings.TrimSpace(string(b)))}
	}
	_, err = io.Copy(out, resp.Body)
	if ctx.Err() != nil && follow {
		return nil // Ctrl-C
	}
	return err
}
