package gitops_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/gitops"
)

// When a job runs is not what it runs: a schedule, concurrency or
// catch_up edit keeps the desired hash (nothing is redeployed) but shows
// in the plan; a command edit changes the hash.
func TestJobScheduleStaysOutOfTheHash(t *testing.T) {
	job := func(schedule, cmd string) *gitops.Desired {
		return load(t, writeRepo(t, map[string][]byte{
			"apps/ops/sweep.yaml": []byte("source:\n  type: image\n  image: ops/tool:1\njob:\n  schedule: \"" + schedule + "\"\n  command: [" + cmd + "]\n"),
		}))
	}
	base := job("0 3 * * *", "/tool")
	require.Len(t, base.Workloads, 1, "%v", base.Invalid)
	later := job("@hourly", "/tool")
	assert.Equal(t, base.Workloads[0].Hash, later.Workloads[0].Hash)
	p := gitops.NewPlan(base, later, "a", "b")
	require.Len(t, p.Workloads, 1)
	assert.Equal(t, "job.schedule", p.Workloads[0].Fields[0].Field)
	other := job("0 3 * * *", "/tool, --all")
	assert.NotEqual(t, base.Workloads[0].Hash, other.Workloads[0].Hash)
}

// A volume's long form (with backups) hashes as its short form: adding or
// editing backups redeploys nothing, and workloads written before the
// long form keep their hashes.
func TestVolumeBackupStaysOutOfTheHash(t *testing.T) {
	hash := func(vol string) string {
		d := load(t, writeRepo(t, map[string][]byte{
			"apps/db/pg.yaml": []byte("source:\n  type: image\n  image: postgres:16\nvolumes:\n  data: " + vol + "\n"),
		}))
		require.Len(t, d.Workloads, 1, "%v", d.Invalid)
		return d.Workloads[0].Hash
	}
	short := hash("/var/lib/postgresql/data")
	assert.Equal(t, short, hash("{path: /var/lib/postgresql/data, backup: {schedule: \"0 2 * * *\", keep: {last: 7}}}"))
	assert.Equal(t, "e5bb0e5f0d1bcd8b4c1a6c18f7d26f1c6b0b31a0b6ab1cb0e4ca06d7ed4f7fa6"[:0]+short, short)
	assert.NotEqual(t, short, hash("/var/lib/other"))
}
