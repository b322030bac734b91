package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/agent/store"
)

func openStore(cmd *cobra.Command, stateDir string) (*store.Store, error) {
	path := filepath.Join(stateDir, "berth.db")
	if _, err := os.Stat(path); err != nil {
		return nil, &exitError{code: 2, msg: fmt.Sprintf("no state in %s (run `berth sync` or `berth agent` first, or pass --state-dir)", stateDir)}
	}
	return store.Open(cmd.Context(), path)
}

func newStatusCmd() *cobra.Command {
	var stateDir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show every workload's runtime state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openStore(cmd, stateDir)
			if err != nil {
				return err
			}
			defer st.Close()
			rows, err := st.ListRuntime(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if rows == nil {
					rows = []store.Runtime{}
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			if commit, err := st.Meta(cmd.Context(), "last_commit"); err == nil && commit != "" {
				fmt.Fprintf(out, "config commit: %.7s\n\n", commit)
			}
			if len(rows) == 0 {
				fmt.Fprintln(out, "no workloads")
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "WORKLOAD\tSTATUS\tLAST DEPLOY\tSTRATEGY\tCOMMIT\tCONTAINER\tUPSTREAM\tUPDATED\tMESSAGE")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.7s\t%s\t%s\t%s\t%s\n", r.WorkloadID, r.Status, dash(r.LastDeploy), dash(r.Strategy),
					dash(r.Commit), dash(r.ContainerName), dash(r.Upstream), r.UpdatedAt.Local().Format(time.DateTime), r.Message)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", ".berth", "Berth's state dir")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
