package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/secrets"
)

func newSecretsReencryptCmd(repo *secretsRepo) *cobra.Command {
	var identities []string
	cmd := &cobra.Command{
		Use:     "reencrypt",
		Short:   "Re-encrypt every secret to the current recipients (after they changed)",
		Example: `  berth secrets reencrypt --identity old.key`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ids, err := secrets.LoadIdentities(identityFiles(identities))
			if err != nil {
				return err
			}
			rs, err := repo.recipients()
			if err != nil {
				return err
			}
			d, err := gitops.Load(repo.dir, repo.sub)
			if err != nil {
				return err
			}
			for _, s := range d.Secrets {
				if err := secrets.Reencrypt(filepath.Join(repo.root(), s.File), ids, rs); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "re-encrypted %s\n", s.File)
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&identities, "identity", nil, "age identity file(s) that decrypt the current files")
	return cmd
}
