package gitops_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthops/berth/gitops"
)

// Fuzz targets for the files a config-repo commit controls. Every one
// checks what a user relies on: the loader never panics, every error names
// the file it is about, and one broken file never hides a good one. Run
// one for real with: go test -fuzz=FuzzWorkloadFile -fuzztime=10m ./gitops/
// (the seeds below and testdata/fuzz/ run as plain tests in CI).

var workloadSeeds = []string{
	okImage,
	"source:\n  type: image\n  image: x:1\n  deploy_strategy: blue-green\nport: 8080\nroute:\n  hosts: [a.test]\nhealthcheck:\n  path: /healthz\n",
	"source:\n  type: dockerfile\n  git:\n    url: https://git.example.com/a.git\n    ref: main\nport: 8080\n",
	"source:\n  type: static\n  dir: site\nroute:\n  hosts: [s.test]\n",
	"source:\n  type: compose\n  file: stack/compose.yml\n  project: shop\n",
	"source:\n  type: stack\n  file: stack/compose.yml\n  stack: shop\nplacement:\n  agents: [host-a]\n  labels: {role: web}\n",
	"port: 8080\nport: 9090\nsource:\n  type: image\n  image: x:1\n",
	"port: 0\nsource: {type: image, image: 'x:1'}\n",
	"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
	"source:\n  type: image\n  image: x:1\nenv:\n  A: !!binary aGVsbG8=\n  \"1BAD\": x\n",
	"source: !!str\n",
	"\xff\xfe\x00",
	"---\nsource: {type: image, image: 'x:1'}\n---\nport: 1\n",
	"source:\n  type: image\n  image: x:1\nvolumes:\n  data: ../../etc\n",
}

func writeRepo(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		full := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func load(t *testing.T, dir string) *gitops.Desired {
	t.Helper()
	d, err := gitops.Load(dir, "")
	if err != nil {
		t.Fatalf("the folder is readable, Load must not fail: %v", err)
	}
	return d
}

func FuzzWorkloadFile(f *testing.F) {
	for _, s := range workloadSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := writeRepo(t, map[string][]byte{"apps/shop/web.yaml": data, "apps/shop/good.yaml": []byte(okImage)})
		d := load(t, dir)
		var good, web int
		for _, w := range d.Workloads {
			switch w.ID() {
			case "shop/good":
				good++
			case "shop/web":
				web++
				if again := load(t, dir); again.ByID()["shop/web"] == nil || again.ByID()["shop/web"].Hash != w.Hash {
					t.Fatal("loading the same file twice gave another hash")
				}
			}
		}
		for _, inv := range d.Invalid {
			if inv.ID != "shop/web" {
				t.Fatalf("%s is invalid because of another file: %v", inv.ID, inv.Err())
			}
			web++
			for _, e := range inv.Errs {
				if !strings.HasPrefix(e.Error(), "apps/shop/web.yaml") {
					t.Fatalf("the error does not name the file: %v", e)
				}
			}
		}
		if good != 1 || web != 1 {
			t.Fatalf("want the good workload and one verdict on web.yaml, got %d good, %d web (errors: %v)", good, web, d.Errors)
		}
	})
}

func FuzzRepoConfigFile(f *testing.F) {
	for _, s := range []string{
		"",
		"defaults:\n  healthcheck:\n    path: /healthz\n    interval: 2s\n  stop_grace_period: 10s\nsecrets:\n  recipients: [age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq]\n",
		"defaults:\n  stop_grace_period: 10s\n  stop_grace_period: 20s\n",
		"defaults: [1, 2]\n",
		"secrets:\n  recipients: 7\n",
		"unknown: true\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := load(t, writeRepo(t, map[string][]byte{"berth.yaml": data, "apps/shop/good.yaml": []byte(okImage)}))
		for _, e := range d.Errors {
			if !strings.Contains(e.Error(), "berth.yaml") {
				t.Fatalf("a repo-wide error that does not name berth.yaml: %v", e)
			}
		}
		if len(d.Errors) == 0 && len(d.Workloads)+len(d.Invalid) != 1 {
			t.Fatalf("a valid berth.yaml lost the workload: %d workloads, %d invalid", len(d.Workloads), len(d.Invalid))
		}
	})
}

func FuzzAppConfigFile(f *testing.F) {
	for _, s := range []string{
		"",
		"defaults:\n  healthcheck:\n    path: /ready\n",
		"defaults:\n  healthcheck:\n    path: /ready\n    path: /live\n",
		"defaults: nope\n",
		"secrets: {}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := load(t, writeRepo(t, map[string][]byte{
			"apps/shop/app.yaml": data, "apps/shop/good.yaml": []byte(okImage), "apps/other/good.yaml": []byte(okImage),
		}))
		if d.ByID()["other/good"] == nil {
			t.Fatal("a broken app.yaml of another app hid a good workload")
		}
		for _, inv := range d.Invalid {
			for _, e := range inv.Errs {
				if !strings.Contains(e.Error(), "apps/shop/") {
					t.Fatalf("an error that does not name the file: %v", e)
				}
			}
		}
		for _, e := range d.Errors {
			if !strings.Contains(e.Error(), "apps/shop/app.yaml") {
				t.Fatalf("an error that does not name app.yaml: %v", e)
			}
		}
	})
}
