package gitops

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/berthops/berth/notify"
	"github.com/berthops/berth/secrets"
	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/sources/compose"
	"github.com/berthops/berth/sources/dockerfile"
	"gopkg.in/yaml.v3"
)

var (
	envKeyRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	hostRe   = regexp.MustCompile(`^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// validate runs the semantic checks of a well-typed workload.
func (l *loader) validate(dec *decoder, w *sources.Workload) {
	fail := func(field, format string, args ...any) {
		dec.errorf(field, dec.at(field), format, args...)
	}
	if w.Source != nil {
		for _, fe := range w.Source.Validate() {
			fail(fe.Field, "%s", fe.Msg)
		}
		l.resolvePaths(dec, w)
		l.checkPolicy(dec, w)
	}
	validatePorts(fail, w)
	validateRoute(fail, w)
	validateVolumes(fail, w)
	validateResources(fail, w)
	validateService(fail, w)
	validateBeforeDeploy(fail, w)
	validateJob(fail, w)
	validateData(fail, w)
	if hc := w.Healthcheck; hc != nil {
		if !strings.HasPrefix(hc.Path, "/") {
			fail("healthcheck.path", "%q must start with '/'", hc.Path)
		}
		if w.Port == 0 {
			fail("healthcheck", "needs port: the probe calls the container port")
		}
	}
}

type failFunc func(field, format string, args ...any)

func validatePorts(fail failFunc, w *sources.Workload) {
	if w.Port != 0 && (w.Port < 1 || w.Port > 65535) {
		fail("port", "%d is outside 1-65535", w.Port)
	}
	if w.HostPort == 0 {
		return
	}
	switch {
	case w.HostPort < 1 || w.HostPort > 65535:
		fail("host_port", "%d is outside 1-65535", w.HostPort)
	case w.Port == 0:
		fail("host_port", "needs port: the container port to publish")
	case w.Source != nil && w.Source.Strategy() == string(sources.StrategyBlueGreen):
		fail("source.deploy_strategy", "\"blue-green\" cannot be used with host_port %d: two copies cannot bind one host port at once; use \"recreate\"", w.HostPort)
	}
}

func validateRoute(fail failFunc, w *sources.Workload) {
	if w.Route == nil {
		return
	}
	if w.Source != nil && w.Source.Kind().Managed() {
		fail("route", "is not supported for %s workloads: publish the stack's ports in the compose file", w.Source.Kind())
		return
	}
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

var volumeNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

func validateVolumes(fail failFunc, w *sources.Workload) {
	if len(w.Volumes) == 0 {
		return
	}
	if w.Source != nil && w.Source.Kind() == sources.KindCompose {
		// The compose file declares and mounts its volumes; here a named
		// volume of the project may only say how it is backed up.
		for _, name := range slices.Sorted(maps.Keys(w.Volumes)) {
			v, field := w.Volumes[name], "volumes."+name
			validateVolumeBackup(fail, field, v.Backup)
			switch {
			case v.Path != "":
				fail(field+".path", "is the compose file's to say: for a compose workload, volumes only names a project volume to back up (volumes: {%s: {backup: ...}})", name)
			case v.Backup == nil:
				fail(field, "needs backup: for a compose workload, volumes only names a project volume to back up")
			case !volumeNameRe.MatchString(name):
				fail(field, "volume name %q must be lower-case letters, digits, '_', '.' and '-', at most 63 characters", name)
			}
		}
		return
	}
	if w.Source != nil && w.Source.Kind().Managed() {
		fail("volumes", "is not supported for %s workloads: declare volumes in the compose file", w.Source.Kind())
		return
	}
	targets := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(w.Volumes)) {
		target, field := w.Volumes[name].Path, "volumes."+name
		validateVolumeBackup(fail, field, w.Volumes[name].Backup)
		switch {
		case !volumeNameRe.MatchString(name):
			fail(field, "volume name %q must be lower-case letters, digits, '_', '.' and '-', at most 63 characters", name)
		case !path.IsAbs(target):
			fail(field, "%q must be an absolute path in the container, such as /data", target)
		case targets[path.Clean(target)] != "":
			fail(field, "%q is also the path of volume %q", target, targets[path.Clean(target)])
		default:
			targets[path.Clean(target)] = name
		}
	}
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
	for _, e := range rc.Defaults.Resources.Validate("defaults.resources") {
		dec.errorf(e.Field, dec.at(e.Field), "%s", e.Msg)
	}
	if hc := rc.Defaults.Healthcheck; hc != nil && !strings.HasPrefix(hc.Path, "/") {
		dec.errorf("defaults.healthcheck.path", dec.at("defaults.healthcheck.path"), "%q must start with '/'", hc.Path)
	}
	for i, n := range rc.Notifications {
		field := fmt.Sprintf("notifications.%d", i)
		switch {
		case (n.URL == "") == (n.URLSecret == ""):
			dec.errorf(field, dec.at(field), "set exactly one of url and url_secret")
		case n.URL != "":
			if err := notify.CheckURL(n.URL); err != nil {
				dec.errorf(field+".url", dec.at(field+".url"), "%v", err)
			}
		case !secretNameRe.MatchString(n.URLSecret):
			dec.errorf(field+".url_secret", dec.at(field+".url_secret"), "%q is not a shared secret name (A-Z, 0-9, _)", n.URLSecret)
		}
		if err := notify.CheckEvents(n.Events); err != nil {
			dec.errorf(field+".events", dec.at(field+".events"), "%v", err)
		}
	}
	validateRegistries(dec, rc.Registries)
	validatePreviews(dec, "previews", rc.Previews)
	if n := rc.Backups.S3Secret; n != "" && !secretNameRe.MatchString(n) {
		dec.errorf("backups.s3_secret", dec.at("backups.s3_secret"), "%q is not a shared secret name (A-Z, 0-9, _)", n)
	}
}

func mergeDefaults(base, over Defaults) Defaults {
	if over.Healthcheck != nil {
		base.Healthcheck = over.Healthcheck
	}
	if over.StopGracePeriod != 0 {
		base.StopGracePeriod = over.StopGracePeriod
	}
	base.Resources = mergeResources(base.Resources, over.Resources)
	return base
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
	d.invalidate(claimedTwice(owners, func(w *sources.Workload, h string, others []*sources.Workload) error {
		var files []string
		for _, o := range others {
			files = append(files, o.File)
		}
		p := hostPos[w.ID()][h]
		return &ConfigError{File: w.File, Line: p.Line, Col: p.Col, Field: "route.hosts",
			Msg: fmt.Sprintf("host %q is also claimed by %s", h, strings.Join(files, ", "))}
	}))
}

// checkProjects fails every compose workload whose project another
// workload uses too: they would take over each other's containers.
func (d *Desired) checkProjects(pos map[string]Pos) {
	owners := map[string][]*sources.Workload{}
	for _, w := range d.Workloads {
		switch c := w.Source.(type) {
		case *compose.Config:
			p := compose.ProjectName(w, c)
			owners[p] = append(owners[p], w)
		case *compose.SwarmConfig:
			p := "stack " + compose.StackName(w, c)
			owners[p] = append(owners[p], w)
		}
	}
	d.invalidate(claimedTwice(owners, func(w *sources.Workload, project string, others []*sources.Workload) error {
		var ids []string
		for _, o := range others {
			ids = append(ids, o.ID())
		}
		p := pos[w.ID()]
		if stack, ok := strings.CutPrefix(project, "stack "); ok {
			return &ConfigError{File: w.File, Line: p.Line, Col: p.Col, Field: "source.stack",
				Msg: fmt.Sprintf("Swarm stack %q is also the stack of %s", stack, strings.Join(ids, ", "))}
		}
		return &ConfigError{File: w.File, Line: p.Line, Col: p.Col, Field: "source.project",
			Msg: fmt.Sprintf("compose project %q is also the project of %s", project, strings.Join(ids, ", "))}
	}))
}

// claimedTwice gives each workload that claims a key (a host, a project)
// some other workload claims too the error errFor makes of it.
func claimedTwice(owners map[string][]*sources.Workload, errFor func(w *sources.Workload, key string, others []*sources.Workload) error) map[*sources.Workload][]error {
	bad := map[*sources.Workload][]error{}
	for key, ws := range owners {
		if len(ws) < 2 {
			continue
		}
		for _, w := range ws {
			var others []*sources.Workload
			for _, o := range ws {
				if o != w {
					others = append(others, o)
				}
			}
			bad[w] = append(bad[w], errFor(w, key, others))
		}
	}
	return bad
}

// invalidate moves workloads with errors from Workloads to Invalid.
func (d *Desired) invalidate(bad map[*sources.Workload][]error) {
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

// checkPolicy reports what a workload asks of the host beyond --allow: in
// its rendered compose project, or an app repo on this host.
func (l *loader) checkPolicy(dec *decoder, w *sources.Workload) {
	switch c := w.Source.(type) {
	case *compose.Config, *compose.SwarmConfig:
		l.checkProject(dec, w)
	case *dockerfile.Config:
		if git := c.AppRepo(); git != nil {
			for _, v := range l.policy.RepoURL("source.git.url", git.URL) {
				dec.errorf(v.Field, dec.at(v.Field), "%s needs --allow %s (the operator's decision, not the repo's)", v.Detail, v.Permission)
			}
		}
	}
}

// checkProject renders a compose or stack workload's project the way the
// agent does (compose.Render, with the workload's env and its shared
// secrets as its variables) and holds it to the same policy: a green
// validate or plan is the agent's verdict. Secrets are not decrypted
// here: a secret the workload can see is set to a placeholder, so that
// `${NAME:?}` passes where the agent would pass it.
func (l *loader) checkProject(dec *decoder, w *sources.Workload) {
	var file, name string
	switch c := w.Source.(type) {
	case *compose.Config:
		file, name = c.ResolvedFile(), compose.ProjectName(w, c)
	case *compose.SwarmConfig:
		file, name = c.ResolvedFile(), compose.StackName(w, c)
	}
	if file == "" {
		return
	}
	for _, e := range dec.errs {
		if ce, ok := e.(*ConfigError); ok && (ce.Field == "source.file" || ce.Field == "source.project" || ce.Field == "source.stack") {
			return // a file that does not parse or exist, or a bad name, is reported already
		}
	}
	base, err := filepath.Abs(l.root.Name())
	if err != nil {
		return
	}
	release := filepath.Join(base, filepath.FromSlash(path.Dir(file)))
	p, err := compose.Render(context.Background(), release, path.Base(file), name, l.renderVars(w))
	if err != nil {
		dec.errs = append(dec.errs, &ConfigError{File: file, Msg: strings.TrimPrefix(err.Error(), path.Base(file)+": ")})
		return
	}
	var doc yaml.Node
	if data, err := l.readFile(file); err == nil {
		_ = yaml.Unmarshal(data, &doc)
	}
	if t := w.BeforeDeploy; t != nil && w.Source.Kind() == sources.KindCompose {
		if _, err := compose.TaskService(p, t.Service); err != nil {
			field, msg, _ := strings.Cut(err.Error(), ": ")
			dec.errorf(field, dec.at("before_deploy"), "%s", msg)
		}
	}
	for _, v := range l.policy.Project(p, release) {
		line, col := fieldPos(&doc, v.Field)
		dec.errs = append(dec.errs, &ConfigError{File: file, Line: line, Col: col, Field: v.Field,
			Msg: fmt.Sprintf("%s needs --allow %s (the operator's decision, not the repo's)", v.Detail, v.Permission)})
	}
}

// fieldPos is where a dotted field (services.web.volumes.0) is written in
// a compose file, as far as the file writes it (an included or extended
// service is elsewhere: 0, 0).
func fieldPos(doc *yaml.Node, field string) (line, col int) {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	for _, part := range strings.Split(field, ".") {
		next := (*yaml.Node)(nil)
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == part {
					next = n.Content[i+1]
				}
			}
		case yaml.SequenceNode:
			if i, err := strconv.Atoi(part); err == nil && i >= 0 && i < len(n.Content) {
				next = n.Content[i]
			}
		}
		if next == nil {
			break
		}
		n = next
		line, col = n.Line, n.Column
	}
	return line, col
}

// secretPlaceholder stands in for a shared secret's value when validate
// renders a project: the names are in the repo, the values are not.
const secretPlaceholder = "berth-validate-secret"

// renderVars are a workload's variables as validate can know them: a
// placeholder for every shared secret in its scope (global, its app's),
// then its own env on top, as the agent layers them.
func (l *loader) renderVars(w *sources.Workload) map[string]string {
	vars := map[string]string{}
	for _, dir := range []string{"secrets", path.Join("apps", w.App, "secrets")} {
		entries, _ := fs.ReadDir(l.fsys, dir)
		for _, e := range entries {
			if name, ok := strings.CutSuffix(e.Name(), ".age"); ok && !e.IsDir() {
				vars[name] = secretPlaceholder
			}
		}
	}
	maps.Copy(vars, w.Env)
	return vars
}
