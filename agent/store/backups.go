package store

import (
	"context"
	"fmt"
	"time"
)

// Backup is one snapshot of a named volume.
type Backup struct {
	ID         int64     `json:"id"`
	WorkloadID string    `json:"workload"`
	Volume     string    `json:"volume"`
	DockerName string    `json:"docker_volume"`
	Release    int64     `json:"release"`
	Commit     string    `json:"commit,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256"`
	Location   string    `json:"location"`
}

// AddBackup records a snapshot that is complete at its location.
func (s *Store) AddBackup(ctx context.Context, b Backup) (int64, error) {
	s.count()
	res, err := s.db.ExecContext(ctx, `INSERT INTO backups (workload_id, volume, docker_name, release_id, commit_sha, created_at, size, sha256, location)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, b.WorkloadID, b.Volume, b.DockerName, b.Release, b.Commit, b.CreatedAt.UnixMilli(), b.Size, b.SHA256, b.Location)
	if err != nil {
		return 0, fmt.Errorf("recording a backup: %w", err)
	}
	return res.LastInsertId()
}

// Backups lists snapshots, newest first: of one workload, or all ("").
func (s *Store) Backups(ctx context.Context, workloadID string) ([]Backup, error) {
	q := `SELECT id, workload_id, volume, docker_name, release_id, commit_sha, created_at, size, sha256, location FROM backups`
	var args []any
	if workloadID != "" {
		q += ` WHERE workload_id = ?`
		args = append(args, workloadID)
	}
	q += ` ORDER BY created_at DESC, id DESC`
	s.count()
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing backups: %w", err)
	}
	defer rows.Close()
	out := []Backup{}
	for rows.Next() {
		var b Backup
		var created int64
		if err := rows.Scan(&b.ID, &b.WorkloadID, &b.Volume, &b.DockerName, &b.Release, &b.Commit, &created, &b.Size, &b.SHA256, &b.Location); err != nil {
			return nil, err
		}
		b.CreatedAt = time.UnixMilli(created).UTC()
		out = append(out, b)
	}
	return out, rows.Err()
}

// VolumeGenerations maps each restored volume's base name to the
// generation in use.
func (s *Store) VolumeGenerations(ctx context.Context) (map[string]string, error) {
	s.count()
	rows, err := s.db.QueryContext(ctx, `SELECT base, current FROM volume_generations`)
	if err != nil {
		return nil, fmt.Errorf("reading volume generations: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var base, cur string
		if err := rows.Scan(&base, &cur); err != nil {
			return nil, err
		}
		out[base] = cur
	}
	return out, rows.Err()
}

// SetVolumeGeneration records the generation a restore put in use.
func (s *Store) SetVolumeGeneration(ctx context.Context, base, current string) error {
	s.count()
	_, err := s.db.ExecContext(ctx, `INSERT INTO volume_generations (base, current) VALUES (?, ?)
		ON CONFLICT(base) DO UPDATE SET current = excluded.current`, base, current)
	if err != nil {
		return fmt.Errorf("recording volume generation: %w", err)
	}
	return nil
}

// DeleteBackup forgets a snapshot (its object is removed by the caller).
func (s *Store) DeleteBackup(ctx context.Context, id int64) error {
	s.count()
	if _, err := s.db.ExecContext(ctx, `DELETE FROM backups WHERE id = ?`, id); err != nil {
		return fmt.Errorf("forgetting backup %d: %w", id, err)
	}
	return nil
}
