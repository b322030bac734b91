package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/gitops"
)

func newSchemaCmd() *cobra.Command {
	var markdown bool
	cmd := &cobra.Command{
		Use:   "schema [workload|app|berth]",
		Short: "Print the JSON Schema of workload files, app.yaml or berth.yaml (for editors)",
		Long: "Prints a JSON Schema (draft 2020-12) generated from the types Berth decodes config files into.\n" +
			"`berth init` writes all three into .berth/schema/ and points yaml-language-server at them.",
		Example: `  berth schema workload > .berth/schema/workload.json
  berth schema --markdown > docs/configuration.md`,
		Args:      cobra.MaximumNArgs(1),
		ValidArgs: gitops.SchemaFiles,
		RunE: func(cmd *cobra.Command, args []string) error {
			if markdown {
				md, err := gitops.SchemaMarkdown()
				if err != nil {
					return err
				}
				_, err = fmt.Fprint(cmd.OutOrStdout(), md)
				return err
			}
			file := "workload"
			if len(args) == 1 {
				file = args[0]
			}
			b, err := gitops.Schema(file)
			if err != nil {
				return &exitError{code: 2, msg: fmt.Sprintf("%v (one of %s)", err, strings.Join(gitops.SchemaFiles, ", "))}
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), string(b))
			return err
		},
	}
	cmd.Flags().BoolVar(&markdown, "markdown", false, "print the configuration reference of all three files (docs/configuration.md) instead")
	return cmd
}
