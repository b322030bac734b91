package api

import (
	"bytes"
	_ "embed" // the web UI
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/store"
)

//go:embed ui/index.html
var indexHTML []byte

// Handler is the agent's HTTP API (README: "HTTP API"), behind the Host
// and Origin guard.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := s.agent.Ready()
		if !ok {
			http.Error(w, why, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, why)
	})
	mux.HandleFunc("GET /api/workloads", s.authed(s.listWorkloads))
	mux.HandleFunc("GET /api/workloads/{app}/{name}/events", s.authed(s.workloadEvents))
	mux.HandleFunc("GET /api/workloads/{app}/{name}/releases", s.authed(s.listReleases))
	mux.HandleFunc("GET /api/workloads/{app}/{name}/logs", s.authed(s.logs))
	mux.HandleFunc("GET /api/workloads/{app}/{name}/usage", s.authed(s.usage))
	mux.HandleFunc("POST /api/workloads/{app}/{name}/rollback", s.authed(s.rollback))
	mux.HandleFunc("POST /api/workloads/{app}/{name}/suspend", s.authed(s.operate(suspendOp)))
	mux.HandleFunc("POST /api/workloads/{app}/{name}/resume", s.authed(s.operate(resumeOp)))
	mux.HandleFunc("POST /api/workloads/{app}/{name}/retry", s.authed(s.operate(retryOp)))
	mux.HandleFunc("POST /api/workloads/{app}/{name}/run", s.authed(s.operate(runOp)))
	mux.HandleFunc("POST /api/workloads/{app}/{name}/maintenance", s.authed(s.operate(maintenanceOp)))
	mux.HandleFunc("GET /api/runs", s.authed(s.runs))
	mux.HandleFunc("POST /api/workloads/{app}/{name}/backup", s.authed(s.backup))
	mux.HandleFunc("POST /api/workloads/{app}/{name}/restore", s.authed(s.restore))
	mux.HandleFunc("GET /api/backups", s.authed(s.backups))
	mux.HandleFunc("GET /api/ui", s.authed(s.uiSettings))
	mux.HandleFunc("GET /api/updates", s.authed(func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, s.agent.Updates()) }))
	mux.HandleFunc("GET /api/previews", s.authed(func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, s.agent.Previews()) }))
	mux.HandleFunc("GET /api/events/stream", s.authed(s.streamEvents))
	mux.HandleFunc("GET /api/shared-secrets", s.authed(s.sharedSecrets))
	mux.HandleFunc("GET /api/fleet", s.authed(s.fleet))
	mux.HandleFunc("POST /api/sync", s.authed(s.sync))
	mux.HandleFunc("GET /api/events", s.authed(s.events))
	mux.Handle("GET /metrics", s.authed(s.metrics().ServeHTTP))
	mux.HandleFunc("GET /badges/{app}/{file}", s.badge) // public, like any badge
	mux.HandleFunc("POST /hooks/git", s.gitHook)        // authenticated by its signature
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)
	// The page holds no data: it reads the API like any client.
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("GET /w/{app}/{name}", s.page)
	mux.HandleFunc("GET /fleet", s.page)
	return s.guard(mux)
}

// HooksHandler serves only the webhook receiver, for --hooks-listen: the
// one endpoint to expose to a forge.
func (s *Server) HooksHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /hooks/git", s.gitHook)
	return mux
}

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		to := "/login"
		if l := r.URL.Query().Get("lang"); known(l) {
			to += "?lang=" + l
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
		return
	}
	servePage(w, r, s.withBoot(r, indexHTML))
}

// withBoot puts what the page shows first into it (the workload list;
// on a workload's page its releases and newest events too), so the page
// renders in its first script run, not after a round of fetches: a
// plain headless screenshot shows it. "</" is escaped in the JSON.
func (s *Server) withBoot(r *http.Request, page []byte) []byte {
	ctx := r.Context()
	boot := map[string]any{"auth": s.opts.Token != "", "commit_url": s.opts.CommitURL}
	if rows, err := s.store.ListRuntime(ctx); err == nil {
		views := agent.WorkloadViews(rows)
		usage, hosts := s.agent.SampledUsage(), s.agent.RouteHosts()
		for i := range views {
			views[i].Usage, views[i].Hosts = usage[views[i].WorkloadID], hosts[views[i].WorkloadID]
		}
		boot["workloads"] = views
	}
	if app, name := r.PathValue("app"), r.PathValue("name"); app != "" && name != "" {
		id := app + "/" + name
		if rels, err := s.agent.Releases(ctx, id); err == nil {
			boot["releases"] = rels
		}
		if evs, err := s.store.Events(ctx, store.EventFilter{WorkloadID: id, Limit: 20}); err == nil {
			boot["events"] = evs
		}
	}
	b, err := json.Marshal(boot)
	if err != nil {
		return page
	}
	b = bytes.ReplaceAll(b, []byte("</"), []byte(`<\/`))
	return bytes.Replace(page, []byte(`<script id="boot" type="application/json">{}</script>`),
		append(append([]byte(`<script id="boot" type="application/json">`), b...), []byte(`</script>`)...), 1)
}

func (s *Server) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if wait := s.guesses.wait(r, s.now()); wait > 0 {
			tooMany(w, wait)
			return
		}
		if !s.authorized(r) {
			if r.Header.Get("Authorization") != "" {
				s.guesses.failed(r, s.now()) // a wrong bearer token is a guess
			}
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

func (s *Server) listWorkloads(w http.ResponseWriter, r *http.Request) {
	rows, err := s.store.ListRuntime(r.Context())
	if err != nil {
		s.log.Error("API: listing workloads failed", "error", err)
		http.Error(w, "listing workloads failed", http.StatusInternalServerError)
		return
	}
	views := agent.WorkloadViews(rows)
	usage, hosts := s.agent.SampledUsage(), s.agent.RouteHosts()
	for i := range views {
		views[i].Usage, views[i].Hosts = usage[views[i].WorkloadID], hosts[views[i].WorkloadID]
	}
	writeJSON(w, views)
}

// uiSettings tells the page what it cannot know: whether a token guards
// the API (so Log out means something) and the forge's commit links.
func (s *Server) uiSettings(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]any{"auth": s.opts.Token != "", "commit_url": s.opts.CommitURL})
}

// usage samples a workload's containers now (the workload page).
func (s *Server) usage(w http.ResponseWriter, r *http.Request) {
	us, err := s.agent.Usage(r.Context(), pathID(r))
	switch {
	case err == nil:
		writeJSON(w, us)
	case errors.Is(err, agent.ErrNoLogs), errors.Is(err, agent.ErrUnknownWorkload):
		http.Error(w, s.opts.Redact(err.Error()), http.StatusNotFound)
	default:
		s.log.Error("API: sampling use failed", "error", err)
		http.Error(w, "sampling failed; see the agent's log", http.StatusInternalServerError)
	}
}

// sync queues a tick (202), or, with ?wait=1, runs one now and answers
// with its result: `berth sync` next to a running agent asks it.
func (s *Server) sync(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("wait") == "" {
		s.agent.Trigger()
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintln(w, "sync queued")
		return
	}
	res, err := s.agent.Tick(r.Context())
	if res == nil {
		res = &agent.TickResult{}
	}
	out := SyncResult{Commit: res.Commit, NoOp: res.NoOp, Deployed: res.Deployed, Failed: res.Failed, Invalid: res.Invalid, Pruned: res.Pruned}
	if err != nil {
		out.Error = err.Error()
	}
	for _, o := range res.Outcomes {
		if o.Reason != "" {
			out.Reasons = append(out.Reasons, o.Workload.ID()+": "+o.Reason)
		}
	}
	writeJSON(w, out)
}

// SyncResult is a tick's result as POST /api/sync?wait=1 tells it.
type SyncResult struct {
	Commit   string   `json:"commit"`
	NoOp     bool     `json:"no_op"`
	Deployed []string `json:"deployed"`
	Failed   []string `json:"failed"`
	Invalid  []string `json:"invalid"`
	Pruned   []string `json:"pruned"`
	Reasons  []string `json:"reasons,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// events lists the event log, newest first: ?workload=APP/NAME,
// ?severity=, ?limit=, ?before=ID, ?after=ID (then oldest first).
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	s.listEvents(w, r, store.EventFilter{WorkloadID: r.URL.Query().Get("workload")})
}

func (s *Server) workloadEvents(w http.ResponseWriter, r *http.Request) {
	s.listEvents(w, r, store.EventFilter{WorkloadID: r.PathValue("app") + "/" + r.PathValue("name")})
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, f store.EventFilter) {
	q := r.URL.Query()
	if v := q.Get("after"); v != "" {
		after, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			http.Error(w, "after must be an event id", http.StatusBadRequest)
			return
		}
		f.After, f.Ascending = after, true
	}
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
	evs, err := s.store.Events(r.Context(), f)
	if err != nil {
		s.log.Error("API: listing events failed", "error", err)
		http.Error(w, "listing events failed", http.StatusInternalServerError)
		return
	}
	writeJSON(w, evs)
}

// sharedSecrets lists the shared secrets of the last loaded commit: scope,
// app, name and whether a value could be decrypted. Never a value: secrets
// change only through reviewed commits (`berth secrets set`).
func (s *Server) sharedSecrets(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, s.agent.SharedSecrets())
}
