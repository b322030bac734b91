package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/secrets"
)

func newSecretsSetCmd(repo *secretsRepo) *cobra.Command {
	var app string
	var preview bool
	cmd := &cobra.Command{
		Use:   "set NAME",
		Short: "Encrypt the value on stdin to the recipients in berth.yaml",
		Long:  "Reads the value from stdin (never from an argument, which would land in shell history). One trailing newline is dropped.",
		Example: `  printf %s "$DB_PASSWORD" | berth secrets set DB_PASSWORD
  berth secrets set API_KEY --app shop < api-key.txt`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if info, err := os.Stdin.Stat(); err == nil && info.Mode()&os.ModeCharDevice != 0 {
				return &exitError{code: 2, msg: "pipe the value on stdin, e.g. printf %s \"$VALUE\" | berth secrets set " + args[0]}
			}
			value, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<20))
			if err != nil {
				return err
			}
			rs, err := repo.recipients()
			if err != nil {
				return err
			}
			if preview {
				if app != "" {
					return errors.New("--app and --preview: a secret has one scope")
				}
				app = secrets.PreviewApp
			}
			p, err := secrets.Set(repo.root(), app, args[0], []byte(strings.TrimSuffix(string(value), "\n")), rs)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (encrypted to %d recipient(s)); commit and push it\n", p, len(rs))
			return nil
		},
	}
	cmd.Flags().StringVar(&app, "app", "", "app scope (default: global)")
	cmd.Flags().BoolVar(&preview, "preview", false, "preview scope (secrets/preview/): the only shared secrets preview environments get")
	return cmd
}
