package agent

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/berthops/berth/docker"
)

// containerWatcher is what the container view needs from Docker.
type containerWatcher interface {
	List(ctx context.Context, agent string) ([]docker.Container, error)
	Get(ctx context.Context, agent, id string) (docker.Container, bool, error)
	WatchContainers(ctx context.Context, agent string) (<-chan docker.ContainerEvent, <-chan error)
}

// containerView keeps the agent's containers in memory, fed by Docker's
// event stream, so that a tick where nothing happened asks Docker
// nothing. It lists once when the stream (re)connects and every resync
// as a safety net. It is only trusted while it is complete: a broken
// stream, a failed read or a tick that acted makes the next tick list
// again, so a container is never marked missing from a stale view.
type containerView struct {
	docker containerWatcher
	agent  string
	resync time.Duration
	log    *slog.Logger

	listMu sync.Mutex // one list at a time: see install

	mu      sync.Mutex
	byID    map[string]docker.Container
	stream  uint64            // the connected stream's number; 0 while none is
	streams uint64            // streams opened so far
	fresh   bool              // byID is complete
	seq     uint64            // events applied so far
	touched map[string]uint64 // id → seq of the last event applied to it since the last list
	gone    map[string]bool   // ids destroyed since the last list
	// onOOM hears that the kernel killed a process of a container for
	// want of memory (the container as it is now).
	onOOM func(ctx context.Context, c docker.Container)
}

func newContainerView(d containerWatcher, agent string, resync time.Duration, log *slog.Logger) *containerView {
	return &containerView{docker: d, agent: agent, resync: resync, log: log,
		byID: map[string]docker.Container{}, touched: map[string]uint64{}, gone: map[string]bool{}}
}

// containers returns every container the agent owns: from memory when
// the view is complete (no Docker call), else from a fresh list.
func (v *containerView) containers(ctx context.Context) ([]docker.Container, error) {
	v.mu.Lock()
	if v.fresh {
		cs := slices.Collect(maps.Values(v.byID))
		v.mu.Unlock()
		return cs, nil
	}
	v.mu.Unlock()
	return v.list(ctx)
}

// stale makes the next read list: a tick that changed containers must not
// race the events of its own changes.
func (v *containerView) stale() {
	v.mu.Lock()
	v.fresh = false
	v.mu.Unlock()
}

// list reads every container and, when a stream was connected for the
// whole list, makes the view complete with it.
func (v *containerView) list(ctx context.Context) ([]docker.Container, error) {
	v.listMu.Lock()
	defer v.listMu.Unlock()
	v.mu.Lock()
	stream, seq := v.stream, v.seq
	v.mu.Unlock()
	cs, err := v.docker.List(ctx, v.agent)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if stream != 0 && v.stream == stream {
		v.install(cs, seq)
	}
	return cs, nil
}

// install replaces the view with a list that started after event seq.
// An event applied while the list ran is newer than what the list saw of
// that container, so it wins.
func (v *containerView) install(cs []docker.Container, seq uint64) {
	next := make(map[string]docker.Container, len(cs))
	for _, c := range cs {
		next[c.ID] = c
	}
	for id, s := range v.touched {
		if s <= seq {
			continue
		}
		if v.gone[id] {
			delete(next, id)
		} else if c, ok := v.byID[id]; ok {
			next[id] = c
		}
	}
	v.byID, v.fresh = next, true
	v.touched, v.gone = map[string]uint64{}, map[string]bool{}
}

// apply reads the container an event is about as it is now (events say
// what happened, not what is), or forgets it when it is gone.
func (v *containerView) apply(ctx context.Context, ev docker.ContainerEvent) {
	var c docker.Container
	ok := false
	if ev.Action != "destroy" {
		var err error
		if c, ok, err = v.docker.Get(ctx, v.agent, ev.ID); err != nil {
			v.log.Warn("container view: reading a changed container failed; the next tick lists", "container", ev.ID, "error", err)
			v.stale()
			return
		}
	}
	if ev.Action == "oom" && ok && v.onOOM != nil {
		v.onOOM(ctx, c)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.seq++
	v.touched[ev.ID] = v.seq
	if ok {
		v.byID[ev.ID] = c
		delete(v.gone, ev.ID)
	} else {
		delete(v.byID, ev.ID)
		v.gone[ev.ID] = true
	}
}

// run keeps the view fed until ctx ends: subscribe, list, apply events,
// list again every resync; on a broken stream, mark the view incomplete
// and reconnect with a bounded backoff.
func (v *containerView) run(ctx context.Context) {
	backoff := time.Second
	for ctx.Err() == nil {
		connected := time.Now()
		err := v.follow(ctx)
		v.mu.Lock()
		v.stream, v.fresh = 0, false
		v.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		if time.Since(connected) > time.Minute {
			backoff = time.Second
		}
		v.log.Warn("container view: docker event stream broken; ticks list containers until it is back", "error", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// follow runs one stream until it breaks.
func (v *containerView) follow(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, errs := v.docker.WatchContainers(ctx, v.agent)
	v.mu.Lock()
	v.streams++
	v.stream = v.streams
	v.mu.Unlock()
	if _, err := v.list(ctx); err != nil {
		return err
	}
	resync := time.NewTicker(v.resync)
	defer resync.Stop()
	for {
		select {
		case ev := <-events:
			v.apply(ctx, ev)
		case err := <-errs:
			return err
		case <-resync.C:
			if _, err := v.list(ctx); err != nil {
				return err
			}
		}
	}
}
