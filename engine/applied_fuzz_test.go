package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/policy"
	"github.com/berthops/berth/sources/compose"
)

// FuzzAppliedIsWhatWasChecked: for any compose document the policy
// accepts, what the docker CLI is handed (applied: labels added, "$"
// escaped) loads, the way the CLI loads it, into the same project, and
// that project passes the same policy: the CLI cannot run anything the
// check did not see. And the requests derived from it — the Swarm
// service specs the docker CLI's own converter makes of it, the objects
// a stack deploy sends — carry no setting outside the allow-list. The seeds run as a plain test; fuzz it with
// go test -fuzz FuzzAppliedIsWhatWasChecked ./engine.
func FuzzAppliedIsWhatWasChecked(f *testing.F) {
	for _, seed := range []string{
		"services:\n  web:\n    image: app:${TAG:-1}\n    environment:\n      A: \"$$x ${B:-$$y}\"\n",
		"services:\n  web:\n    image: x\n    volumes: [\"./conf:/c:ro\", \"data:/d\"]\nvolumes:\n  data: {}\n",
		"services:\n  web:\n    image: x\n    command: [\"sh\", \"-c\", \"echo $$HOME\"]\n    labels:\n      a: \"${L:-$$}\"\n",
		"services:\n  a:\n    image: x\n    network_mode: \"service:b\"\n  b:\n    image: y\n",
		"x-base: &b\n  image: x\nservices:\n  web:\n    <<: *b\n    ports: [\"127.0.0.1::80\"]\n",
		"services:\n  web:\n    image: x\n    privileged: ${P:-false}\n",
		"services:\n  web:\n    build:\n      context: .\n      args:\n        V: \"$${V}\"\n",
		"services:\n  web:\n    image: x\n    volumes: [\"${SRC:-.}:/h\"]\n    cap_add: [\"${CAP:-}\"]\n",
		"services:\n  web:\n    image: x\n    volumes:\n      - type: bind\n        source: ./conf\n        target: /c\n        read_only: true\n    sysctls: {net.core.somaxconn: 1024}\n",
		"services:\n  web:\n    image: x\n    networks: [front]\n    deploy:\n      resources:\n        reservations:\n          generic_resources: [{discrete_resource_spec: {kind: gpu, value: 1}}]\nnetworks:\n  front: {}\n",
		"services:\n  web:\n    image: x\n    volumes: [\"d:/d\"]\nvolumes:\n  d:\n    driver_opts: {type: none, o: bind, device: /}\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "conf"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "compose.yml"), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		vars := map[string]string{"TAG": "2", "B": "$b", "L": "l$"}
		p, err := compose.Render(ctx, dir, "compose.yml", "fuzz", vars)
		if err != nil || len(policy.Policy{}.Project(p, dir)) > 0 {
			return // refused: nothing is applied
		}
		out, err := applied(p, map[string]string{"berth.agent": "a"}, nil)
		if err != nil {
			return
		}
		again := filepath.Join(dir, "applied.yml")
		if err := os.WriteFile(again, out, 0o644); err != nil {
			t.Fatal(err)
		}
		q, err := compose.Render(ctx, dir, "applied.yml", "fuzz", nil)
		if err != nil {
			t.Fatalf("the applied project does not load: %v\n%s", err, out)
		}
		if vs := (policy.Policy{}).Project(q, dir); len(vs) > 0 {
			t.Fatalf("the applied project asks for %v, which the checked one did not\n%s", vs, out)
		}
		if specs, err := docker.StackSpecs("fuzz", dir, out); err == nil {
			for name, spec := range specs {
				if vs := (policy.Policy{}).Service(spec, policy.ServiceScope{Release: dir, Stack: "fuzz"}); len(vs) > 0 {
					t.Fatalf("service %s as Swarm would get it asks for %v, which the check did not see\n%s", name, vs, out)
				}
			}
		}
		for name, svc := range p.Services {
			got := q.Services[name]
			if got.Image != svc.Image || got.Privileged != svc.Privileged || got.NetworkMode != svc.NetworkMode || len(got.Volumes) != len(svc.Volumes) {
				t.Fatalf("service %s changed on the way to the CLI:\nchecked %+v\napplied %+v", name, svc, got)
			}
			for k, v := range svc.Environment {
				if w := got.Environment[k]; (v == nil) != (w == nil) || v != nil && *v != *w {
					t.Fatalf("service %s env %s: checked %v, applied %v", name, k, v, w)
				}
			}
		}
	})
}
