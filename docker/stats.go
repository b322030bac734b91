package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/container"
)

// Usage is what a container uses now.
type Usage struct {
	Container   string    `json:"container"`
	CPUPercent  float64   `json:"cpu_percent"`  // of one CPU: 200 is two CPUs busy
	MemoryBytes int64     `json:"memory_bytes"` // without the page cache
	MemoryLimit int64     `json:"memory_limit"` // the container's limit, or the host's memory
	Pids        int64     `json:"pids"`
	Restarts    int       `json:"restarts"`
	StartedAt   time.Time `json:"started_at"`
	Running     bool      `json:"running"`
	// CPUTotal and SystemTotal are the raw counters (ns), for a CPU share
	// between two one-shot samples.
	CPUTotal, SystemTotal uint64 `json:"-"`
	OnlineCPUs            uint32 `json:"-"`
}

// CPUSince is the CPU share between an earlier sample and u (100: one CPU
// busy); 0 when it cannot tell.
func (u Usage) CPUSince(prev Usage) float64 {
	if u.CPUTotal <= prev.CPUTotal || u.SystemTotal <= prev.SystemTotal || u.OnlineCPUs == 0 {
		return 0
	}
	return float64(u.CPUTotal-prev.CPUTotal) / float64(u.SystemTotal-prev.SystemTotal) * float64(u.OnlineCPUs) * 100
}

// Stats samples a container's use: one stats read and one inspect,
// within the call deadline. A full read lets Docker measure CPU over
// about a second; a oneShot read answers at once, without a CPU share
// (CPUSince between two samples gives it).
func (d *Client) Stats(ctx context.Context, id string, oneShot bool) (Usage, error) {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	info, err := d.cli.ContainerInspect(ctx, id)
	if err != nil {
		return Usage{}, fmt.Errorf("inspecting %s: %w", id, err)
	}
	u := Usage{Container: trimSlash(info.Name), Restarts: info.RestartCount}
	if info.State != nil {
		u.Running = info.State.Running
		u.StartedAt, _ = time.Parse(time.RFC3339Nano, info.State.StartedAt)
	}
	if !u.Running {
		return u, nil
	}
	var resp container.StatsResponseReader
	if oneShot {
		resp, err = d.cli.ContainerStatsOneShot(ctx, id)
	} else {
		resp, err = d.cli.ContainerStats(ctx, id, false)
	}
	if err != nil {
		return u, fmt.Errorf("reading the stats of %s: %w", id, err)
	}
	defer resp.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return u, fmt.Errorf("reading the stats of %s: %w", id, err)
	}
	cpuDelta := float64(s.CPUStats.CPUUsage.TotalUsage) - float64(s.PreCPUStats.CPUUsage.TotalUsage)
	sysDelta := float64(s.CPUStats.SystemUsage) - float64(s.PreCPUStats.SystemUsage)
	cpus := float64(s.CPUStats.OnlineCPUs)
	if cpus == 0 {
		cpus = float64(len(s.CPUStats.CPUUsage.PercpuUsage))
	}
	u.CPUTotal, u.SystemTotal, u.OnlineCPUs = s.CPUStats.CPUUsage.TotalUsage, s.CPUStats.SystemUsage, uint32(cpus)
	if !oneShot && cpuDelta > 0 && sysDelta > 0 {
		u.CPUPercent = cpuDelta / sysDelta * cpus * 100
	}
	u.MemoryBytes, u.MemoryLimit = int64(s.MemoryStats.Usage), int64(s.MemoryStats.Limit)
	for _, k := range []string{"inactive_file", "total_inactive_file"} { // cgroup v2, v1
		if v, ok := s.MemoryStats.Stats[k]; ok && int64(v) < u.MemoryBytes {
			u.MemoryBytes -= int64(v)
			break
		}
	}
	u.Pids = int64(s.PidsStats.Current)
	return u, nil
}

func trimSlash(name string) string {
	if len(name) > 0 && name[0] == '/' {
		return name[1:]
	}
	return name
}
