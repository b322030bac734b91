package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/gitops"
)

func newPlanCmd() *cobra.Command {
	var base, head, sub, format string
	cmd := &cobra.Command{
		Use:   "plan --base REV [--head REV] [DIR]",
		Short: "Show what merging head into base would change; exit 0 no change, 1 changes, 2 error",
		Long: "Loads both revisions from the local clone in DIR (no agent, no Docker, no network),\n" +
			"validates the head, and prints every workload added, removed or changed, strategy\n" +
			"changes first, and the shared secrets whose files changed (names only, never values).",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			if base == "" {
				return &exitError{code: 2, msg: "--base is required (the branch or commit the pull request merges into)"}
			}
			render := map[string]func(p *gitops.Plan) error{
				"text":     func(p *gitops.Plan) error { return p.WriteText(cmd.OutOrStdout()) },
				"markdown": func(p *gitops.Plan) error { return p.WriteMarkdown(cmd.OutOrStdout()) },
				"json":     func(p *gitops.Plan) error { return p.WriteJSON(cmd.OutOrStdout()) },
			}[format]
			if render == nil {
				return &exitError{code: 2, msg: fmt.Sprintf("--format %q: want text, markdown or json", format)}
			}
			baseD, baseSHA, err := gitops.LoadRevision(dir, base, sub)
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			headD, headSHA, err := gitops.LoadRevision(dir, head, sub)
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			if errs := headD.AllErrors(); len(errs) > 0 {
				for _, e := range errs {
					fmt.Fprintln(cmd.ErrOrStderr(), e)
				}
				return &exitError{code: 2, msg: fmt.Sprintf("the head (%s) is invalid: %d error(s)", head, len(errs))}
			}
			p := gitops.NewPlan(baseD, headD, baseSHA, headSHA)
			if err := render(p); err != nil {
				return err
			}
			if p.Changed() {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&base, "base", "", "the revision merged into (branch, tag or commit)")
	cmd.Flags().StringVar(&head, "head", "HEAD", "the revision to merge")
	cmd.Flags().StringVar(&sub, "path", "", "config folder inside the repo")
	cmd.Flags().StringVar(&format, "format", "text", "text, markdown or json")
	return cmd
}
