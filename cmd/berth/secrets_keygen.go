package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/internal/atomicfile"
	"github.com/berthops/berth/secrets"
)

func newSecretsKeygenCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:     "keygen",
		Short:   "Make an age identity: written to --out (mode 0600), its recipient printed",
		Example: `  berth secrets keygen --out /etc/berth/age.key   # prints age1...: add it to berth.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, recipient, err := secrets.Keygen()
			if err != nil {
				return err
			}
			if out == "" {
				fmt.Fprintln(cmd.OutOrStdout(), id)
				fmt.Fprintln(cmd.ErrOrStderr(), "recipient:", recipient)
				return nil
			}
			if _, err := os.Stat(out); err == nil {
				return fmt.Errorf("%s exists; refusing to overwrite an identity", out)
			}
			if err := atomicfile.Write(out, []byte(id+"\n"), 0o600); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), recipient)
			fmt.Fprintf(cmd.ErrOrStderr(), "identity written to %s; add the recipient above to secrets.recipients in berth.yaml\n", out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "identity file to write (default: print it)")
	return cmd
}
