package agent

import (
	_ "embed" // the web UI
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/berthops/berth/agent/store"
)

//go:embed ui/index.html
var indexHTML []byte

// Handler is the agent's HTTP API (README: "HTTP API"), behind the Host
// and Origin guard.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := a.readiness(a.now())
		if !ok {
			http.Error(w, why, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, why)
	})
	mux.HandleFunc("GET /api/workloads", a.authed(a.listWorkloads))
	mux.HandleFunc("GET /api/workloads/{app}/{name}/events", a.authed(a.workloadEvents))
	mux.HandleFunc("GET /api/workloads/{app}/{name}/releases", a.authed(a.listReleases))
	mux.HandleFunc("POST /api/workloads/{app}/{name}/rollback", a.authed(a.rollback))
	mux.HandleFunc("POST /api/workloads/{app}/{name}/suspend", a.authed(a.operate(suspendOp)))
	mux.HandleFunc("POST /api/workloads/{app}/{name}/resume", a.authed(a.operate(resumeOp)))
	mux.HandleFunc("GET /api/events/stream", a.authed(a.streamEvents))
	mux.HandleFunc("GET /api/shared-secrets", a.authed(a.sharedSecrets))
	mux.HandleFunc("GET /api/fleet", a.authed(a.fleetAPI))
	mux.HandleFunc("POST /api/sync", a.authed(func(w http.ResponseWriter, _ *http.Request) {
		a.Trigger()
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintln(w, "sync queued")
	}))
	mux.Handle("GET /metrics", a.authed(a.metricsHandler().ServeHTTP))
	mux.HandleFunc("GET /badges/{app}/{file}", a.badge) // public, like any badge
	mux.HandleFunc("POST /hooks/git", a.gitHook)        // authenticated by its signature
	mux.HandleFunc("GET /login", a.loginPage)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	// The page holds no data: it reads the API like any client.
	mux.HandleFunc("GET /{$}", a.page)
	mux.HandleFunc("GET /w/{app}/{name}", a.page)
	mux.HandleFunc("GET /fleet", a.page)
	return a.guard(mux)
}

// HooksHandler serves only the webhook receiver, for --hooks-listen: the
// one endpoint to expose to a forge.
func (a *Agent) HooksHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /hooks/git", a.gitHook)
	return mux
}

func (a *Agent) page(w http.ResponseWriter, r *http.Request) {
	if !a.authorized(r) {
		to := "/login"
		if l := r.URL.Query().Get("lang"); known(l) {
			to += "?lang=" + l
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
		return
	}
	servePage(w, r, indexHTML)
}

func (a *Agent) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !a.authorized(r) {
			http.Error(w, "missing or wrong bearer token (or session)", http.StatusUnauthorized)
			return
		}
		h(w, r)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (a *Agent) listWorkloads(w http.ResponseWriter, r *http.Request) {
	rows, err := a.store.ListRuntime(r.Context())
	if err != nil {
		a.log.Error("API: listing workloads failed", "error", err)
		http.Error(w, "listing workloads failed", http.StatusInternalServerError)
		return
	}
	writeJSON(w, workloadViews(rows))
}

func (a *Agent) workloadEvents(w http.ResponseWriter, r *http.Request) {
	f := store.EventFilter{WorkloadID: r.PathValue("app") + "/" + r.PathValue("name")}
	q := r.URL.Query()
	var err error
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 {
			http.Error(w, "limit must be a positive integer", http.StatusBadRequest)
			return
		}
	}
	if v := q.Get("before"); v != "" {
		if f.Before, err = strconv.ParseInt(v, 10, 64); err != nil {
			http.Error(w, "before must be an event id", http.StatusBadRequest)
			return
		}
	}
	switch sev := q.Get("severity"); sev {
	case "", store.SeverityInfo, store.SeverityWarn, store.SeverityError:
		f.Severity = sev
	default:
		http.Error(w, "severity must be info, warn or error", http.StatusBadRequest)
		return
	}
	evs, err := a.store.Events(r.Context(), f)
	if err != nil {
		a.log.Error("API: listing events failed", "error", err)
		http.Error(w, "listing events failed", http.StatusInternalServerError)
		return
	}
	writeJSON(w, evs)
}

// sharedSecrets lists the shared secrets of the last loaded commit: scope,
// app, name and whether a value could be decrypted. Never a value: secrets
// change only through reviewed commits (`berth secrets set`).
func (a *Agent) sharedSecrets(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, a.secrets.list())
}
