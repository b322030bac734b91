package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/internal/atomicfile"
	"github.com/berthops/berth/secrets"
)

func newSecretsCmd() *cobra.Command {
	var dir, sub string
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Manage age-encrypted shared secrets in a config repo checkout (no agent needed)",
	}
	cmd.PersistentFlags().StringVar(&dir, "dir", ".", "the config repo checkout")
	cmd.PersistentFlags().StringVar(&sub, "path", "", "config folder inside the repo")
	root := func() string { return filepath.Join(dir, sub) }
	recipients := func() ([]string, error) {
		d, err := gitops.Load(dir, sub)
		if err != nil {
			return nil, err
		}
		if len(d.Errors) > 0 {
			return nil, fmt.Errorf("berth.yaml: %w", errors.Join(d.Errors...))
		}
		return d.Repo.Secrets.Recipients, nil
	}

	var out string
	keygen := &cobra.Command{
		Use:   "keygen",
		Short: "Make an age identity: written to --out (mode 0600), its recipient printed",
		Args:  cobra.NoArgs,
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
	keygen.Flags().StringVar(&out, "out", "", "identity file to write (default: print it)")

	var app string
	set := &cobra.Command{
		Use:   "set NAME",
		Short: "Encrypt the value on stdin to the recipients in berth.yaml",
		Long:  "Reads the value from stdin (never from an argument, which would land in shell history). One trailing newline is dropped.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if info, err := os.Stdin.Stat(); err == nil && info.Mode()&os.ModeCharDevice != 0 {
				return &exitError{code: 2, msg: "pipe the value on stdin, e.g. printf %s \"$VALUE\" | berth secrets set " + args[0]}
			}
			value, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<20))
			if err != nil {
				return err
			}
			value = []byte(strings.TrimSuffix(string(value), "\n"))
			keys, err := recipients()
			if err != nil {
				return err
			}
			rs, err := secrets.ParseRecipients(keys)
			if err != nil {
				return err
			}
			p, err := secrets.Set(root(), app, args[0], value, rs)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (encrypted to %d recipient(s)); commit and push it\n", p, len(rs))
			return nil
		},
	}
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List secret names and scopes (never values)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := gitops.Load(dir, sub)
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
	rm := &cobra.Command{
		Use:   "rm NAME",
		Short: "Delete a secret file",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := secrets.Remove(root(), app, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "removed %s; commit and push it\n", p)
			return nil
		},
	}
	var identities []string
	reencrypt := &cobra.Command{
		Use:   "reencrypt",
		Short: "Re-encrypt every secret to the current recipients (after they changed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(identities) == 0 && os.Getenv("BERTH_IDENTITY_FILE") != "" {
				identities = strings.Split(os.Getenv("BERTH_IDENTITY_FILE"), ",")
			}
			ids, err := secrets.LoadIdentities(identities)
			if err != nil {
				return err
			}
			keys, err := recipients()
			if err != nil {
				return err
			}
			rs, err := secrets.ParseRecipients(keys)
			if err != nil {
				return err
			}
			d, err := gitops.Load(dir, sub)
			if err != nil {
				return err
			}
			for _, s := range d.Secrets {
				if err := secrets.Reencrypt(filepath.Join(root(), s.File), ids, rs); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "re-encrypted %s\n", s.File)
			}
			return nil
		},
	}
	reencrypt.Flags().StringSliceVar(&identities, "identity", nil, "age identity file(s) that decrypt the current files")
	for _, c := range []*cobra.Command{set, ls, rm} {
		c.Flags().StringVar(&app, "app", "", "app scope (default: global)")
	}
	cmd.AddCommand(keygen, set, ls, rm, reencrypt)
	return cmd
}
