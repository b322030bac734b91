package agent

import "time"

// Backoff defaults: a failed desired state is tried again after 1m, 2m,
// 4m … up to 30m; a new desired state is tried at once.
const (
	DefaultRetryBackoff = time.Minute
	DefaultRetryMax     = 30 * time.Minute
)

// backoff is how long to wait before the n-th retry (n ≥ 1) of the same
// failed desired state.
func backoff(n int, base, max time.Duration) time.Duration {
	if n < 1 {
		n = 1
	}
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}
