package agent

import (
	"fmt"
	"net/http"
)

// Counter is a monotonically increasing count, such as Docker API calls.
type Counter interface{ Calls() int64 }

func (a *Agent) metrics(w http.ResponseWriter, r *http.Request) {
	rows, err := a.store.ListRuntime(r.Context())
	if err != nil {
		http.Error(w, "listing workloads failed", http.StatusInternalServerError)
		return
	}
	byStatus := map[string]int{}
	for _, row := range rows {
		byStatus[row.Status]++
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintln(w, "# HELP berth_workloads Workloads by runtime status.")
	fmt.Fprintln(w, "# TYPE berth_workloads gauge")
	for status, n := range byStatus {
		fmt.Fprintf(w, "berth_workloads{status=%q} %d\n", status, n)
	}
	fmt.Fprintln(w, "# HELP berth_sql_queries_total SQL statements run by this agent.")
	fmt.Fprintln(w, "# TYPE berth_sql_queries_total counter")
	fmt.Fprintf(w, "berth_sql_queries_total %d\n", a.store.Queries())
	if c, ok := a.docker.(Counter); ok {
		fmt.Fprintln(w, "# HELP berth_docker_api_calls_total Docker API requests made by this agent.")
		fmt.Fprintln(w, "# TYPE berth_docker_api_calls_total counter")
		fmt.Fprintf(w, "berth_docker_api_calls_total %d\n", c.Calls())
	}
}
