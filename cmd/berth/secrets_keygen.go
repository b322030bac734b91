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
			if out == "" {
				id, recipient, err := secrets.Keygen()
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), id)
				fmt.Fprintln(cmd.ErrOrStderr(), "recipient:", recipient)
				return nil
			}
			recipient, err := writeIdentity(out)
			if err != nil {
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

// writeIdentity makes an age identity at path and returns its recipient.
func writeIdentity(path string) (string, error) {
	if _, err := os.Stat(path); err == nil {
		return "", &exitError{code: 1, msg: fmt.Sprintf("%s exists; refusing to overwrite an identity", path)}
	}
	id, rcpt, err := secrets.Keygen()
	if err != nil {
		return "", err
	}
	if err := atomicfile.Write(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing the identity: %w", err)
	}
	return rcpt, nil
}
