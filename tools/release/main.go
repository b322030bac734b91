// Command release packages built Berth binaries: as a .deb with nfpm (as a
// library, from packaging/nfpm.yaml), or, with -image, as the agent image
// (a tarball `docker load` reads, built with go-containerregistry, no
// daemon). scripts/release runs it per architecture:
//
//	go run ./tools/release -version 1.2.3 -arch amd64 -dist dist -mtime 1700000000 -o dist/berth_1.2.3_amd64.deb
//	go run ./tools/release -image -version 1.2.3 -arch amd64 -dist dist -mtime 1700000000 -o dist/berth_1.2.3_agent_linux_amd64.tar
//
// Both are reproducible: every file's time is -mtime (the commit's time),
// so the same tag gives the same bytes.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run() error {
	version := flag.String("version", "", "the version (no leading v)")
	arch := flag.String("arch", "amd64", "the architecture (amd64, arm64)")
	dist := flag.String("dist", "dist", "the folder holding linux_<arch>/berth and berth-site")
	mtime := flag.Int64("mtime", 0, "the time of every file, in Unix seconds (the commit's)")
	config := flag.String("config", "packaging/nfpm.yaml", "the nfpm config")
	out := flag.String("o", "", "the .deb (or image tarball) to write")
	image := flag.Bool("image", false, "write the agent image instead of the .deb")
	ca := flag.String("ca", "/etc/ssl/certs/ca-certificates.crt", "with -image: the CA roots to put in the image")
	flag.Parse()
	if *version == "" || *out == "" {
		return fmt.Errorf("-version and -o are required")
	}
	if *image {
		return agentImage(*version, *arch, *dist, *ca, *out, time.Unix(*mtime, 0).UTC())
	}
	text, err := os.ReadFile(*config)
	if err != nil {
		return err
	}
	vars := map[string]string{"VERSION": *version, "ARCH": *arch, "DIST": *dist, "MTIME": strconv.FormatInt(*mtime, 10)}
	mapping := func(k string) string { return vars[k] }
	// nfpm expands variables in some fields only: the whole file is
	// expanded first, with these variables and nothing from the
	// environment.
	cfg, err := nfpm.ParseWithEnvMapping(strings.NewReader(os.Expand(string(text), mapping)), mapping)
	if err != nil {
		return fmt.Errorf("%s: %w", *config, err)
	}
	info, err := cfg.Get("deb")
	if err != nil {
		return err
	}
	info.MTime = time.Unix(*mtime, 0).UTC()
	info = nfpm.WithDefaults(info)
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return fmt.Errorf("preparing the package: %w", err)
	}
	pkg, err := nfpm.Get("deb")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	w, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := pkg.Package(info, w); err != nil {
		_ = w.Close()
		return fmt.Errorf("packaging %s: %w", *out, err)
	}
	return w.Close()
}
