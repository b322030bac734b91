package agent

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	backupTimeDesc = prometheus.NewDesc("berth_backup_last_success_timestamp_seconds",
		"When the newest snapshot of a volume was taken (Unix time).", []string{"workload", "volume"}, nil)
	backupSizeDesc = prometheus.NewDesc("berth_backup_last_size_bytes",
		"The size of the newest snapshot of a volume (its plaintext tar).", []string{"workload", "volume"}, nil)
)

// backupCollector reports each volume's newest snapshot, read at scrape
// time (one query; nothing when backups are off).
type backupCollector struct{ a *Agent }

func (c *backupCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- backupTimeDesc
	ch <- backupSizeDesc
}

func (c *backupCollector) Collect(ch chan<- prometheus.Metric) {
	if c.a.opts.BackupDir == "" && c.a.opts.BackupS3 == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	bs, err := c.a.store.Backups(ctx, "")
	if err != nil {
		ch <- prometheus.NewInvalidMetric(backupTimeDesc, err)
		return
	}
	seen := map[[2]string]bool{}
	for _, b := range bs { // newest first
		k := [2]string{b.WorkloadID, b.Volume}
		if seen[k] {
			continue
		}
		seen[k] = true
		ch <- prometheus.MustNewConstMetric(backupTimeDesc, prometheus.GaugeValue, float64(b.CreatedAt.Unix()), b.WorkloadID, b.Volume)
		ch <- prometheus.MustNewConstMetric(backupSizeDesc, prometheus.GaugeValue, float64(b.Size), b.WorkloadID, b.Volume)
	}
}
