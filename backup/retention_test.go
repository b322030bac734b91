package backup_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/berthops/berth/backup"
)

// The retention keeps the newest N, and the newest of each of the last N
// days and weeks; the rest expire.
func TestExpired(t *testing.T) {
	base := time.Date(2026, 12, 3, 2, 0, 0, 0, time.UTC) // a Thursday
	var times []time.Time                                // newest first: two a day for 20 days
	for d := range 20 {
		for _, h := range []int{12, 0} {
			times = append(times, base.AddDate(0, 0, -d).Add(time.Duration(h)*time.Hour))
		}
	}
	expired := backup.Expired(times, backup.Keep{Last: 3, Daily: 5, Weekly: 3})
	kept := map[int]bool{}
	for i := range times {
		kept[i] = true
	}
	for _, i := range expired {
		delete(kept, i)
	}
	assert.True(t, kept[0] && kept[1] && kept[2], "the newest three")
	for d := range 5 {
		assert.True(t, kept[2*d], "the newest of day %d", d)
	}
	assert.False(t, kept[3], "the older one of day 1 (beyond last: 3)")
	assert.False(t, kept[2*6], "day 6 is not among the last five days, nor the newest of its week")
	assert.Len(t, kept, 3+2+2, "3 newest, 2 more days, 2 more weeks: %v", kept)
	assert.Empty(t, backup.Expired(times, backup.Keep{}), "no retention keeps all")
}
