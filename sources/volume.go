package sources

import (
	"encoding/json"
	"fmt"

	"github.com/invopop/jsonschema"
)

// Volume is a named volume of a workload: its path in the container and,
// in the long form, its backups. The short form `data: /var/lib/app`
// stays valid. Only the path is what runs: the desired hash (and a
// release's record) holds the path alone, so adding or editing a backup
// redeploys nothing.
type Volume struct {
	Path   string        `yaml:"path"`
	Backup *VolumeBackup `yaml:"backup"`
}

// VolumeBackup is when a volume is snapshotted and which snapshots are kept.
type VolumeBackup struct {
	Schedule    string `yaml:"schedule"`
	Keep        Keep   `yaml:"keep"`
	Consistency string `yaml:"consistency"` // pause (default) | stop | live
}

// Keep is the retention of scheduled snapshots: the newest Last, and the
// newest of each of the last Daily days and Weekly weeks.
type Keep struct {
	Last   int `yaml:"last"`
	Daily  int `yaml:"daily"`
	Weekly int `yaml:"weekly"`
}

// Consistency values.
const (
	ConsistencyPause = "pause"
	ConsistencyStop  = "stop"
	ConsistencyLive  = "live"
)

// SetScalar reads the short form: the path alone.
func (v *Volume) SetScalar(s string) { v.Path = s }

// MarshalJSON writes the path: what is hashed and recorded.
func (v Volume) MarshalJSON() ([]byte, error) { return json.Marshal(v.Path) }

// UnmarshalJSON reads a recorded volume (its path).
func (v *Volume) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &v.Path); err == nil {
		return nil
	}
	var long struct {
		Path string `json:"path"`
	}
	if err := json.Unmarshal(b, &long); err != nil {
		return fmt.Errorf("a volume is a path or {path, backup}: %w", err)
	}
	v.Path = long.Path
	return nil
}

// JSONSchema says either form, for editors.
func (Volume) JSONSchema() *jsonschema.Schema {
	keep := jsonschema.NewProperties()
	for _, k := range [][2]string{{"last", "the newest N snapshots"}, {"daily", "the newest snapshot of each of the last N days"},
		{"weekly", "the newest snapshot of each of the last N weeks"}} {
		keep.Set(k[0], &jsonschema.Schema{Type: "integer", Minimum: json.Number("0"), Description: k[1]})
	}
	backup := jsonschema.NewProperties()
	backup.Set("schedule", &jsonschema.Schema{Type: "string", Description: "when to snapshot it: a robfig/cron spec (\"0 2 * * *\", @daily, CRON_TZ=…)"})
	backup.Set("keep", &jsonschema.Schema{Type: "object", Properties: keep, AdditionalProperties: jsonschema.FalseSchema,
		Description: "the scheduled snapshots kept: the newest `last`, and the newest of each of the last `daily` days and `weekly` weeks"})
	backup.Set("consistency", &jsonschema.Schema{Type: "string", Enum: []any{ConsistencyPause, ConsistencyStop, ConsistencyLive},
		Description: "pause (default: the containers that mount it are paused for the copy), stop, or live"})
	long := jsonschema.NewProperties()
	long.Set("path", &jsonschema.Schema{Type: "string", Description: "the path in the container"})
	long.Set("backup", &jsonschema.Schema{Type: "object", Properties: backup, AdditionalProperties: jsonschema.FalseSchema, Required: []string{"schedule"},
		Description: "scheduled snapshots of the volume (needs --backup-dir), encrypted to berth.yaml's secrets.recipients"})
	return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{
		{Type: "string", Description: "the path in the container"},
		{Type: "object", Properties: long, AdditionalProperties: jsonschema.FalseSchema, Required: []string{"path"}},
	}}
}
