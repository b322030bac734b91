package gitops

import (
	"encoding/json"
	"fmt"

	"github.com/berthops/berth/sources"
)

// releaseDoc is a workload as a release keeps it: its identity, its spec
// (the source config by kind), and its content hashes. No secret values:
// the shared-secret layer is resolved again when the release is deployed.
type releaseDoc struct {
	App     string            `json:"app"`
	Name    string            `json:"name"`
	Preview string            `json:"preview,omitempty"`
	File    string            `json:"file"`
	Kind    sources.Kind      `json:"kind"`
	Source  json.RawMessage   `json:"source"`
	Spec    sources.Spec      `json:"spec"`
	Content map[string]string `json:"content,omitempty"`
	Hash    string            `json:"hash"`
}

// EncodeWorkload serializes a workload for a release record.
func EncodeWorkload(w *sources.Workload) ([]byte, error) {
	src, err := json.Marshal(w.Source)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", w.ID(), err)
	}
	spec := w.Spec
	spec.Source = nil
	return json.Marshal(releaseDoc{App: w.App, Name: w.Name, Preview: w.Preview, File: w.File, Kind: w.Source.Kind(), Source: src, Spec: spec, Content: w.ContentHashes, Hash: w.Hash})
}

// DecodeWorkload reads what EncodeWorkload wrote. Paths the source named
// are not resolved: a release is deployed from its recorded image.
func DecodeWorkload(b []byte) (*sources.Workload, error) {
	var doc releaseDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("reading a release: %w", err)
	}
	c, err := NewConfig(doc.Kind)
	if err != nil {
		return nil, fmt.Errorf("reading a release: source.type %w", err)
	}
	if err := json.Unmarshal(doc.Source, c); err != nil {
		return nil, fmt.Errorf("reading a release's source: %w", err)
	}
	w := &sources.Workload{App: doc.App, Name: doc.Name, Preview: doc.Preview, File: doc.File, Spec: doc.Spec, ContentHashes: doc.Content, Hash: doc.Hash}
	w.Source = c
	return w, nil
}
