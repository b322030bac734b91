package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "berth",
		Short:         "Pull-based GitOps for plain Docker hosts",
		Long:          "Berth pulls a config repo, deploys what changed on this Docker host with zero downtime, and reports back.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       currentBuild().String(),
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return envFallback(cmd)
		},
	}
	root.AddCommand(newValidateCmd(), newSyncCmd(), newAgentCmd(), newStatusCmd(), newEventsCmd(), newProxyCmd(), newServeStaticCmd(), newSecretsCmd(), newPlanCmd(), newFleetCmd(), newInitCmd(), newSchemaCmd(),
		newReleasesCmd(), newRollbackCmd(), newResumeCmd(), newSuspendCmd(), newRetryCmd(), newVersionCmd(), newRunCmd(), newJobsCmd(), newBackupCmd(), newBackupsCmd(), newRestoreCmd(), newUpdatesCmd(), newPreviewsCmd(), newMaintenanceCmd(), newLogsCmd())
	root.SetVersionTemplate("{{.Version}}\n")
	return root
}

// envFallback sets every flag the user did not pass from its BERTH_
// environment variable (--state-dir ← BERTH_STATE_DIR).
func envFallback(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		name := "BERTH_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v, ok := os.LookupEnv(name)
		if !ok {
			return
		}
		if serr := f.Value.Set(v); serr != nil {
			err = fmt.Errorf("%s=%q: %w", name, v, serr)
			return
		}
		f.Changed = true
	})
	return err
}
