package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/agent/store"
)

func newEventsCmd() *cobra.Command {
	var stateDir, workload, severity string
	var asJSON, follow bool
	var limit int
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Show the event log, newest last; --follow keeps printing new events",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openStore(cmd, stateDir)
			if err != nil {
				return err
			}
			defer st.Close()
			f := store.EventFilter{WorkloadID: workload, Severity: severity, Limit: limit}
			evs, err := st.Events(cmd.Context(), f)
			if err != nil {
				return err
			}
			slices.Reverse(evs) // oldest first, like a log
			out := cmd.OutOrStdout()
			var last int64
			for _, e := range evs {
				printEvent(out, e, asJSON)
				last = e.ID
			}
			if !follow {
				return nil
			}
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-cmd.Context().Done():
					return nil
				case <-t.C:
				}
				f.After, f.Ascending, f.Limit = last, true, 1000
				evs, err := st.Events(cmd.Context(), f)
				if err != nil {
					return err
				}
				for _, e := range evs {
					printEvent(out, e, asJSON)
					last = e.ID
				}
			}
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", ".berth", "Berth's state dir")
	cmd.Flags().StringVar(&workload, "workload", "", "only events of APP/NAME")
	cmd.Flags().StringVar(&severity, "severity", "", "only info, warn or error")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON lines")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new events")
	cmd.Flags().IntVar(&limit, "limit", 50, "how many recent events to show")
	return cmd
}

func printEvent(w io.Writer, e store.Event, asJSON bool) {
	if asJSON {
		b, _ := json.Marshal(e)
		fmt.Fprintln(w, string(b))
		return
	}
	wl := e.WorkloadID
	if wl == "" {
		wl = "-"
	}
	fmt.Fprintf(w, "%s  %-5s  %-18s  %-20s  %s\n", e.Time.Local().Format(time.DateTime), e.Severity, e.Kind, wl, e.Message)
}
