package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// imageFile is one file of the agent image's only layer.
type imageFile struct {
	path string // inside the image, without the leading /
	src  string // on this machine; "" for a folder
	mode int64
}

// agentImage writes the agent image (what packaging/Dockerfile makes,
// FROM scratch: berth, berth-site, CA roots, /tmp) as a tarball `docker
// load` reads, built without a daemon: every file's time is mtime and
// its owner root, so the same binaries give the same bytes.
func agentImage(version, arch, dist, caFile, out string, mtime time.Time) error {
	bin := filepath.Join(dist, "linux_"+arch)
	files := []imageFile{
		{path: "etc/", mode: 0o755}, {path: "etc/ssl/", mode: 0o755}, {path: "etc/ssl/certs/", mode: 0o755},
		{path: "etc/ssl/certs/ca-certificates.crt", src: caFile, mode: 0o644},
		{path: "tmp/", mode: 0o1777},
		{path: "usr/", mode: 0o755}, {path: "usr/local/", mode: 0o755}, {path: "usr/local/bin/", mode: 0o755},
		{path: "usr/local/bin/berth", src: filepath.Join(bin, "berth"), mode: 0o755},
		{path: "usr/local/bin/berth-site", src: filepath.Join(bin, "berth-site"), mode: 0o755},
		{path: "var/", mode: 0o755}, {path: "var/lib/", mode: 0o755}, {path: "var/lib/berth/", mode: 0o700},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.path, Mode: f.mode, ModTime: mtime, Typeflag: tar.TypeDir, Format: tar.FormatPAX}
		var data []byte
		if f.src != "" {
			b, err := os.ReadFile(f.src)
			if err != nil {
				return err
			}
			data, h.Typeflag, h.Size = b, tar.TypeReg, int64(len(b))
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	layerBytes := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	})
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Created = "linux", arch, v1.Time{Time: mtime}
	cfg.Config.Entrypoint = []string{"/usr/local/bin/berth"}
	cfg.Config.Cmd = []string{"agent", "--listen", "127.0.0.1:9090"}
	cfg.Config.Env = []string{"BERTH_STATE_DIR=/var/lib/berth", "HOME=/var/lib/berth"}
	cfg.Config.WorkingDir = "/var/lib/berth"
	cfg.Config.Volumes = map[string]struct{}{"/var/lib/berth": {}}
	cfg.Config.Labels = map[string]string{"org.opencontainers.image.version": version, "org.opencontainers.image.title": "berth agent"}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return err
	}
	if img, err = mutate.CreatedAt(img, v1.Time{Time: mtime}); err != nil {
		return err
	}
	tag, err := name.NewTag("berth/agent:" + version)
	if err != nil {
		return fmt.Errorf("the image tag: %w", err)
	}
	return tarball.WriteToFile(out, tag, img)
}
