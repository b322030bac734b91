package gitops

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/berthops/berth/sources"
)

// hashVersion changes when the hashed shape changes, so an upgrade that
// alters hashing redeploys once rather than never.
const hashVersion = "berth.v1"

// SecretsContent is the content-hash name of a workload's shared-secret
// layer (an HMAC, never a value).
const SecretsContent = "shared_secrets"

// Hash is a workload's desired hash: the canonical JSON (sorted keys) of
// its spec and of the content it reads, and nothing that changes with
// unrelated commits.
func Hash(w *sources.Workload) string {
	spec := w.Spec
	if spec.Job != nil {
		// When and how often a job runs does not change what runs in its
		// container: editing the schedule redeploys nothing.
		j := *spec.Job
		j.Schedule, j.Concurrency, j.CatchUp = "", "", ""
		spec.Job = &j
	}
	doc := struct {
		V    string       `json:"v"`
		Kind sources.Kind `json:"kind"`
		sources.Spec
		Content map[string]string `json:"content,omitempty"`
	}{hashVersion, w.Source.Kind(), spec, w.ContentHashes}
	b, err := json.Marshal(doc)
	if err != nil {
		panic("hashing workload: " + err.Error()) // only plain data types: cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Fields flattens a workload into "dotted.field" → value: its spec, its
// source type, and a short form of each content hash ("source.context
// (content)"). The shared-secret layer is left out unless withSecrets: a
// pull-request plan must not hint at secret values; the agent's own
// deploy reasons may say that the layer changed.
func Fields(w *sources.Workload, withSecrets bool) map[string]string {
	out := map[string]string{}
	if w == nil {
		return out
	}
	doc := map[string]any{}
	b, err := json.Marshal(w.Spec)
	if err != nil {
		panic("flattening workload: " + err.Error()) // plain data types only
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		panic("flattening workload: " + err.Error())
	}
	flatten("", doc, out)
	out["source.type"] = string(w.Source.Kind())
	for f, sum := range w.ContentHashes {
		if f == SecretsContent && !withSecrets {
			continue
		}
		out[f+" (content)"] = short12(sum)
	}
	return out
}

// ChangedFields lists the fields whose values differ, sorted.
func ChangedFields(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if b[k] != v {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func flatten(prefix string, v any, out map[string]string) {
	switch t := v.(type) {
	case map[string]any:
		for k, c := range t {
			flatten(join(prefix, k), c, out)
		}
	case []any:
		b, _ := json.Marshal(t)
		out[prefix] = string(b)
	case string:
		out[prefix] = t
	case nil:
	default:
		out[prefix] = fmt.Sprint(t)
	}
}

func short12(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
