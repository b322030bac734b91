package gitops

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/sources/compose"
	"github.com/berthops/berth/sources/dockerfile"
	"github.com/berthops/berth/sources/image"
	"github.com/berthops/berth/sources/static"
)

// workloadFile is the shape of apps/<app>/<name>.yaml: the spec, with the
// source block kept as a node and decoded in a second step into the config
// struct of the kind its `type` names, so unknown fields are caught per
// kind.
type workloadFile struct {
	SourceNode   yaml.Node          `yaml:"source"`
	Placement    *sources.Placement `yaml:"placement"`
	sources.Spec `yaml:",inline"`
}

func (l *loader) loadWorkload(app, name, file string, defaults Defaults) (*sources.Workload, []error) {
	data, err := l.readFile(file)
	if err != nil {
		return nil, []error{&ConfigError{File: file, Msg: err.Error()}}
	}
	dec := newDecoder(file)
	if !validName(name) {
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
	if _, set := dec.pos["port"]; set && wf.Port == 0 && len(dec.errs) == 0 {
		dec.errorf("port", dec.at("port"), "0 is not a port (1-65535): omit port for a worker")
	}
	w := &sources.Workload{App: app, Name: name, File: file, Dir: path.Dir(file), Spec: wf.Spec, Placement: wf.Placement}
	validatePlacement(dec, wf.Placement)
	applyDefaults(w, defaults)
	w.Source = decodeSource(dec, &wf.SourceNode)
	if dp, ok := w.Source.(sources.DefaultPorter); ok && w.Port == 0 {
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
		l.readMaintenancePage(dec, w)
	}
	if len(dec.errs) > 0 {
		sortByPos(dec.errs)
		return nil, dec.errs
	}
	l.projectPos[w.ID()] = dec.at("source.project")
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

// applyDefaults fills what the workload leaves out from berth.yaml and
// app.yaml defaults. A default healthcheck goes to workloads that set a
// port themselves.
func applyDefaults(w *sources.Workload, defaults Defaults) {
	if w.Healthcheck == nil && w.Port != 0 {
		w.Healthcheck = defaults.Healthcheck // a probe needs a port: workers go without
	}
	if w.StopGracePeriod == 0 {
		w.StopGracePeriod = defaults.StopGracePeriod
	}
	if defaults.Resources != nil && (w.Source == nil || !w.Source.Kind().Managed()) {
		w.Resources = mergeResources(defaults.Resources, w.Resources)
	}
}

// decodeSource decodes the source block into the config of its kind: the
// one switch over source kinds.
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
	c, err := NewConfig(sources.Kind(kind))
	if err != nil {
		p := dec.at("source.type")
		if kind == "" {
			p = nodePos(n)
		}
		dec.errorf("source.type", p, "%v", err)
		return nil
	}
	dec.decode("source", rest, reflectOf(c))
	return c
}

// NewConfig returns an empty config of a source kind.
func NewConfig(kind sources.Kind) (sources.Config, error) {
	switch kind {
	case sources.KindImage:
		return &image.Config{}, nil
	case sources.KindDockerfile:
		return &dockerfile.Config{}, nil
	case sources.KindStatic:
		return &static.Config{}, nil
	case sources.KindCompose:
		return &compose.Config{}, nil
	case sources.KindStack:
		return &compose.SwarmConfig{}, nil
	case "":
		return nil, fmt.Errorf("is required (one of %s)", kindList())
	default:
		return nil, fmt.Errorf("%q is not one of %s", kind, kindList())
	}
}

func kindList() string {
	var s []string
	for _, k := range sources.Kinds {
		s = append(s, fmt.Sprintf("%q", k))
	}
	return strings.Join(s, ", ")
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
	line, _ := strconv.Atoi(m[1]) // the regexp matched digits
	return Pos{Line: line, Col: 1}
}

// MaxMaintenancePage bounds route.maintenance_page: the proxy holds it in
// its config.
const MaxMaintenancePage = 256 << 10

// readMaintenancePage reads route.maintenance_page into the route.
func (l *loader) readMaintenancePage(dec *decoder, w *sources.Workload) {
	if w.Route == nil || w.Route.MaintenancePage == "" {
		return
	}
	const field = "route.maintenance_page"
	rel, err := Resolve(l.root, w.Dir, w.Route.MaintenancePage)
	if err != nil {
		dec.errorf(field, dec.at(field), "%v", err)
		return
	}
	data, err := l.readFile(rel)
	switch {
	case err != nil:
		dec.errorf(field, dec.at(field), "reading %q: %v", w.Route.MaintenancePage, err)
	case len(data) > MaxMaintenancePage:
		dec.errorf(field, dec.at(field), "%q is %d bytes; a maintenance page may be at most %d", w.Route.MaintenancePage, len(data), MaxMaintenancePage)
	default:
		w.Route.Page = string(data)
	}
}
