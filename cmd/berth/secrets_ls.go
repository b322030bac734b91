package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/gitops"
)

func newSecretsLsCmd(repo *secretsRepo) *cobra.Command {
	var app string
	cmd := &cobra.Command{
		Use:     "ls",
		Short:   "List secret names and scopes (never values)",
		Example: `  berth secrets ls --app shop`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := gitops.Load(repo.dir, repo.sub)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSCOPE\tFILE")
			for _, s := range d.Secrets {
				if app != "" && s.App != app {
					continue
				}
				scope := s.Scope
				if s.App != "" {
					scope += ":" + s.App
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, scope, s.File)
			}
			for _, e := range d.SecretErrors {
				fmt.Fprintln(cmd.ErrOrStderr(), e)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&app, "app", "", "only this app's secrets")
	return cmd
}
