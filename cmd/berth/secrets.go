package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/secrets"
)

// secretsRepo is the config checkout the secrets commands work on.
type secretsRepo struct {
	dir, sub string
}

func (r *secretsRepo) root() string { return filepath.Join(r.dir, r.sub) }

// recipients are the age public keys in berth.yaml.
func (r *secretsRepo) recipients() ([]age.Recipient, error) {
	d, err := gitops.Load(r.dir, r.sub)
	if err != nil {
		return nil, err
	}
	if len(d.Errors) > 0 {
		return nil, fmt.Errorf("berth.yaml: %w", errors.Join(d.Errors...))
	}
	return secrets.ParseRecipients(d.Repo.Secrets.Recipients)
}

func newSecretsCmd() *cobra.Command {
	repo := &secretsRepo{}
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Manage age-encrypted shared secrets in a config repo checkout (no agent needed)",
		Example: `  berth secrets keygen --out /etc/berth/age.key
  printf %s "$TOKEN" | berth secrets set API_KEY --app shop
  berth secrets ls`,
	}
	cmd.PersistentFlags().StringVar(&repo.dir, "dir", ".", "the config repo checkout")
	cmd.PersistentFlags().StringVar(&repo.sub, "path", "", "config folder inside the repo")
	cmd.AddCommand(newSecretsKeygenCmd(), newSecretsSetCmd(repo), newSecretsLsCmd(repo), newSecretsRmCmd(repo), newSecretsReencryptCmd(repo))
	return cmd
}

// identityFiles is --identity, falling back to BERTH_IDENTITY_FILE.
func identityFiles(flag []string) []string {
	if len(flag) == 0 && os.Getenv("BERTH_IDENTITY_FILE") != "" {
		return strings.Split(os.Getenv("BERTH_IDENTITY_FILE"), ",")
	}
	return flag
}
