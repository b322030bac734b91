package gitops

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/invopop/jsonschema"

	"github.com/berthops/berth/sources"
)

// SchemaFiles are the config files Schema describes.
var SchemaFiles = []string{"workload", "app", "berth"}

// Schema is a JSON Schema (draft 2020-12) of one kind of config file —
// "workload" (apps/<app>/<name>.yaml), "app" (app.yaml) or "berth"
// (berth.yaml) — generated from the Go types the loader decodes them into,
// so it cannot drift from them. Editors use it through yaml-language-
// server; the loader stays the judge (it also checks paths, names and
// policy).
func Schema(file string) ([]byte, error) {
	r := &jsonschema.Reflector{FieldNameTag: "yaml", DoNotReference: true, ExpandedStruct: true, RequiredFromJSONSchemaTags: true, Mapper: mapType,
		CommentMap: fieldDocs}
	var s *jsonschema.Schema
	switch file {
	case "workload":
		s = r.Reflect(&sources.Spec{})
		s.Title = "Berth workload (apps/<app>/<name>.yaml)"
		s.Properties.Set("source", sourceSchema(r))
		pl := r.Reflect(&sources.Placement{})
		pl.Version, pl.ID, pl.Description = "", "", "which agents run it: by name, by labels (all must match), or both; omitted: every agent"
		s.Properties.Set("placement", pl)
		s.Required = []string{"source"}
		if env, ok := s.Properties.Get("env"); ok {
			env.AdditionalProperties = &jsonschema.Schema{AnyOf: []*jsonschema.Schema{{Type: "string"}, {Type: "number"}, {Type: "boolean"}}}
		}
	case "app":
		s = r.Reflect(&AppConfig{})
		s.Title = "Berth app settings (apps/<app>/app.yaml)"
	case "berth":
		s = r.Reflect(&RepoConfig{})
		s.Title = "Berth repo settings (berth.yaml)"
	default:
		return nil, fmt.Errorf("no schema %q (one of workload, app, berth)", file)
	}
	s.ID = jsonschema.ID("https://berth.dev/schema/" + file + ".json")
	return json.MarshalIndent(s, "", "  ")
}

// sourceSchema is the source block: one of the kinds, told apart by type.
func sourceSchema(r *jsonschema.Reflector) *jsonschema.Schema {
	var kinds []*jsonschema.Schema
	for _, k := range sources.Kinds {
		c, err := NewConfig(k)
		if err != nil {
			continue
		}
		ks := r.Reflect(c)
		ks.Version, ks.ID = "", ""
		ks.Properties.Set("type", &jsonschema.Schema{Const: string(k), Description: "the source kind"})
		ks.Required = append([]string{"type"}, ks.Required...)
		kinds = append(kinds, ks)
	}
	return &jsonschema.Schema{Description: "where the workload's image comes from", OneOf: kinds}
}

// mapType writes durations as the strings the files hold ("30s").
func mapType(t reflect.Type) *jsonschema.Schema {
	if t == reflect.TypeOf(sources.Duration(0)) {
		return &jsonschema.Schema{Type: "string", Pattern: `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`, Description: `a duration such as "30s" or "1m30s"`}
	}
	if t == reflect.TypeOf(sources.ByteSize(0)) {
		return &jsonschema.Schema{Type: "string", Pattern: `^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|K|M|G|T)?$`, Description: `a size such as "512Mi", "1Gi" or "500M"`}
	}
	return nil
}
