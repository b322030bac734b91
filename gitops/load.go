package gitops

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/berthops/berth/secrets"
	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/sources/compose"
	"github.com/berthops/berth/sources/dockerfile"
	"github.com/berthops/berth/sources/image"
	"github.com/berthops/berth/sources/static"
)

// MaxFileSize is the largest YAML file Berth reads.
const MaxFileSize = 1 << 20

var (
	nameRe   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	envKeyRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	hostRe   = regexp.MustCompile(`^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// Desired is the config repo rendered into workloads.
type Desired struct {
	Repo RepoConfig
	// Workloads are the valid workloads, sorted by id.
	Workloads []*sources.Workload
	// Invalid are the workload files that failed to load; each fails alone.
	Invalid []*InvalidWorkload
	// Errors are repo-wide problems (berth.yaml, an app folder): while there
	// are any, nothing should be deployed or pruned.
	Errors []error
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
	return ids
}

// Load reads and validates the config rooted at dir/sub. It returns an
// error only when the folder itself cannot be read; problems in the files
// are reported in Desired so one broken workload does not hide the others.
func Load(dir, sub string) (*Desired, error) {
	if sub != "" && sub != "." && !filepath.IsLocal(sub) {
		return nil, fmt.Errorf("--path %q must be a relative path inside the repo", sub)
	}
	root, err := os.OpenRoot(filepath.Join(dir, sub))
	if err != nil {
		return nil, fmt.Errorf("opening config root: %w", err)
	}
	defer root.Close()
	l := &loader{root: root, fsys: root.FS(), hostPos: map[string]map[string]Pos{}}
	return l.load()
}

type loader struct {
	root    *os.Root
	fsys    fs.FS
	hostPos map[string]map[string]Pos // workload id → route host → position
}

func (l *loader) load() (*Desired, error) {
	d := &Desired{}
	if data, err := l.readFile("berth.yaml"); err == nil {
		dec := newDecoder("berth.yaml")
		if n := parse(dec, data); n != nil {
			dec.decode("", n, reflectOf(&d.Repo))
		}
		validateRepoConfig(dec, &d.Repo)
		if len(dec.errs) > 0 {
			sortByPos(dec.errs)
			d.Errors = append(d.Errors, dec.errs...)
			d.Repo.Defaults = Defaults{} // do not spread a broken default
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		d.Errors = append(d.Errors, &ConfigError{File: "berth.yaml", Msg: err.Error()})
	}

	apps, err := fs.ReadDir(l.fsys, "apps")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading apps/: %w", err)
	}
	seen := map[string]string{} // lower-cased id → file
	var appNames []string
	for _, app := range apps {
		if !app.IsDir() {
			continue
		}
		appDir := path.Join("apps", app.Name())
		if !nameRe.MatchString(app.Name()) || len(app.Name()) > 63 {
			d.Errors = append(d.Errors, &ConfigError{File: appDir, Msg: fmt.Sprintf("app name %q must be lower-case letters, digits and '-', start and end with a letter or digit, at most 63 characters", app.Name())})
			continue
		}
		appNames = append(appNames, app.Name())
		defaults := d.Repo.Defaults
		if data, err := l.readFile(path.Join(appDir, "app.yaml")); err == nil {
			var ac AppConfig
			dec := newDecoder(path.Join(appDir, "app.yaml"))
			if n := parse(dec, data); n != nil {
				dec.decode("", n, reflectOf(&ac))
			}
			if len(dec.errs) > 0 {
				d.Errors = append(d.Errors, dec.errs...)
				continue
			}
			defaults = mergeDefaults(defaults, ac.Defaults)
		} else if !errors.Is(err, fs.ErrNotExist) {
			d.Errors = append(d.Errors, &ConfigError{File: path.Join(appDir, "app.yaml"), Msg: err.Error()})
			continue
		}
		entries, err := fs.ReadDir(l.fsys, appDir)
		if err != nil {
			d.Errors = append(d.Errors, &ConfigError{File: appDir, Msg: err.Error()})
			continue
		}
		for _, e := range entries {
			name, ok := strings.CutSuffix(e.Name(), ".yaml")
			if !ok || e.IsDir() || e.Name() == "app.yaml" {
				continue
			}
			file := path.Join(appDir, e.Name())
			id := app.Name() + "/" + name
			w, errs := l.loadWorkload(app.Name(), name, file, defaults)
			if prev, dup := seen[strings.ToLower(id)]; dup {
				errs = append(errs, &ConfigError{File: file, Msg: fmt.Sprintf("workload id %q collides with %s (ids are compared ignoring case)", id, prev)})
			}
			seen[strings.ToLower(id)] = file
			if len(errs) > 0 {
				d.Invalid = append(d.Invalid, &InvalidWorkload{ID: id, File: file, Errs: errs})
				continue
			}
			d.Workloads = append(d.Workloads, w)
		}
	}
	d.checkHosts(l.hostPos)
	l.loadSecrets(d, appNames)
	sort.Slice(d.Workloads, func(i, j int) bool { return d.Workloads[i].ID() < d.Workloads[j].ID() })
	sort.Slice(d.Invalid, func(i, j int) bool { return d.Invalid[i].ID < d.Invalid[j].ID })
	return d, nil
}

// checkHosts fails every workload that claims a route host another
// workload claims too.
func (d *Desired) checkHosts(hostPos map[string]map[string]Pos) {
	owners := map[string][]*sources.Workload{}
	for _, w := range d.Workloads {
		if w.Route == nil {
			continue
		}
		for _, h := range w.Route.Hosts {
			owners[h] = append(owners[h], w)
		}
	}
	bad := map[*sources.Workload][]error{}
	for h, ws := range owners {
		if len(ws) < 2 {
			continue
		}
		for _, w := range ws {
			var others []string
			for _, o := range ws {
				if o != w {
					others = append(others, o.File)
				}
			}
			p := hostPos[w.ID()][h]
			bad[w] = append(bad[w], &ConfigError{File: w.File, Line: p.Line, Col: p.Col, Field: "route.hosts", Msg: fmt.Sprintf("host %q is also claimed by %s", h, strings.Join(others, ", "))})
		}
	}
	if len(bad) == 0 {
		return
	}
	kept := d.Workloads[:0]
	for _, w := range d.Workloads {
		if errs, ok := bad[w]; ok {
			sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
			d.Invalid = append(d.Invalid, &InvalidWorkload{ID: w.ID(), File: w.File, Errs: errs})
			continue
		}
		kept = append(kept, w)
	}
	d.Workloads = kept
}

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

// parse reads one YAML document; it records a syntax error and returns nil.
func parse(dec *decoder, data []byte) *yaml.Node {
	var n yaml.Node
	yd := yaml.NewDecoder(bytes.NewReader(data))
	if err := yd.Decode(&n); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file is an empty mapping
		}
		dec.errorf("", syntaxPos(err), "%s", lineRe.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), ""))
		return nil
	}
	var extra yaml.Node
	if err := yd.Decode(&extra); err == nil {
		dec.errorf("", nodePos(&extra), "only one YAML document is allowed per file")
	}
	return &n
}

var lineRe = regexp.MustCompile(`line (\d+): `)

// sortByPos orders one file's errors by line and column.
func sortByPos(errs []error) {
	sort.SliceStable(errs, func(i, j int) bool {
		var a, b *ConfigError
		if !errors.As(errs[i], &a) || !errors.As(errs[j], &b) {
			return false
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

func syntaxPos(err error) Pos {
	m := lineRe.FindStringSubmatch(err.Error())
	if m == nil {
		return Pos{Line: 1, Col: 1}
	}
	var line int
	line, _ = strconv.Atoi(m[1]) // the regexp matched digits
	return Pos{Line: line, Col: 1}
}

func (l *loader) loadWorkload(app, name, file string, defaults Defaults) (*sources.Workload, []error) {
	data, err := l.readFile(file)
	if err != nil {
		return nil, []error{&ConfigError{File: file, Msg: err.Error()}}
	}
	dec := newDecoder(file)
	if !nameRe.MatchString(name) || len(name) > 63 {
		dec.errorf("", Pos{}, "workload name %q (the file name) must be lower-case letters, digits and '-', start and end with a letter or digit, at most 63 characters", name)
	}
	n := parse(dec, data)
	if n == nil {
		if len(dec.errs) == 0 {
			dec.errorf("source", Pos{Line: 1, Col: 1}, "is required")
		}
		return nil, dec.errs
	}
	var wf workloadFile
	dec.decode("", n, reflectOf(&wf))
	w := &sources.Workload{
		App: app, Name: name, File: file, Dir: path.Dir(file),
		Env: wf.Env, Port: wf.Port, HostPort: wf.HostPort, Route: wf.Route, Healthcheck: wf.Healthcheck,
		StopGracePeriod: wf.StopGracePeriod,
	}
	if w.Healthcheck == nil && w.Port != 0 {
		w.Healthcheck = defaults.Healthcheck // a probe needs a port: workers go without
	}
	if w.StopGracePeriod == 0 {
		w.StopGracePeriod = defaults.StopGracePeriod
	}
	w.Source = decodeSource(dec, &wf.Source)
	if dp, ok := w.Source.(interface{ DefaultPort() int }); ok && w.Port == 0 {
		w.Port = dp.DefaultPort()
	}
	for k := range w.Env {
		if !envKeyRe.MatchString(k) {
			dec.errorf("env."+k, dec.at("env."+k), "%q is not a valid variable name (letters, digits and '_', not starting with a digit)", k)
		}
	}
	if len(dec.errs) == 0 {
		// Semantic checks run on well-typed input only: a field that did
		// not decode would otherwise be reported twice.
		l.validate(dec, w)
	}
	if len(dec.errs) > 0 {
		sortByPos(dec.errs)
		return nil, dec.errs
	}
	if w.Route != nil {
		hp := map[string]Pos{}
		for i, h := range w.Route.Hosts {
			hp[h] = dec.at(fmt.Sprintf("route.hosts.%d", i))
		}
		l.hostPos[w.ID()] = hp
	}
	w.Hash = Hash(w)
	return w, nil
}

// decodeSource decodes the source block into the config of its kind.
func decodeSource(dec *decoder, n *yaml.Node) sources.Config {
	if n.Kind == 0 {
		dec.errorf("source", Pos{Line: 1, Col: 1}, "is required")
		return nil
	}
	if n.Kind != yaml.MappingNode {
		dec.errorf("source", nodePos(n), "expected a mapping, got %s", describe(n))
		return nil
	}
	var kind string
	rest := &yaml.Node{Kind: yaml.MappingNode, Line: n.Line, Column: n.Column}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "type" {
			kind = n.Content[i+1].Value
			dec.pos["source.type"] = nodePos(n.Content[i+1])
			continue
		}
		rest.Content = append(rest.Content, n.Content[i], n.Content[i+1])
	}
	var c sources.Config
	switch sources.Kind(kind) {
	case sources.KindImage:
		c = &image.Config{}
	case sources.KindDockerfile:
		c = &dockerfile.Config{}
	case sources.KindStatic:
		c = &static.Config{}
	case sources.KindCompose:
		c = &compose.Config{}
	case "":
		dec.errorf("source.type", nodePos(n), "is required (one of %s)", kindList())
		return nil
	default:
		dec.errorf("source.type", dec.at("source.type"), "%q is not one of %s", kind, kindList())
		return nil
	}
	dec.decode("source", rest, reflectOf(c))
	return c
}

func kindList() string {
	var s []string
	for _, k := range sources.Kinds {
		s = append(s, fmt.Sprintf("%q", k))
	}
	return strings.Join(s, ", ")
}

// fileChecker is a source config that checks the content of a file it
// names (a compose file must parse).
type fileChecker interface {
	CheckFile(field string, data []byte) error
}

// pathReferrer is a source config that names folders or files in the repo.
type pathReferrer interface {
	Paths() map[string]string
}

func (l *loader) validate(dec *decoder, w *sources.Workload) {
	fail := func(field, format string, args ...any) {
		dec.errorf(field, dec.at(field), format, args...)
	}
	if w.Source != nil {
		for _, fe := range w.Source.Validate() {
			fail(fe.Field, "%s", fe.Msg)
		}
		if pr, ok := w.Source.(pathReferrer); ok {
			fields := pr.Paths()
			keys := make([]string, 0, len(fields))
			for k := range fields {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var failed []string
		paths:
			for _, field := range keys {
				for _, f := range failed {
					if p := fields[field]; strings.HasPrefix(p, f+"/") {
						continue paths // already reported for the folder it is in
					}
				}
				rel, err := Resolve(l.root, w.Dir, fields[field])
				if err != nil {
					fail(field, "%v", err)
					failed = append(failed, fields[field])
					continue
				}
				if w.Files == nil {
					w.Files, w.ContentHashes = map[string]string{}, map[string]string{}
				}
				w.Files[field] = rel
				sum, err := contentHash(l.fsys, rel)
				if err != nil {
					fail(field, "reading %q: %v", fields[field], err)
					continue
				}
				w.ContentHashes[field] = sum
				if fc, ok := w.Source.(fileChecker); ok {
					if data, err := l.readFile(rel); err == nil {
						if err := fc.CheckFile(field, data); err != nil {
							fail(field, "%v", err)
						}
					}
				}
			}
		}
	}
	if w.Port != 0 && (w.Port < 1 || w.Port > 65535) {
		fail("port", "%d is outside 1-65535", w.Port)
	}
	if w.HostPort != 0 {
		switch {
		case w.HostPort < 1 || w.HostPort > 65535:
			fail("host_port", "%d is outside 1-65535", w.HostPort)
		case w.Port == 0:
			fail("host_port", "needs port: the container port to publish")
		case w.Source != nil && w.Source.Strategy() == string(sources.StrategyBlueGreen):
			fail("source.deploy_strategy", "\"blue-green\" cannot be used with host_port %d: two copies cannot bind one host port at once; use \"recreate\"", w.HostPort)
		}
	}
	if w.Route != nil && w.Source != nil && w.Source.Kind() == sources.KindCompose {
		fail("route", "is not supported for compose workloads: publish the stack's ports in the compose file")
	} else if w.Route != nil {
		if w.Port == 0 {
			fail("route", "needs port: the container port the proxy sends traffic to")
		}
		if len(w.Route.Hosts) == 0 {
			fail("route.hosts", "needs at least one host name")
		}
		for i, h := range w.Route.Hosts {
			if !hostRe.MatchString(h) || len(h) > 253 {
				fail(fmt.Sprintf("route.hosts.%d", i), "%q is not a host name", h)
			}
		}
	}
	if hc := w.Healthcheck; hc != nil {
		if !strings.HasPrefix(hc.Path, "/") {
			fail("healthcheck.path", "%q must start with '/'", hc.Path)
		}
		if w.Port == 0 {
			fail("healthcheck", "needs port: the probe calls the container port")
		}
	}
}

// Resolve turns a path from a workload file, relative to the file's folder
// dir, into a path relative to the config root, and checks that it stays
// inside the checkout: no "..", no absolute path, no symlink that leaves.
func Resolve(root *os.Root, dir, p string) (string, error) {
	if p == "" {
		return "", errors.New("is empty")
	}
	if path.IsAbs(p) || filepath.IsAbs(p) {
		return "", fmt.Errorf("%q must be relative to the workload file's folder", p)
	}
	rel := path.Join(dir, p)
	if !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%q leaves the config repo", p)
	}
	if _, err := root.Stat(rel); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%q does not exist", p)
		}
		return "", fmt.Errorf("%q leaves the config repo or cannot be read", p)
	}
	return rel, nil
}

func validateRepoConfig(dec *decoder, rc *RepoConfig) {
	switch rc.Secrets.OnError {
	case "", "warn", "fail":
	default:
		dec.errorf("secrets.on_error", dec.at("secrets.on_error"), "%q is not one of \"warn\", \"fail\"", rc.Secrets.OnError)
	}
	for i, r := range rc.Secrets.Recipients {
		if _, err := secrets.ParseRecipients([]string{r}); err != nil {
			field := fmt.Sprintf("secrets.recipients.%d", i)
			dec.errorf(field, dec.at(field), "%q is not an age public key (age1...)", r)
		}
	}
	if hc := rc.Defaults.Healthcheck; hc != nil && !strings.HasPrefix(hc.Path, "/") {
		dec.errorf("defaults.healthcheck.path", dec.at("defaults.healthcheck.path"), "%q must start with '/'", hc.Path)
	}
}

func mergeDefaults(base, over Defaults) Defaults {
	if over.Healthcheck != nil {
		base.Healthcheck = over.Healthcheck
	}
	if over.StopGracePeriod != 0 {
		base.StopGracePeriod = over.StopGracePeriod
	}
	return base
}
