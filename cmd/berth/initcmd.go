package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/internal/atomicfile"
)

func newInitCmd() *cobra.Command {
	var ageKey string
	cmd := &cobra.Command{
		Use:   "init [DIR]",
		Short: "Write a starter config repo: berth.yaml, one workload, schemas for editors, .gitignore",
		Long: "Writes a valid starter config repo into DIR (default: the current folder), never over an\n" +
			"existing file. With --age-key FILE it also makes an age identity at FILE (keep it out of\n" +
			"git: it decrypts every secret) and puts its recipient in berth.yaml. Editors with\n" +
			"yaml-language-server (VS Code's YAML extension, neovim, helix) complete and check fields\n" +
			"from the schemas in .berth/schema/.",
		Example: `  berth init config --age-key ~/.config/berth/age.key && berth validate config`,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			files, err := starterFiles()
			if err != nil {
				return err
			}
			for name := range files {
				if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
					return &exitError{code: 1, msg: fmt.Sprintf("%s exists; berth init writes only into a folder without its files", filepath.Join(dir, name))}
				}
			}
			if ageKey != "" {
				rcpt, err := writeIdentity(ageKey)
				if err != nil {
					return err
				}
				files["berth.yaml"] = strings.Replace(files["berth.yaml"], "#   recipients: [age1...]", "  recipients: ["+rcpt+"]", 1)
				files["berth.yaml"] = strings.Replace(files["berth.yaml"], "# secrets:", "secrets:", 1)
			}
			for name, body := range files {
				if err := atomicfile.Write(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "wrote a starter config repo in %s: berth.yaml, apps/hello/web.yaml (a static site in apps/hello/web/), .berth/schema/, .vscode/settings.json, .gitignore\n", dir)
			fmt.Fprintf(out, "next: berth validate %s, then git init, commit and push it, and run berth agent --repo URL\n", dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&ageKey, "age-key", "", "also make an age identity at this file (mode 0600) and put its recipient in berth.yaml")
	return cmd
}

// starterFiles are the files of a new config repo, by path.
func starterFiles() (map[string]string, error) {
	files := map[string]string{
		"berth.yaml": `# yaml-language-server: $schema=.berth/schema/berth.json
# Repo-wide settings. Every key is optional; see the README.
# secrets:
#   recipients: [age1...]
defaults:
  stop_grace_period: 10s
`,
		"apps/hello/web.yaml": `# yaml-language-server: $schema=../../.berth/schema/workload.json
# One workload: apps/<app>/<name>.yaml. This one is a static site: Berth
# builds a FROM-scratch image that serves web/ (nothing is pulled, so it
# runs offline), deploys it blue-green, and routes hello.localhost to it.
# For an image from a registry: source: {type: image, image: NAME:TAG}.
source:
  type: static
  dir: web
route:
  hosts: [hello.localhost]
healthcheck:
  path: /
`,
		"apps/hello/web/index.html": `<!doctype html>
<title>hello from Berth</title>
<h1>Hello from Berth</h1>
<p>Edit apps/hello/web/index.html, commit, push: the next tick deploys it.</p>
`,
		".gitignore": "# age identities decrypt every secret: never commit one\n*.key\nage-key*.txt\n",
		".vscode/settings.json": `{
  "yaml.schemas": {
    ".berth/schema/workload.json": ["apps/*/*.yaml", "!apps/*/app.yaml"],
    ".berth/schema/app.json": "apps/*/app.yaml",
    ".berth/schema/berth.json": "berth.yaml"
  }
}
`,
	}
	for _, f := range gitops.SchemaFiles {
		b, err := gitops.Schema(f)
		if err != nil {
			return nil, err
		}
		files[".berth/schema/"+f+".json"] = string(b) + "\n"
	}
	return files, nil
}
