package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scripts/release (amd64 only here, as CI builds it) writes the tarball,
// the .deb, the agent image and SHA256SUMS; the same commit gives the
// same bytes twice; the .deb unpacks to a berth that prints the release's
// version, and the image loads and runs it; and,
// where the test runs as root on a machine without Berth installed, the
// .deb installs with dpkg (the berth user, /etc/berth readable by its
// group, both units) and purges clean.
func TestReleaseInstallsWithDpkg(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("dpkg-deb is required in CI (Debian's dpkg)")
		}
		t.Skip("no dpkg-deb here")
	}
	const v = "0.0.0-test"
	release := func() string {
		dist := t.TempDir()
		cmd := exec.Command("../../scripts/release", "v"+v)
		cmd.Env = append(os.Environ(), "DIST="+dist, "ARCHES=amd64")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return dist
	}
	dist := release()
	for _, f := range []string{"berth_" + v + "_linux_amd64.tar.gz", "berth_" + v + "_amd64.deb", "berth_" + v + "_agent_linux_amd64.tar", "SHA256SUMS"} {
		assert.FileExists(t, filepath.Join(dist, f))
	}
	check := exec.Command("sha256sum", "-c", "SHA256SUMS")
	check.Dir = dist
	out, err := check.CombinedOutput()
	require.NoError(t, err, "%s", out)
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	require.NoError(t, err)
	again, err := os.ReadFile(filepath.Join(release(), "SHA256SUMS"))
	require.NoError(t, err)
	assert.Equal(t, string(sums), string(again), "the release is reproducible")

	deb := filepath.Join(dist, "berth_"+v+"_amd64.deb")
	root := t.TempDir()
	out, err = exec.Command("dpkg-deb", "-x", deb, root).CombinedOutput()
	require.NoError(t, err, "%s", out)
	out, err = exec.Command(filepath.Join(root, "usr/bin/berth"), "version").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.True(t, strings.HasPrefix(string(out), "berth v"+v+" "), "%s", out)
	for _, f := range []string{"usr/bin/berth-site", "lib/systemd/system/berth.service", "lib/systemd/system/berth-proxy.service", "etc/berth/berth.env"} {
		assert.FileExists(t, filepath.Join(root, f))
	}
	tarList, err := exec.Command("tar", "-tzf", filepath.Join(dist, "berth_"+v+"_linux_amd64.tar.gz")).Output()
	require.NoError(t, err)
	assert.Contains(t, string(tarList), "berth_"+v+"_linux_amd64/berth\n")

	// The agent image loads into Docker and runs the release's berth.
	if _, err := exec.LookPath("docker"); err == nil && exec.Command("docker", "info").Run() == nil {
		out, err := exec.Command("docker", "load", "-i", filepath.Join(dist, "berth_"+v+"_agent_linux_amd64.tar")).CombinedOutput()
		require.NoError(t, err, "%s", out)
		t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", "berth/agent:"+v).Run() })
		assert.Contains(t, string(out), "berth/agent:"+v)
		out, err = exec.Command("docker", "run", "--rm", "--network", "none", "berth/agent:"+v, "version").CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.True(t, strings.HasPrefix(string(out), "berth v"+v+" "), "%s", out)
	}

	_, berthInstalled := os.Stat("/usr/bin/berth")
	_, userErr := exec.Command("id", "berth").Output()
	if os.Geteuid() != 0 || berthInstalled == nil || userErr == nil {
		t.Log("not root, or Berth is installed here: dpkg -i left out")
		return
	}
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Log("no dpkg: dpkg -i left out")
		return
	}
	out, err = exec.Command("dpkg", "-i", deb).CombinedOutput()
	t.Cleanup(func() { _ = exec.Command("dpkg", "--purge", "berth").Run() })
	require.NoError(t, err, "%s", out)
	out, err = exec.Command("/usr/bin/berth", "--version").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "v"+v)
	out, err = exec.Command("id", "-nG", "berth").Output()
	require.NoError(t, err)
	assert.Contains(t, string(out), "berth")
	st, err := os.Stat("/etc/berth")
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o750), st.Mode().Perm())
	// The service user reads the settings (and a key put there as the
	// docs say); nobody else does.
	out, err = exec.Command("runuser", "-u", "berth", "--", "cat", "/etc/berth/berth.env").CombinedOutput()
	require.NoError(t, err, "%s", out)
	// The age key made as docs/operations.md and berth.env say is
	// readable by the service user, and by nobody else.
	key := "/etc/berth/age.key"
	for _, c := range [][]string{{"berth", "secrets", "keygen", "--out", key}, {"chgrp", "berth", key}, {"chmod", "0640", key}} {
		out, err = exec.Command(c[0], c[1:]...).CombinedOutput()
		require.NoError(t, err, "%v: %s", c, out)
	}
	out, err = exec.Command("runuser", "-u", "berth", "--", "cat", key).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "AGE-SECRET-KEY-")
	out, err = exec.Command("runuser", "-u", "nobody", "--", "cat", key).CombinedOutput()
	assert.Error(t, err, "nobody else reads the key: %s", out)
	out, err = exec.Command("dpkg", "--purge", "berth").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.NoFileExists(t, "/usr/bin/berth")
	_, err = exec.Command("id", "berth").Output()
	assert.Error(t, err, "purge removes the berth user")
}
