package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/gitops"
)

func newPlanCmd() *cobra.Command {
	var base, head, sub, statusBranch string
	var out outputFlags
	var allow allowFlag
	var signersFile string
	cmd := &cobra.Command{
		Use:   "plan --base REV [--head REV] [DIR]",
		Short: "Show what merging head into base would change; exit 0 no change, 1 changes, 2 error",
		Long: "Loads both revisions from the local clone in DIR (no agent, no Docker, no network),\n" +
			"validates the head, and prints every workload added, removed or changed, strategy\n" +
			"changes first, and the shared secrets whose files changed (names only, never values).\n" +
			"With a status branch in the clone (origin/berth/status after a fetch), each change also\n" +
			"names the agents it lands on, and a placement change the agents it moves between.",
		Example: `  berth plan --base origin/main --head HEAD
  berth plan --base main --format markdown > plan.md
  berth plan --base origin/main --trusted-signers .berth/allowed_signers`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			if base == "" {
				return &exitError{code: 2, msg: "--base is required (the branch or commit the pull request merges into)"}
			}
			p, baseD, headD, err := loadPlan(cmd.ErrOrStderr(), dir, base, head, sub, gitops.LoadOptions{Policy: allow.policy})
			if err != nil {
				return err
			}
			if statusBranch != "" {
				landPlan(cmd.ErrOrStderr(), p, baseD, headD, dir, statusBranch)
			}
			if signersFile != "" {
				if p.HeadSignature, err = headSignature(dir, head, signersFile); err != nil {
					return err
				}
			}
			if err := renderPlan(cmd.OutOrStdout(), p, out.Format()); err != nil {
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
	cmd.Flags().StringVar(&statusBranch, "status-branch", "berth/status", "read the agents from this branch of the clone (\"\": do not name agents)")
	cmd.Flags().StringVar(&signersFile, "trusted-signers", "", "also check the head's signature against this allowed-signers / PGP key file, as agents do")
	out.register(cmd, "text", "markdown", "json")
	allow.register(cmd)
	return cmd
}

// loadPlan renders both revisions and compares them; an invalid head is
// an error (exit 2) listing every problem on stderr.
func loadPlan(stderr io.Writer, dir, base, head, sub string, o gitops.LoadOptions) (p *gitops.Plan, baseD, headD *gitops.Desired, err error) {
	baseD, baseSHA, err := gitops.LoadRevision(dir, base, sub, o)
	if err != nil {
		return nil, nil, nil, &exitError{code: 2, msg: err.Error()}
	}
	headD, headSHA, err := gitops.LoadRevision(dir, head, sub, o)
	if err != nil {
		return nil, nil, nil, &exitError{code: 2, msg: err.Error()}
	}
	if errs := headD.AllErrors(); len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(stderr, e)
		}
		return nil, nil, nil, &exitError{code: 2, msg: fmt.Sprintf("the head (%s) is invalid: %d error(s)", head, len(errs))}
	}
	return gitops.NewPlan(baseD, headD, baseSHA, headSHA), baseD, headD, nil
}

func headSignature(dir, head, file string) (*gitops.Signature, error) {
	signers, err := gitops.LoadSigners(file)
	if err != nil {
		return nil, &exitError{code: 2, msg: "--trusted-signers: " + err.Error()}
	}
	sig, err := signers.CheckRevision(dir, head)
	if err != nil {
		return nil, &exitError{code: 2, msg: err.Error()}
	}
	return &sig, nil
}

func renderPlan(w io.Writer, p *gitops.Plan, format string) error {
	switch format {
	case "markdown":
		return p.WriteMarkdown(w)
	case "json":
		return p.WriteJSON(w)
	}
	return p.WriteText(w)
}

// landPlan names the agents each change lands on, from the status branch
// in the clone; without one the plan just does not name agents.
func landPlan(stderr io.Writer, p *gitops.Plan, baseD, headD *gitops.Desired, dir, branch string) {
	f, err := gitops.OpenFleet(dir, branch, time.Now())
	if errors.Is(err, gitops.ErrNoStatusBranch) {
		return
	}
	if err != nil {
		fmt.Fprintln(stderr, "warning: agents unknown:", err)
		return
	}
	p.Land(baseD, headD, f)
}
