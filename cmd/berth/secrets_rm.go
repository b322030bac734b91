package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/secrets"
)

func newSecretsRmCmd(repo *secretsRepo) *cobra.Command {
	var app string
	cmd := &cobra.Command{
		Use:     "rm NAME",
		Short:   "Delete a secret file",
		Example: `  berth secrets rm API_KEY --app shop`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := secrets.Remove(repo.root(), app, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "removed %s; commit and push it\n", p)
			return nil
		},
	}
	cmd.Flags().StringVar(&app, "app", "", "app scope (default: global)")
	return cmd
}
