package backup

import (
	"fmt"
	"time"
)

// Keep is a retention: the newest Last snapshots, and the newest of each
// of the last Daily days and Weekly (ISO) weeks. All zero keeps all.
type Keep struct{ Last, Daily, Weekly int }

// Expired returns the indexes of the snapshots (times, newest first) the
// retention no longer keeps.
func Expired(times []time.Time, k Keep) []int {
	if k.Last == 0 && k.Daily == 0 && k.Weekly == 0 {
		return nil
	}
	keep := make([]bool, len(times))
	for i := range times {
		if i < k.Last {
			keep[i] = true
		}
	}
	newestOf := func(n int, period func(time.Time) string) {
		seen := map[string]bool{}
		for i, t := range times {
			p := period(t.UTC())
			if seen[p] {
				continue
			}
			if len(seen) == n {
				return
			}
			seen[p], keep[i] = true, true
		}
	}
	newestOf(k.Daily, func(t time.Time) string { return t.Format(time.DateOnly) })
	newestOf(k.Weekly, func(t time.Time) string {
		y, w := t.ISOWeek()
		return fmt.Sprintf("%d-W%02d", y, w)
	})
	var out []int
	for i, k := range keep {
		if !k {
			out = append(out, i)
		}
	}
	return out
}
