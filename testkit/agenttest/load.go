package agenttest

import (
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berthops/berth/testkit/loopback"
)

// Sample is one request of a Load.
type Sample struct {
	At  time.Time // when the answer came
	Dur time.Duration
	OK  bool
}

// Load runs 4 keep-alive clients through a proxy until Finish (bounded by
// count), counts what failed and keeps every sample and distinct body.
type Load struct {
	OK, Failed atomic.Int64
	firstErr   atomic.Value
	bodies     sync.Map
	stop       chan struct{}
	wg         sync.WaitGroup

	mu      sync.Mutex
	samples []Sample
}

// StartLoad starts the clients against the proxy at addr for host.
func StartLoad(proxy, host string) *Load {
	l := &Load{stop: make(chan struct{})}
	for range 4 {
		l.wg.Add(1)
		go l.client(proxy, host)
	}
	return l
}

func (l *Load) client(proxy, host string) {
	defer l.wg.Done()
	c := &http.Client{Timeout: 5 * time.Second}
	var local []Sample
	defer func() {
		l.mu.Lock()
		l.samples = append(l.samples, local...)
		l.mu.Unlock()
	}()
	for range 5_000_000 { // bounded
		select {
		case <-l.stop:
			return
		default:
		}
		t0 := time.Now()
		body, err := loopback.Get(c, proxy, host)
		local = append(local, Sample{At: time.Now(), Dur: time.Since(t0), OK: err == nil})
		if err != nil {
			l.Failed.Add(1)
			l.firstErr.CompareAndSwap(nil, err.Error())
			continue
		}
		l.OK.Add(1)
		l.bodies.Store(body, true)
	}
}

// Finish stops the clients and waits for them.
func (l *Load) Finish() {
	close(l.stop)
	l.wg.Wait()
}

// FirstError is the first failure's message, if any.
func (l *Load) FirstError() any { return l.firstErr.Load() }

// Saw reports whether any answer had exactly this body.
func (l *Load) Saw(body string) bool {
	_, ok := l.bodies.Load(body)
	return ok
}

// Samples are every request's sample, oldest first (after Finish).
func (l *Load) Samples() []Sample {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := append([]Sample(nil), l.samples...)
	sort.Slice(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// Stats sums up the samples: failed requests, the longest stretch without
// a successful answer, and every latency, sorted.
func (l *Load) Stats() (failed int, gap time.Duration, latencies []time.Duration) {
	var lastOK time.Time
	for _, s := range l.Samples() {
		latencies = append(latencies, s.Dur)
		if !s.OK {
			failed++
			continue
		}
		if !lastOK.IsZero() && s.At.Sub(lastOK) > gap {
			gap = s.At.Sub(lastOK)
		}
		lastOK = s.At
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	return failed, gap, latencies
}
