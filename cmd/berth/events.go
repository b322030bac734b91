package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/agent/store"
)

func newEventsCmd() *cobra.Command {
	var state stateFlag
	var out outputFlags
	var c agentClient
	var workload string
	var follow bool
	var limit int
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Show the event log, newest last; --follow keeps printing new events",
		Example: `  berth events --workload shop/web
  berth events --severity error --follow
  berth events --json | jq .message`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := store.EventFilter{WorkloadID: workload, Severity: cmd.Flag("severity").Value.String(), Limit: limit}
			var read func(store.EventFilter) ([]store.Event, error)
			if viaAgent(cmd, &c) {
				read = func(f store.EventFilter) ([]store.Event, error) { return agentEvents(cmd, &c, f) }
			} else {
				st, err := openStore(cmd, state.dir)
				if err != nil {
					return err
				}
				defer st.Close()
				read = func(f store.EventFilter) ([]store.Event, error) { return st.Events(cmd.Context(), f) }
			}
			evs, err := read(f)
			if err != nil {
				return err
			}
			slices.Reverse(evs) // oldest first, like a log
			asJSON := out.Format() == "json"
			var last int64
			for _, e := range evs {
				printEvent(cmd.OutOrStdout(), e, asJSON)
				last = e.ID
			}
			if !follow {
				return nil
			}
			return followEvents(cmd, read, f, last, asJSON)
		},
	}
	state.register(cmd.Flags())
	out.register(cmd, "text", "json")
	c.register(cmd, 30*time.Second)
	cmd.Flags().StringVar(&workload, "workload", "", "only events of APP/NAME")
	addChoice(cmd, cmd.Flags(), "severity", "", "only events of this severity", "", store.SeverityInfo, store.SeverityWarn, store.SeverityError)
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new events")
	cmd.Flags().IntVar(&limit, "limit", 50, "how many recent events to show")
	return cmd
}

// followEvents prints events newer than last until the command is stopped.
func followEvents(cmd *cobra.Command, read func(store.EventFilter) ([]store.Event, error), f store.EventFilter, last int64, asJSON bool) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-cmd.Context().Done():
			return nil
		case <-t.C:
		}
		f.After, f.Ascending, f.Limit = last, true, 1000
		evs, err := read(f)
		if err != nil {
			return err
		}
		for _, e := range evs {
			printEvent(cmd.OutOrStdout(), e, asJSON)
			last = e.ID
		}
	}
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

// agentEvents reads the event log from the running agent.
func agentEvents(cmd *cobra.Command, c *agentClient, f store.EventFilter) ([]store.Event, error) {
	q := url.Values{}
	if f.WorkloadID != "" {
		q.Set("workload", f.WorkloadID)
	}
	if f.Severity != "" {
		q.Set("severity", f.Severity)
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.After > 0 {
		q.Set("after", strconv.FormatInt(f.After, 10))
	}
	var evs []store.Event
	_, err := c.do(cmd.Context(), http.MethodGet, "/api/events?"+q.Encode(), nil, &evs)
	return evs, err
}
