package dockertest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Node is a second dockerd on this machine that joined the swarm of the
// default daemon as a worker: a second Swarm node for tests.
type Node struct {
	// Host is its API address for docker -H.
	Host string
	// ID is its Swarm node id.
	ID string
}

// Docker runs the docker CLI against the node.
func (n *Node) Docker(args ...string) ([]byte, error) {
	return exec.Command("docker", append([]string{"-H", n.Host}, args...)...).CombinedOutput()
}

// SecondNode starts a second dockerd (its own data root, exec root and
// bridges; no iptables, no IP forwarding: its published ports are
// docker-proxy listeners) and joins it to the default daemon's swarm,
// which must be active with a 127.0.0.1 listen address. Its Swarm
// traffic uses 127.0.0.2. Everything goes when the test ends: the node
// leaves, the daemon stops, its mounts, files and bridges are removed.
// It needs root; without it the test is skipped (failed in CI).
func SecondNode(t testing.TB) *Node {
	t.Helper()
	bin, err := exec.LookPath("dockerd")
	if err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatalf("a second dockerd needs root and dockerd in CI (root: %v, dockerd: %v)", os.Geteuid() == 0, err)
		}
		t.Skip("a second dockerd needs root and dockerd")
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	tag := hex.EncodeToString(b)
	// Short paths: containerd's sockets live under the exec root.
	exec1 := "/run/bd2-" + tag
	data := t.TempDir()
	n := &Node{Host: "unix://" + exec1 + ".sock"}
	bridge, gw := "bd2"+tag, "bd2gw"+tag
	nets := freeSubnets(t, 2)
	run(t, "ip", "link", "add", bridge, "type", "bridge")
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", bridge).Run()
		_ = exec.Command("ip", "link", "del", gw).Run() // the daemon leaves its networks' bridges
	})
	run(t, "ip", "addr", "add", nets[0].gateway, "dev", bridge)
	run(t, "ip", "link", "set", bridge, "up")

	logf, err := os.Create(filepath.Join(t.TempDir(), "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--data-root", data, "--exec-root", exec1, "--pidfile", exec1+".pid", "-H", n.Host,
		"--bridge", bridge, "--iptables=false", "--ip-forward=false", "--ip-masq=false", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.stop(t, cmd, exec1, data, logf) })
	for i := 0; ; i++ { // bounded: 30 s
		if _, err := n.Docker("info", "--format", "{{.ID}}"); err == nil {
			break
		}
		if i == 150 {
			t.Fatalf("the second dockerd did not come up:\n%s", readLog(logf))
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Its own gateway bridge: the default name would be the first
	// daemon's docker_gwbridge device, which this one removes on leaving.
	if out, err := n.Docker("network", "create", "--subnet", nets[1].cidr, "--opt", "com.docker.network.bridge.name="+gw,
		"--opt", "com.docker.network.bridge.enable_icc=false", "--opt", "com.docker.network.bridge.enable_ip_masquerade=false", "docker_gwbridge"); err != nil {
		t.Fatalf("the second node's docker_gwbridge: %v\n%s", err, out)
	}
	n.join(t, logf)
	return n
}

// join makes the node a worker of the default daemon's swarm and waits
// until the manager sees it ready.
func (n *Node) join(t testing.TB, logf *os.File) {
	t.Helper()
	token, err := exec.Command("docker", "swarm", "join-token", "-q", "worker").Output()
	if err != nil {
		t.Fatalf("docker swarm join-token: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "-H", n.Host, "swarm", "join", "--token", strings.TrimSpace(string(token)),
		"--listen-addr", "127.0.0.2:2377", "--advertise-addr", "127.0.0.2", "127.0.0.1:2377").CombinedOutput()
	if err != nil {
		t.Fatalf("joining the swarm: %v\n%s\n%s", err, out, readLog(logf))
	}
	id, err := n.Docker("info", "--format", "{{.Swarm.NodeID}}")
	if err != nil {
		t.Fatalf("the second node's id: %v\n%s", err, id)
	}
	n.ID = strings.TrimSpace(string(id))
	for i := 0; ; i++ { // bounded: 30 s
		st, _ := exec.Command("docker", "node", "inspect", "--format", "{{.Status.State}}", n.ID).Output()
		if strings.TrimSpace(string(st)) == "ready" {
			break
		}
		if i == 150 {
			t.Fatalf("the second node is not ready: %s", st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stop takes the node out of the swarm and removes every trace of it.
func (n *Node) stop(t testing.TB, cmd *exec.Cmd, execRoot, data string, logf *os.File) {
	defer logf.Close()
	if out, err := n.Docker("swarm", "leave", "--force"); err != nil {
		t.Errorf("the second node leaving the swarm: %v\n%s", err, out)
	}
	if n.ID != "" {
		_ = exec.Command("docker", "node", "rm", "--force", n.ID).Run()
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // dockerd and its containerd
		<-exited
	}
	// Its containerd and shims stop with it; what they mounted (network
	// namespaces, layers) may stay mounted until unmounted here.
	for _, m := range mountsUnder(execRoot, data) {
		_ = syscall.Unmount(m, syscall.MNT_DETACH)
	}
	if err := os.RemoveAll(execRoot); err != nil {
		t.Errorf("removing the second node's exec root: %v", err)
	}
	_ = os.Remove(execRoot + ".sock")
	_ = os.Remove(execRoot + ".pid")
}

// mountsUnder lists the mount points under the roots, deepest first.
func mountsUnder(roots ...string) []string {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		for _, r := range roots {
			if fields[1] == r || strings.HasPrefix(fields[1], r+"/") {
				out = append(out, fields[1])
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

type subnet struct{ cidr, gateway string }

// freeSubnets picks n /24s in 10.213.0.0/16 that no route and no address
// of this machine overlaps: the host's own network (a documentation
// range on some machines) must never be shadowed.
func freeSubnets(t testing.TB, n int) []subnet {
	t.Helper()
	var taken []*net.IPNet
	for _, args := range [][]string{{"-4", "route", "show", "table", "all"}, {"-4", "-o", "addr"}} {
		out, err := exec.Command("ip", args...).Output()
		if err != nil {
			t.Fatalf("ip %s: %v", strings.Join(args, " "), err)
		}
		for _, f := range strings.Fields(string(out)) {
			if !strings.Contains(f, "/") {
				f += "/32"
			}
			if _, nw, err := net.ParseCIDR(f); err == nil {
				taken = append(taken, nw)
			}
		}
	}
	var out []subnet
	for i := 0; i < 256 && len(out) < n; i++ {
		_, cand, _ := net.ParseCIDR(fmt.Sprintf("10.213.%d.0/24", i))
		free := true
		for _, nw := range taken {
			if nw.Contains(cand.IP) || cand.Contains(nw.IP) {
				free = false
				break
			}
		}
		if free {
			out = append(out, subnet{cidr: cand.String(), gateway: fmt.Sprintf("10.213.%d.1/24", i)})
		}
	}
	if len(out) < n {
		t.Fatal("no free /24 in 10.213.0.0/16 for the second node's bridges")
	}
	return out
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func readLog(f *os.File) string {
	b, _ := os.ReadFile(f.Name())
	return fmt.Sprintf("%.4000s", b)
}
