package gitops

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/berthops/berth/policy"
)

// MaxFileSize is the largest YAML file Berth reads.
const MaxFileSize = 1 << 20

var nameRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// LoadOptions are what the operator decides about loading.
type LoadOptions struct {
	// Policy is what a commit may ask of the host (--allow); a workload
	// that asks for more is invalid.
	Policy policy.Policy
	// Repo, when set, is used instead of the checkout's berth.yaml (a
	// preview: its settings, policy and secret scope come from the
	// watched branch, never from the head it previews).
	Repo *RepoConfig
}

// Load reads and validates the config rooted at dir/sub under the default
// policy (nothing allowed). It returns an error only when the folder
// itself cannot be read; problems in the files are reported in Desired so
// one broken workload does not hide the others.
func Load(dir, sub string) (*Desired, error) { return LoadWith(dir, sub, LoadOptions{}) }

// LoadWith is Load with the operator's options.
func LoadWith(dir, sub string, o LoadOptions) (*Desired, error) {
	if sub != "" && sub != "." && !filepath.IsLocal(sub) {
		return nil, fmt.Errorf("--path %q must be a relative path inside the repo", sub)
	}
	root, err := os.OpenRoot(filepath.Join(dir, sub))
	if err != nil {
		return nil, fmt.Errorf("opening config root: %w", err)
	}
	defer root.Close()
	l := &loader{root: root, fsys: root.FS(), policy: o.Policy, repo: o.Repo, hostPos: map[string]map[string]Pos{}, projectPos: map[string]Pos{}, seen: map[string]string{}}
	return l.load()
}

type loader struct {
	policy     policy.Policy
	repo       *RepoConfig // the watched branch's berth.yaml, for a preview
	root       *os.Root
	fsys       fs.FS
	hostPos    map[string]map[string]Pos // workload id → route host → position
	projectPos map[string]Pos            // workload id → source.project (or source.type) position
	seen       map[string]string         // lower-cased workload id → file
}

func (l *loader) load() (*Desired, error) {
	d := &Desired{}
	l.loadRepoConfig(d)
	apps, err := fs.ReadDir(l.fsys, "apps")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading apps/: %w", err)
	}
	var appNames []string
	for _, app := range apps {
		if !app.IsDir() {
			continue
		}
		if l.loadApp(d, app.Name()) {
			appNames = append(appNames, app.Name())
		}
	}
	d.checkHosts(l.hostPos)
	d.checkProjects(l.projectPos)
	l.loadSecrets(d, appNames)
	sort.Slice(d.Workloads, func(i, j int) bool { return d.Workloads[i].ID() < d.Workloads[j].ID() })
	sort.Slice(d.Invalid, func(i, j int) bool { return d.Invalid[i].ID < d.Invalid[j].ID })
	return d, nil
}

// loadRepoConfig reads berth.yaml; a broken one is a repo-wide error and
// its defaults are not spread.
func (l *loader) loadRepoConfig(d *Desired) {
	if l.repo != nil {
		d.Repo = *l.repo
		return
	}
	data, err := l.readFile("berth.yaml")
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		d.Errors = append(d.Errors, &ConfigError{File: "berth.yaml", Msg: err.Error()})
		return
	}
	dec := newDecoder("berth.yaml")
	if n := parse(dec, data); n != nil {
		dec.decode("", n, reflectOf(&d.Repo))
	}
	validateRepoConfig(dec, &d.Repo)
	if len(dec.errs) > 0 {
		sortByPos(dec.errs)
		d.Errors = append(d.Errors, dec.errs...)
		d.Repo.Defaults = Defaults{}
	}
}

// loadApp loads apps/<app>: its app.yaml and every workload file. It
// reports whether the app itself is valid.
func (l *loader) loadApp(d *Desired, app string) bool {
	appDir := path.Join("apps", app)
	if !validName(app) {
		d.Errors = append(d.Errors, &ConfigError{File: appDir, Msg: fmt.Sprintf("app name %q must be lower-case letters, digits and '-', start and end with a letter or digit, at most 63 characters", app)})
		return false
	}
	defaults, ok := l.appDefaults(d, appDir)
	if !ok {
		return true
	}
	entries, err := fs.ReadDir(l.fsys, appDir)
	if err != nil {
		d.Errors = append(d.Errors, &ConfigError{File: appDir, Msg: err.Error()})
		return true
	}
	for _, e := range entries {
		name, isYAML := strings.CutSuffix(e.Name(), ".yaml")
		if !isYAML || e.IsDir() || e.Name() == "app.yaml" {
			continue
		}
		file := path.Join(appDir, e.Name())
		id := app + "/" + name
		w, errs := l.loadWorkload(app, name, file, defaults)
		if prev, dup := l.seen[strings.ToLower(id)]; dup {
			errs = append(errs, &ConfigError{File: file, Msg: fmt.Sprintf("workload id %q collides with %s (ids are compared ignoring case)", id, prev)})
		}
		l.seen[strings.ToLower(id)] = file
		if len(errs) > 0 {
			d.Invalid = append(d.Invalid, &InvalidWorkload{ID: id, File: file, Errs: errs})
			continue
		}
		d.Workloads = append(d.Workloads, w)
	}
	return true
}

// appDefaults merges apps/<app>/app.yaml's defaults over berth.yaml's; ok
// is false when app.yaml is broken (the app's workloads are then skipped).
func (l *loader) appDefaults(d *Desired, appDir string) (Defaults, bool) {
	defaults := d.Repo.Defaults
	file := path.Join(appDir, "app.yaml")
	data, err := l.readFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return defaults, true
	}
	if err != nil {
		d.Errors = append(d.Errors, &ConfigError{File: file, Msg: err.Error()})
		return defaults, false
	}
	var ac AppConfig
	dec := newDecoder(file)
	if n := parse(dec, data); n != nil {
		dec.decode("", n, reflectOf(&ac))
	}
	validatePreviews(dec, "previews", ac.Previews)
	if len(dec.errs) > 0 {
		d.Errors = append(d.Errors, dec.errs...)
		return defaults, false
	}
	if ac.Previews != nil {
		if d.AppPreviews == nil {
			d.AppPreviews = map[string]*Previews{}
		}
		d.AppPreviews[path.Base(appDir)] = ac.Previews
	}
	return mergeDefaults(defaults, ac.Defaults), true
}

func validName(s string) bool { return nameRe.MatchString(s) && len(s) <= 63 }

func (l *loader) readFile(name string) ([]byte, error) {
	f, err := l.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("file is larger than %d bytes", MaxFileSize)
	}
	return data, nil
}
