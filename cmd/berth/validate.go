package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/gitops"
)

func newValidateCmd() *cobra.Command {
	var sub string
	var allow allowFlag
	cmd := &cobra.Command{
		Use:   "validate [DIR]",
		Short: "Check a config repo checkout; exit 0 when valid, 1 listing every error",
		Example: `  berth validate
  berth validate ../platform --path deploy/berth
  berth validate --allow host-network,cap-add`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			d, err := gitops.LoadWith(dir, sub, gitops.LoadOptions{Policy: allow.policy})
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			errs := d.AllErrors()
			out := cmd.OutOrStdout()
			for _, e := range errs {
				fmt.Fprintln(out, e)
			}
			if len(errs) > 0 {
				return &exitError{code: 1, msg: fmt.Sprintf("%d error(s); %d workload(s) valid", len(errs), len(d.Workloads))}
			}
			fmt.Fprintf(out, "ok: %d workload(s)\n", len(d.Workloads))
			return nil
		},
	}
	cmd.Flags().StringVar(&sub, "path", "", "config folder inside the repo")
	allow.register(cmd)
	return cmd
}
