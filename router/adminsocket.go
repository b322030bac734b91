package router

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The admin API's sockets: Caddy's own (inner) admin socket in a private
// temp folder, and the guarded admin API when it listens on a unix
// socket.

// adminDirPrefix names the temp folders of the admin sockets.
const adminDirPrefix = "berth-proxy-admin-"

// sweepAdminDirs removes the admin-socket folders proxies that were
// killed (SIGKILL, a power cut) left behind: a folder whose socket no
// process answers on. A running proxy's folder is left alone, and so is
// a young one with no socket yet (a proxy that is starting).
func sweepAdminDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), adminDirPrefix+"*"))
	for _, dir := range dirs {
		info, err := os.Lstat(dir)
		if err != nil || !info.IsDir() {
			continue
		}
		sock := filepath.Join(dir, "caddy.sock")
		if _, err := os.Lstat(sock); err != nil {
			if time.Since(info.ModTime()) < time.Minute {
				continue
			}
		} else if c, err := net.DialTimeout("unix", sock, time.Second); err == nil {
			_ = c.Close()
			continue
		}
		_ = os.RemoveAll(dir)
	}
}

// adminSocket is the path of a unix-socket admin address
// ("unix:///run/berth/proxy.sock"), "" for a TCP one.
func adminSocket(addr string) string {
	if rest, ok := strings.CutPrefix(addr, "unix://"); ok {
		return rest
	}
	if rest, ok := strings.CutPrefix(addr, "unix:"); ok {
		return rest
	}
	return ""
}

// listenAdmin opens the guarded admin API: on a unix socket (0660: the
// proxy's user and group only — nobody else on the host can claim a
// host) or on a TCP address. A socket a dead proxy left is replaced; a
// live proxy's is not.
func listenAdmin(addr string) (net.Listener, error) {
	sock := adminSocket(addr)
	if sock == "" {
		return net.Listen("tcp", addr)
	}
	if c, err := net.DialTimeout("unix", sock, time.Second); err == nil {
		_ = c.Close()
		return nil, fmt.Errorf("%s: another proxy answers on this socket", sock)
	}
	if err := os.Remove(sock); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(sock, 0o660); err != nil {
		_ = ln.Close()
		return nil, err
	}
	return ln, nil
}
