package main

import (
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// newListCmd is a command that asks the agent for a list (GET path) and
// prints it as a table, or as JSON with --json.
func newListCmd[T any](use, short, example, path string, print func(io.Writer, []T) error) *cobra.Command {
	var c agentClient
	var out outputFlags
	cmd := &cobra.Command{
		Use: use, Short: short, Example: example,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var list []T
			if _, err := c.do(cmd.Context(), http.MethodGet, path, nil, &list); err != nil {
				return err
			}
			if out.Format() == "json" {
				return writeJSON(cmd.OutOrStdout(), list)
			}
			return print(cmd.OutOrStdout(), list)
		},
	}
	c.register(cmd, 30*time.Second)
	out.register(cmd, "text", "json")
	return cmd
}
