package codeshape

import (
	"go/parser"
	"go/token"
	"path"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/berthops/berth/"

// layers is the order of Berth's packages, bottom first: a package imports
// only packages of a lower layer. internal/ is runtime helpers at the
// bottom; the test harnesses (testkit/) and the commands sit on top.
// A new package gets a line here.
var layers = map[string]int{
	"internal/atomicfile":   0,
	"internal/fault":        0,
	"internal/secretfile":   0,
	"internal/statedir":     1,
	"internal/codeshape":    1,
	"policy":                2,
	"notify":                2,
	"badge":                 2,
	"docker":                2,
	"router":                2,
	"forge":                 2,
	"secrets":               2,
	"agent/store":           2,
	"sources/static/site":   2,
	"sources":               3,
	"sources/compose":       4,
	"sources/dockerfile":    4,
	"sources/image":         4,
	"sources/static":        4,
	"gitops":                5,
	"update":                4,
	"engine":                5,
	"agent":                 6,
	"agent/api":             7,
	"testkit/loopback":      8,
	"testkit/gitserver":     8,
	"testkit/giteatest":     8,
	"testkit/s3test":        8,
	"testkit/browsertest":   8,
	"testkit/dockertest":    8,
	"testkit/caddytest":     9,
	"testkit/agenttest":     9,
	"cmd/berth":             10,
	"cmd/berth-site":        10,
	"bench":                 10,
	"examples/ci":           10,
	"examples/hello-server": 10,
	"backup":                2,
	"tools/release":         10,
}

// TestLayers fails when a package imports one of its own layer or above,
// or has no layer yet. Test files may import anything (harnesses).
func TestLayers(t *testing.T) {
	imports := map[string]map[string]bool{}
	fset := token.NewFileSet()
	err := walkSources(func(rel, p string, src []byte) error {
		pkg := path.Dir(rel)
		f, err := parser.ParseFile(fset, p, src, parser.ImportsOnly)
		if err != nil {
			return err
		}
		if imports[pkg] == nil {
			imports[pkg] = map[string]bool{}
		}
		for _, imp := range f.Imports {
			ip, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(ip, module) {
				imports[pkg][strings.TrimPrefix(ip, module)] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(imports) < 20 {
		t.Fatalf("only %d packages found: the walk missed the module", len(imports))
	}
	pkgs := make([]string, 0, len(imports))
	for p := range imports {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, pkg := range pkgs {
		layer, ok := layers[pkg]
		if !ok {
			t.Errorf("%s has no layer: add it to layers in internal/codeshape/layers_test.go", pkg)
			continue
		}
		for imp := range imports[pkg] {
			if l, ok := layers[imp]; ok && l >= layer {
				t.Errorf("%s (layer %d) imports %s (layer %d): a package imports only lower layers", pkg, layer, imp, l)
			}
		}
	}
}
