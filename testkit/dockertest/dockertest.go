// Package dockertest gives tests a real Docker daemon: the client, images
// built FROM scratch from examples/hello-server (nothing is pulled), unique
// agent names, and cleanup of everything a test creates.
package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/berthops/berth/docker"
)

// ImagePrefix names every image the tests build.
const ImagePrefix = "berth-test/hello"

// Docker returns Berth's adapter on the local daemon. Without a daemon the
// test is skipped, except in CI (CI=true), where it fails: a green run
// must prove the Docker paths ran.
func Docker(t testing.TB) *docker.Client {
	t.Helper()
	d, err := docker.New(os.Getenv("DOCKER_HOST"))
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = d.Ping(ctx)
		cancel()
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Docker is required in CI: %v", err)
		}
		t.Skipf("no Docker daemon (run scripts/docker): %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func raw(t testing.TB) *client.Client {
	t.Helper()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// AgentName returns a unique agent name and removes every container that
// carries it when the test ends.
func AgentName(t testing.TB) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "t-" + hex.EncodeToString(b[:])
	cli := raw(t)
	t.Cleanup(func() { RemoveContainers(t, cli, name) })
	return name
}

// RemoveContainers force-removes every container labelled berth.agent=name.
func RemoveContainers(t testing.TB, cli *client.Client, name string) {
	t.Helper()
	ctx := context.Background()
	list, err := cli.ContainerList(ctx, container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", docker.LabelAgent+"="+name))})
	if err != nil {
		t.Errorf("listing test containers: %v", err)
		return
	}
	for _, c := range list {
		err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !cerrdefs.IsNotFound(err) { // gone meanwhile (an agent killed mid-removal)
			t.Errorf("removing test container %s: %v", c.ID, err)
		}
	}
	// The networks the agent made (a preview's), once their containers
	// are gone.
	nets, err := cli.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("label", docker.LabelAgent+"="+name))})
	if err != nil {
		t.Errorf("listing test networks: %v", err)
		return
	}
	for _, n := range nets {
		if err := cli.NetworkRemove(ctx, n.ID); err != nil && !cerrdefs.IsNotFound(err) {
			t.Errorf("removing test network %s: %v", n.Name, err)
		}
	}
}

var (
	builtMu sync.Mutex
	built   []string // images this process built, for RemoveImages

	binOnce sync.Once
	binPath string
	binErr  error
)

// serverBinary builds examples/hello-server as a static binary, once per
// test process.
func serverBinary() (string, error) {
	binOnce.Do(func() { binPath, binErr = BuildStatic("./examples/hello-server", "hello-server") })
	return binPath, binErr
}

// BuildStatic builds the module's package pkg as a statically linked
// binary (CGO off: FROM-scratch images have no libc) named name in a new
// temporary folder, and returns its path. Remove the folder when done.
func BuildStatic(pkg, name string) (string, error) {
	dir, err := os.MkdirTemp("", "berth-"+name+"-")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	if err := BuildStaticInto(pkg, path); err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	return path, nil
}

// ShipFlags are the go build flags berth ships with: the flags=( ... )
// line after "# ship-flags:" in scripts/build, the one place they are
// written down.
func ShipFlags(root string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(root, "scripts", "build"))
	if err != nil {
		return nil, err
	}
	_, rest, ok := strings.Cut(string(data), "# ship-flags:\nflags=(")
	line, _, ok2 := strings.Cut(rest, ")\n")
	if !ok || !ok2 {
		return nil, errors.New("scripts/build: no flags=( ... ) line after the ship-flags comment")
	}
	var out []string
	for i, part := range strings.Split(line, `"`) {
		if i%2 == 1 {
			out = append(out, part) // a quoted argument
			continue
		}
		out = append(out, strings.Fields(part)...)
	}
	return out, nil
}

// BuildStaticInto builds pkg as BuildStatic does, to path, as shipped
// (ShipFlags).
func BuildStaticInto(pkg, path string) error {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	flags, err := ShipFlags(root)
	if err != nil {
		return err
	}
	cmd := exec.Command("go", append(append([]string{"build"}, flags...), "-o", path, pkg)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %w\n%s", pkg, err, out)
	}
	return nil
}

// Image builds (once per tag and process) a FROM-scratch image of the
// hello server tagged berth-test/hello:<tag>. Extra Dockerfile lines
// (ENV, HEALTHCHECK, ...) make images that differ. RemoveImages deletes
// them; call it from TestMain.
func Image(t testing.TB, tag string, extra ...string) string {
	t.Helper()
	// The pid keeps test packages that run at once from sharing (and
	// deleting) each other's images.
	ref := fmt.Sprintf("%s:%s-%d", ImagePrefix, tag, os.Getpid())
	cli := raw(t)
	ctx := context.Background()
	if _, err := cli.ImageInspect(ctx, ref); err == nil {
		return ref
	}
	bin, err := serverBinary()
	if err != nil {
		t.Fatal(err)
	}
	// The pid label gives each process's images their own ids: identical
	// builds would otherwise share one, and removing it by id at the end
	// of one package would delete another package's tags with it.
	dockerfile := fmt.Sprintf("FROM scratch\nCOPY hello-server /hello-server\nEXPOSE 8080\nLABEL berth.test=1 berth.test.pid=%d\n", os.Getpid())
	for _, l := range extra {
		dockerfile += l + "\n"
	}
	dockerfile += "ENTRYPOINT [\"/hello-server\"]\n"
	body, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, []byte(dockerfile)}, {"hello-server", 0o755, body}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	resp, err := cli.ImageBuild(ctx, &buf, build.ImageBuildOptions{Tags: []string{ref}, Remove: true, ForceRemove: true})
	if err != nil {
		t.Fatalf("building %s: %v", ref, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if _, err := cli.ImageInspect(ctx, ref); err != nil {
		t.Fatalf("building %s: %v\n%s", ref, err, out)
	}
	builtMu.Lock()
	built = append(built, ref)
	builtMu.Unlock()
	return ref
}

// RemoveImages deletes the images this process built, and the hello
// server binary. Errors are printed, not fatal: it runs after the tests.
func RemoveImages() {
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	builtMu.Lock()
	defer builtMu.Unlock()
	if len(built) == 0 {
		return
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return
	}
	defer cli.Close()
	// By id, so pulled copies known only by digest go too; with every
	// image that carries this process's label, newest first: images Berth
	// built FROM a test image inherit the label, and a parent with
	// children cannot go before them (its tags would stay behind).
	ctx := context.Background()
	var ids []string
	if imgs, err := cli.ImageList(ctx, image.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", fmt.Sprintf("berth.test.pid=%d", os.Getpid())))}); err == nil {
		sort.Slice(imgs, func(i, j int) bool { return imgs[i].Created > imgs[j].Created })
		for _, img := range imgs {
			ids = append(ids, img.ID)
		}
	}
	for _, ref := range built {
		if img, err := cli.ImageInspect(ctx, ref); err == nil && !slices.Contains(ids, img.ID) {
			ids = append(ids, img.ID)
		}
	}
	// Images made in the same second are in no order: a parent that still
	// has a child is tried again after the others.
	for pass := 0; len(ids) > 0; pass++ {
		var left []string
		for _, id := range ids {
			_, err := cli.ImageRemove(ctx, id, image.RemoveOptions{Force: true, PruneChildren: true})
			switch {
			case err == nil || cerrdefs.IsNotFound(err):
			case cerrdefs.IsConflict(err) && pass < 3:
				left = append(left, id)
			default:
				fmt.Fprintf(os.Stderr, "removing test image %s: %v\n", id, err)
			}
		}
		ids = left
	}
	built = nil
}
