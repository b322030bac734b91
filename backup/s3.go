package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3 is a backup target in an S3-compatible store (--backup-s3). A
// snapshot streams up in parts of PartSize (memory stays bounded
// whatever the volume's size); an upload that fails is aborted, and its
// manifest is written only after the object is complete.
type S3 struct {
	client *minio.Client
	bucket string
	prefix string // "" or "dir/"
	where  string // endpoint/bucket/prefix, for messages
}

// S3Options are the deadlines of an S3 target.
type S3Options struct {
	// Idle is how long a connection may make no progress (no byte read
	// or written) before the request fails: a target that hangs fails
	// within it. Default 30s.
	Idle time.Duration
	// Retries is how often a failed request is tried again. Default 3.
	Retries int
}

// s3PartSize bounds a backup's memory (one part is buffered) and its
// size (10,000 parts: 320 GiB).
const s3PartSize = 32 << 20

// ParseS3URL reads --backup-s3: http(s)://ENDPOINT/BUCKET[/PREFIX]
// (?region=R), or s3://BUCKET[/PREFIX] for AWS itself.
func ParseS3URL(raw string) (endpoint string, secure bool, bucket, prefix, region string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", false, "", "", "", fmt.Errorf("--backup-s3 %q: %w", raw, err)
	}
	if u.User != nil {
		return "", false, "", "", "", fmt.Errorf("--backup-s3: put no credentials in the URL; name a shared secret in berth.yaml backups.s3_secret")
	}
	p := strings.Trim(u.Path, "/")
	switch u.Scheme {
	case "s3":
		endpoint, secure, p = "s3.amazonaws.com", true, strings.Trim(u.Host+"/"+p, "/")
	case "http", "https":
		endpoint, secure = u.Host, u.Scheme == "https"
	default:
		return "", false, "", "", "", fmt.Errorf("--backup-s3 %q: the URL is https://ENDPOINT/BUCKET[/PREFIX], http://… for a store on this host, or s3://BUCKET[/PREFIX]", raw)
	}
	bucket, prefix, _ = strings.Cut(p, "/")
	if endpoint == "" || bucket == "" {
		return "", false, "", "", "", fmt.Errorf("--backup-s3 %q: an endpoint and a bucket are required", raw)
	}
	if prefix != "" {
		prefix += "/"
	}
	return endpoint, secure, bucket, prefix, u.Query().Get("region"), nil
}

// NewS3 is the target --backup-s3 rawURL names, with the access key and
// secret of the shared secret berth.yaml names.
func NewS3(rawURL, accessKey, secretKey string, o S3Options) (*S3, error) {
	endpoint, secure, bucket, prefix, region, err := ParseS3URL(rawURL)
	if err != nil {
		return nil, err
	}
	if o.Idle <= 0 {
		o.Idle = 30 * time.Second
	}
	if o.Retries <= 0 {
		o.Retries = 3
	}
	dialer := &net.Dialer{Timeout: min(o.Idle, 10*time.Second), KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &idleConn{Conn: c, idle: o.Idle}, nil
		},
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: o.Idle,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
	}
	c, err := minio.New(endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(accessKey, secretKey, ""),
		Secure:     secure,
		Region:     region,
		Transport:  tr,
		MaxRetries: o.Retries,
	})
	if err != nil {
		return nil, fmt.Errorf("--backup-s3: %w", err)
	}
	return &S3{client: c, bucket: bucket, prefix: prefix, where: endpoint + "/" + bucket + "/" + prefix}, nil
}

func (s *S3) String() string { return "s3 " + strings.TrimSuffix(s.where, "/") }

var errUploadEnded = errors.New("the upload ended")

// Put uploads the sealed stream as it is made, then its manifest.
func (s *S3) Put(ctx context.Context, m Manifest, seal func(w io.Writer) (Sum, error)) (Manifest, error) {
	pr, pw := io.Pipe()
	sealed := make(chan error, 1)
	go func() {
		var err error
		m.Sum, err = seal(pw)
		pw.CloseWithError(err)
		sealed <- err
	}()
	_, err := s.client.PutObject(ctx, s.bucket, s.prefix+m.Object, pr, -1, minio.PutObjectOptions{
		PartSize: s3PartSize, ContentType: "application/octet-stream",
	})
	var serr error
	select {
	case serr = <-sealed: // the seal ended first: its error is the cause
	default:
		pr.CloseWithError(errUploadEnded) // a seal still writing stops
		<-sealed
	}
	if serr != nil {
		return m, fmt.Errorf("writing the snapshot: %w", serr)
	}
	if err != nil {
		return m, fmt.Errorf("uploading the snapshot to %s: %w", s, describe(err))
	}
	b, err := encodeManifest(m)
	if err == nil {
		_, err = s.client.PutObject(ctx, s.bucket, s.prefix+manifestName(m.Object), bytes.NewReader(b), int64(len(b)),
			minio.PutObjectOptions{ContentType: "application/json"})
	}
	if err != nil {
		s.client.RemoveObject(context.WithoutCancel(ctx), s.bucket, s.prefix+m.Object, minio.RemoveObjectOptions{})
		return m, fmt.Errorf("uploading the snapshot's manifest to %s: %w", s, describe(err))
	}
	return m, nil
}

// Open streams a sealed snapshot down.
func (s *S3) Open(ctx context.Context, object string) (io.ReadCloser, error) {
	o, err := s.client.GetObject(ctx, s.bucket, s.prefix+object, minio.GetObjectOptions{})
	if err == nil {
		_, err = o.Stat() // a missing object fails here, not mid-restore
	}
	if err != nil {
		return nil, fmt.Errorf("reading snapshot %s from %s: %w", object, s, describe(err))
	}
	return o, nil
}

// Remove deletes a snapshot's manifest, then its object.
func (s *S3) Remove(ctx context.Context, object string) error {
	for _, k := range []string{manifestName(object), object} {
		if err := s.client.RemoveObject(ctx, s.bucket, s.prefix+k, minio.RemoveObjectOptions{}); err != nil {
			return fmt.Errorf("removing %s from %s: %w", k, s, describe(err))
		}
	}
	return nil
}

// List reads the manifests under the prefix: one listing, and one read
// per manifest not known.
func (s *S3) List(ctx context.Context, known func(object string) bool) ([]Manifest, error) {
	var out []Manifest
	var bad []error
	for o := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true}) {
		if o.Err != nil {
			return out, fmt.Errorf("listing %s: %w", s, describe(o.Err))
		}
		name := strings.TrimPrefix(o.Key, s.prefix)
		if !isManifest(path.Base(name)) || known != nil && known(strings.TrimSuffix(name, manifestExt)) {
			continue
		}
		m, err := s.manifest(ctx, name)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, errors.Join(bad...)
}

func (s *S3) manifest(ctx context.Context, name string) (Manifest, error) {
	o, err := s.client.GetObject(ctx, s.bucket, s.prefix+name, minio.GetObjectOptions{})
	if err != nil {
		return Manifest{}, fmt.Errorf("manifest %s: %w", name, describe(err))
	}
	defer o.Close()
	b, err := io.ReadAll(io.LimitReader(o, 1<<20))
	if err != nil {
		return Manifest{}, fmt.Errorf("manifest %s: %w", name, describe(err))
	}
	return decodeManifest(name, b)
}

// describe turns an S3 error response into words a user can act on.
func describe(err error) error {
	var r minio.ErrorResponse
	if !errors.As(err, &r) || r.Code == "" {
		return err
	}
	hint := ""
	switch r.Code {
	case "NoSuchBucket":
		hint = " (create the bucket first)"
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch":
		hint = " (check the credentials in the shared secret berth.yaml backups.s3_secret names)"
	case "QuotaExceeded", "EntityTooLarge", "XMinioStorageFull", "InsufficientStorage":
		hint = " (the target is full)"
	}
	return fmt.Errorf("%s: %s%s", r.Code, r.Message, hint)
}

// idleConn fails a read or write that makes no progress for idle: a
// store that stops answering mid-upload cannot hang a backup.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	return c.Conn.Read(p)
}

func (c *idleConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.idle))
	return c.Conn.Write(p)
}
