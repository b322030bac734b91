package router

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrAddressInUse: another process listens on an address the proxy
// needs. Caddy binds with SO_REUSEPORT, so without this check a second
// proxy would share the port and take half the requests.
var ErrAddressInUse = errors.New("address already in use")

// probePorts binds each listen address exclusively (no SO_REUSEPORT) and
// lets go at once: an address another process holds is an error naming
// it and, where /proc tells, that process.
func probePorts(addrs ...string) error {
	for _, addr := range addrs {
		if addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", addr)
		// A proxy restarting in place may still be closing its listener:
		// the address is taken only if it stays taken for a moment.
		for i := 0; i < 30 && errors.Is(err, syscall.EADDRINUSE); i++ {
			time.Sleep(100 * time.Millisecond)
			ln, err = net.Listen("tcp", addr)
		}
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return fmt.Errorf("%w: %s is taken%s; stop it or choose another address", ErrAddressInUse, addr, holder(addr))
			}
			return fmt.Errorf("listening on %s: %w", addr, err)
		}
		_ = ln.Close()
	}
	return nil
}

// holder names the process listening on addr's port (" by pid 123
// (caddy)"), "" when /proc does not say (another user's process).
func holder(addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return ""
	}
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		listeningInodes(f, port, inodes)
	}
	if len(inodes) == 0 {
		return ""
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		link, err := os.Readlink(fd)
		if err != nil || !strings.HasPrefix(link, "socket:[") {
			continue
		}
		if inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
			pid := strings.Split(fd, "/")[2]
			name, _ := os.ReadFile(filepath.Join("/proc", pid, "comm"))
			return fmt.Sprintf(" by pid %s (%s)", pid, strings.TrimSpace(string(name)))
		}
	}
	return ""
}

// listeningInodes adds the socket inodes of the LISTEN entries for port
// in a /proc/net/tcp table.
func listeningInodes(file string, port int, into map[string]bool) {
	f, err := os.Open(file)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != "0A" { // 0A: LISTEN
			continue
		}
		_, hexPort, ok := strings.Cut(fields[1], ":")
		if p, err := strconv.ParseInt(hexPort, 16, 32); ok && err == nil && int(p) == port {
			into[fields[9]] = true
		}
	}
}
