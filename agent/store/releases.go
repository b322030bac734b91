package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Release is one successful deploy of a workload: enough to deploy it
// again (its spec and its image) without git or a registry.
type Release struct {
	ID          int64     `json:"id"`
	WorkloadID  string    `json:"workload_id"`
	Kind        string    `json:"kind"`
	Commit      string    `json:"commit"`
	Hash        string    `json:"hash"`
	Image       string    `json:"image,omitempty"`
	ImageID     string    `json:"image_id,omitempty"`
	ImageDigest string    `json:"image_digest,omitempty"`
	Strategy    string    `json:"strategy"`
	Spec        []byte    `json:"-"` // the workload as deployed (gitops.EncodeWorkload); no secret values
	CreatedAt   time.Time `json:"created_at"`
}

const releaseColumns = "id, workload_id, kind, commit_sha, hash, image, image_id, image_digest, strategy, spec, created_at"

// AddRelease records a release and returns its id.
func (s *Store) AddRelease(ctx context.Context, r Release) (int64, error) {
	s.count()
	if r.CreatedAt.IsZero() {
		r.CreatedAt = time.Now()
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO releases (workload_id, kind, commit_sha, hash, image, image_id, image_digest, strategy, spec, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.WorkloadID, r.Kind, r.Commit, r.Hash, r.Image, r.ImageID, r.ImageDigest, r.Strategy, string(r.Spec), r.CreatedAt.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("recording a release of %s: %w", r.WorkloadID, err)
	}
	return res.LastInsertId()
}

// Releases lists a workload's releases, newest first ("" for every
// workload's).
func (s *Store) Releases(ctx context.Context, workloadID string) ([]Release, error) {
	s.count()
	q, args := "SELECT "+releaseColumns+" FROM releases ORDER BY id DESC", []any{}
	if workloadID != "" {
		q, args = "SELECT "+releaseColumns+" FROM releases WHERE workload_id = ? ORDER BY id DESC", []any{workloadID}
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing releases: %w", err)
	}
	defer rows.Close()
	out := []Release{}
	for rows.Next() {
		r, err := scanRelease(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing releases: %w", err)
	}
	return out, nil
}

// Release returns one release by id; ok is false when there is none.
func (s *Store) Release(ctx context.Context, id int64) (Release, bool, error) {
	m, err := s.ReleasesByID(ctx, []int64{id})
	r, ok := m[id]
	return r, ok, err
}

// PruneReleases keeps the newest keep releases of the workload (and any
// release in protect: the serving and the pinned one) and deletes the rest.
// It returns the deleted releases.
func (s *Store) PruneReleases(ctx context.Context, workloadID string, keep int, protect ...int64) ([]Release, error) {
	all, err := s.Releases(ctx, workloadID)
	if err != nil {
		return nil, err
	}
	var gone []Release
	for i, r := range all {
		if i < keep || contains(protect, r.ID) {
			continue
		}
		s.count()
		if _, err := s.db.ExecContext(ctx, "DELETE FROM releases WHERE id = ?", r.ID); err != nil {
			return gone, fmt.Errorf("pruning release %d of %s: %w", r.ID, workloadID, err)
		}
		gone = append(gone, r)
	}
	return gone, nil
}

// DeleteReleases removes every release of a workload (when it is pruned)
// and returns them.
func (s *Store) DeleteReleases(ctx context.Context, workloadID string) ([]Release, error) {
	return s.PruneReleases(ctx, workloadID, 0)
}

func contains(ids []int64, id int64) bool {
	for _, v := range ids {
		if v == id && id != 0 {
			return true
		}
	}
	return false
}

// OwnImage records an image Berth pulled itself (so it may collect it
// when no kept release or container uses it).
func (s *Store) OwnImage(ctx context.Context, imageID, ref string) error {
	s.count()
	_, err := s.db.ExecContext(ctx, "INSERT OR IGNORE INTO owned_images (image_id, ref, created_at) VALUES (?, ?, ?)", imageID, ref, time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("recording image %s: %w", ref, err)
	}
	return nil
}

// OwnedImages lists the images Berth pulled, by id → ref.
func (s *Store) OwnedImages(ctx context.Context) (map[string]string, error) {
	s.count()
	rows, err := s.db.QueryContext(ctx, "SELECT image_id, ref FROM owned_images")
	if err != nil {
		return nil, fmt.Errorf("listing owned images: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, ref string
		if err := rows.Scan(&id, &ref); err != nil {
			return nil, err
		}
		out[id] = ref
	}
	return out, rows.Err()
}

// DisownImage forgets an image that was removed.
func (s *Store) DisownImage(ctx context.Context, imageID string) error {
	s.count()
	_, err := s.db.ExecContext(ctx, "DELETE FROM owned_images WHERE image_id = ?", imageID)
	return err
}

// RecordDeploy writes a successful deploy: the release (when rel is not
// nil) and the workload's row pointing at it, in one transaction, so the
// row never names a release that was not recorded.
func (s *Store) RecordDeploy(ctx context.Context, row Runtime, rel *Release) (Runtime, error) {
	if rel == nil {
		return row, s.PutRuntime(ctx, row)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return row, fmt.Errorf("recording the deploy of %s: %w", row.WorkloadID, err)
	}
	defer func() { _ = tx.Rollback() }()
	if rel.CreatedAt.IsZero() {
		rel.CreatedAt = time.Now()
	}
	s.count()
	res, err := tx.ExecContext(ctx, `INSERT INTO releases (workload_id, kind, commit_sha, hash, image, image_id, image_digest, strategy, spec, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, rel.WorkloadID, rel.Kind, rel.Commit, rel.Hash, rel.Image, rel.ImageID, rel.ImageDigest, rel.Strategy, string(rel.Spec), rel.CreatedAt.UnixMilli())
	if err != nil {
		return row, fmt.Errorf("recording a release of %s: %w", row.WorkloadID, err)
	}
	if row.ReleaseID, err = res.LastInsertId(); err != nil {
		return row, err
	}
	if err := s.putRuntime(ctx, tx, row); err != nil {
		return row, err
	}
	if err := tx.Commit(); err != nil {
		return row, fmt.Errorf("recording the deploy of %s: %w", row.WorkloadID, err)
	}
	rel.ID = row.ReleaseID
	return row, nil
}

// ReleasesByID returns the releases with the given ids, in one query.
func (s *Store) ReleasesByID(ctx context.Context, ids []int64) (map[int64]Release, error) {
	out := map[int64]Release{}
	if len(ids) == 0 {
		return out, nil
	}
	s.count()
	// Only placeholders are concatenated: the ids travel as arguments.
	q := "SELECT " + releaseColumns + " FROM releases WHERE id IN (?" + strings.Repeat(", ?", len(ids)-1) + ")" //nolint:gosec // placeholders only
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("reading releases: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRelease(rows)
		if err != nil {
			return nil, err
		}
		out[r.ID] = r
	}
	return out, rows.Err()
}

func scanRelease(rows *sql.Rows) (Release, error) {
	var r Release
	var spec string
	var created int64
	if err := rows.Scan(&r.ID, &r.WorkloadID, &r.Kind, &r.Commit, &r.Hash, &r.Image, &r.ImageID, &r.ImageDigest, &r.Strategy, &spec, &created); err != nil {
		return r, fmt.Errorf("reading a release: %w", err)
	}
	r.Spec, r.CreatedAt = []byte(spec), time.UnixMilli(created).UTC()
	return r, nil
}
