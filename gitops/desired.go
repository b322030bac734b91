package gitops

import (
	"errors"

	"github.com/berthops/berth/sources"
)

// Desired is the config repo rendered into workloads.
type Desired struct {
	Repo RepoConfig
	// AppPreviews are the previews blocks of apps' app.yaml, by app.
	AppPreviews map[string]*Previews
	// Workloads are the valid workloads, sorted by id.
	Workloads []*sources.Workload
	// Elsewhere are the valid workloads PlaceOn left to other agents, by
	// id: the repo is not empty when this agent runs none of them, and a
	// workload that moved away is pruned here once it serves there.
	Elsewhere map[string]*sources.Workload
	// Invalid are the workload files that failed to load; each fails alone.
	Invalid []*InvalidWorkload
	// Errors are repo-wide problems (berth.yaml, an app folder): while there
	// are any, nothing should be deployed or pruned.
	Errors []error
	// Kept are ids that are not deployed now but must not be pruned: the
	// previews whose heads could not be read (a forge that is down).
	Kept map[string]bool
	// Secrets are the shared secret files, global and per app.
	Secrets []SecretFile
	// SecretErrors are secret files that cannot be used. They fail
	// `berth validate`; the agent deploys without them and warns.
	SecretErrors []error
}

// InvalidWorkload is a workload file that did not load.
type InvalidWorkload struct {
	ID   string // <app>/<name> from the file name, even when the name is bad
	File string
	Errs []error
}

// Err joins the workload's errors.
func (w *InvalidWorkload) Err() error { return errors.Join(w.Errs...) }

// AllErrors lists every problem, repo-wide first.
func (d *Desired) AllErrors() []error {
	errs := append(append([]error(nil), d.Errors...), d.SecretErrors...)
	for _, w := range d.Invalid {
		errs = append(errs, w.Errs...)
	}
	return errs
}

// IDs is every workload id the repo declares, valid or not.
func (d *Desired) IDs() map[string]bool {
	ids := make(map[string]bool, len(d.Workloads)+len(d.Invalid))
	for _, w := range d.Workloads {
		ids[w.ID()] = true
	}
	for _, w := range d.Invalid {
		ids[w.ID] = true
	}
	for id := range d.Kept {
		ids[id] = true
	}
	return ids
}

// ByID indexes the valid workloads.
func (d *Desired) ByID() map[string]*sources.Workload {
	m := make(map[string]*sources.Workload, len(d.Workloads))
	for _, w := range d.Workloads {
		m[w.ID()] = w
	}
	return m
}
