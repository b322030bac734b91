// Package s3test runs a real S3-compatible store — SeaweedFS, built from
// its module source by scripts/seaweedfs — on 127.0.0.1 for the backup
// tests.
package s3test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Binary is where scripts/seaweedfs installs SeaweedFS.
func Binary() string {
	if b := os.Getenv("WEED_BIN"); b != "" {
		return b
	}
	return "/usr/local/bin/weed-7506e5f91cd6"
}

// Server is a running store with one bucket and one access key.
type Server struct {
	Endpoint  string // 127.0.0.1:PORT
	Bucket    string
	AccessKey string
	SecretKey string
	Client    *minio.Client // for a test to look at or damage what is stored
	Dir       string        // the store's files on disk
	cmd       *exec.Cmd
}

// URL is the --backup-s3 URL of the bucket, under prefix.
func (s *Server) URL(prefix string) string {
	return fmt.Sprintf("http://%s/%s/%s", s.Endpoint, s.Bucket, prefix)
}

// Stop ends the server before the test does (an unreachable target).
func (s *Server) Stop() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

// Start runs SeaweedFS until the test ends. Without the binary the test
// is skipped, except in CI, where it fails.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary()
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("seaweedfs is required in CI (scripts/seaweedfs builds it): %v", err)
		}
		t.Skipf("no seaweedfs at %s (run scripts/seaweedfs)", bin)
	}
	dir := t.TempDir()
	s := &Server{Bucket: "berth-backups", AccessKey: "berthtest", SecretKey: "berth-test-secret-key"}
	conf := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(conf, fmt.Appendf(nil, `{"identities":[{"name":"berth","credentials":[{"accessKey":%q,"secretKey":%q}],"actions":["Admin","Read","Write","List","Tagging"]}]}`,
		s.AccessKey, s.SecretKey), 0o600); err != nil {
		t.Fatal(err)
	}
	p := freePorts(t, 8)
	data := filepath.Join(dir, "data")
	s.Dir = data
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-dir="+data,
		"-master.port="+p[0], "-master.port.grpc="+p[1], "-volume.port="+p[2], "-volume.port.grpc="+p[3],
		"-filer", "-filer.port="+p[4], "-filer.port.grpc="+p[5],
		"-s3", "-s3.port="+p[6], "-s3.port.grpc="+p[7], "-s3.port.iceberg=0", "-s3.config="+conf,
		"-master.volumeSizeLimitMB=64", "-volume.max=16", "-metricsPort=0")
	var logs bytes.Buffer
	s.cmd.Stdout, s.cmd.Stderr, s.cmd.Dir = &logs, &logs, dir
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	s.Endpoint = "127.0.0.1:" + p[6]
	c, err := minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	s.Client = c
	var last error
	for range 120 { // bounded: 60 s
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		last = c.MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{})
		cancel()
		if last == nil {
			return s
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("seaweedfs did not come up: %v\n%s", last, logs.String())
	return nil
}

// freePorts are n ports nothing listens on now, below the kernel's
// ephemeral range: Docker publishes containers' ports from that range,
// and a port picked there and released could be handed to a container
// before the store binds it.
func freePorts(t testing.TB, n int) []string {
	var out []string
	var ls []net.Listener
	for p := 20000 + rand.IntN(8000); len(out) < n && p < 32000; p++ {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		ls = append(ls, l)
		out = append(out, strconv.Itoa(p))
	}
	for _, l := range ls {
		l.Close()
	}
	if len(out) < n {
		t.Fatalf("no %d free ports below the ephemeral range", n)
	}
	return out
}
