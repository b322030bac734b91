package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/agent/store"
)

func newBackupCmd() *cobra.Command {
	var c agentClient
	var out outputFlags
	cmd := &cobra.Command{
		Use:   "backup APP/NAME [VOLUME]",
		Short: "Snapshot a workload's named volumes now (encrypted to berth.yaml's recipients) on the running agent",
		Example: `  berth backup shop/db
  berth backup shop/db data --json`,
		Args:              cobra.RangeArgs(1, 2),
		ValidArgsFunction: c.completeWorkloads,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := workloadPath(args[0])
			if err != nil {
				return err
			}
			if len(args) == 2 {
				p += "/backup?" + url.Values{"volume": {args[1]}}.Encode()
			} else {
				p += "/backup"
			}
			var bs []store.Backup
			if _, err := c.do(cmd.Context(), http.MethodPost, p, nil, &bs); err != nil {
				return err
			}
			if out.Format() == "json" {
				return writeJSON(cmd.OutOrStdout(), bs)
			}
			return printBackups(cmd.OutOrStdout(), bs)
		},
	}
	c.register(cmd, 2*time.Hour)
	out.register(cmd, "text", "json")
	return cmd
}

func newBackupsCmd() *cobra.Command {
	var c agentClient
	var out outputFlags
	cmd := &cobra.Command{
		Use:   "backups [APP/NAME]",
		Short: "List volume snapshots on the running agent, newest first",
		Example: `  berth backups
  berth backups shop/db --json | jq '.[0].sha256'`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: c.completeWorkloads,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			if len(args) == 1 {
				q.Set("workload", args[0])
			}
			var bs []store.Backup
			if _, err := c.do(cmd.Context(), http.MethodGet, "/api/backups?"+q.Encode(), nil, &bs); err != nil {
				return err
			}
			if out.Format() == "json" {
				return writeJSON(cmd.OutOrStdout(), bs)
			}
			return printBackups(cmd.OutOrStdout(), bs)
		},
	}
	c.register(cmd, 30*time.Second)
	out.register(cmd, "text", "json")
	return cmd
}

func newRestoreCmd() *cobra.Command {
	var c agentClient
	var snapshot int64
	cmd := &cobra.Command{
		Use:   "restore APP/NAME VOLUME [--snapshot ID]",
		Short: "Restore a volume from a snapshot (default: the newest) and redeploy the workload on it",
		Long: "Checks the snapshot (identity, checksum) before anything changes, restores it into a fresh\n" +
			"generation of the volume (the previous one is kept), and redeploys the serving release on it.",
		Example:           `  berth restore shop/db data --snapshot 12`,
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: c.completeWorkloads,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := workloadPath(args[0])
			if err != nil {
				return err
			}
			body := map[string]any{"volume": args[1], "snapshot": snapshot}
			if _, err := c.do(cmd.Context(), http.MethodPost, p+"/restore", body, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s volume %s restored; the workload runs on it\n", args[0], args[1])
			return nil
		},
	}
	c.register(cmd, 2*time.Hour)
	cmd.Flags().Int64Var(&snapshot, "snapshot", 0, "the snapshot's id (berth backups); default the newest of the volume")
	return cmd
}

func printBackups(w io.Writer, bs []store.Backup) error {
	if len(bs) == 0 {
		fmt.Fprintln(w, "no backups")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tWORKLOAD\tVOLUME\tCOMMIT\tTAKEN\tSIZE\tSHA256")
	for _, b := range bs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.7s\t%s\t%d\t%.12s\n", b.ID, b.WorkloadID, b.Volume, b.Commit, b.CreatedAt.Local().Format(time.DateTime), b.Size, b.SHA256)
	}
	return tw.Flush()
}
