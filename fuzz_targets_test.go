package caddyjwt

import (
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestEveryFuzzTargetIsFuzzedByTheTestScript: scripts/fuzz.sh lists the
// fuzz targets it runs, and scripts/test.sh runs it. A Fuzz function of any
// package missing from the list would only ever run its seed corpus; an
// entry naming a target that no longer exists would pass silently, since
// go test -fuzz fuzzes nothing when no target matches.
func TestEveryFuzzTargetIsFuzzedByTheTestScript(t *testing.T) {
	testScript, err := os.ReadFile("scripts/test.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^\./scripts/fuzz\.sh `).Match(testScript) {
		t.Error("scripts/test.sh does not run scripts/fuzz.sh")
	}
	fuzzScript, err := os.ReadFile("scripts/fuzz.sh")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, m := range regexp.MustCompile(`(?m)^\s*"(\S+) (Fuzz\w*)"$`).FindAllSubmatch(fuzzScript, -1) {
		listed = append(listed, string(m[1])+" "+string(m[2]))
	}
	found := fuzzTargetsInModule(t)
	if len(found) == 0 {
		t.Fatal("found no Fuzz functions in the module")
	}
	for _, target := range found {
		if !slices.Contains(listed, target) {
			t.Errorf("scripts/fuzz.sh does not fuzz %s: add %q to its targets", target, target)
		}
	}
	for _, target := range listed {
		if !slices.Contains(found, target) {
			t.Errorf("scripts/fuzz.sh lists %q, which is not a Fuzz function of that package", target)
		}
	}
}

// fuzzTargetsInModule finds every func FuzzX(*testing.F) in the module's
// test files, as "<package dir> <name>" with "." for the root package.
func fuzzTargetsInModule(t *testing.T) []string {
	t.Helper()
	var targets []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// The go tool ignores these directories too.
			if name := d.Name(); path != "." && (name == "testdata" || name == "node_modules" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		file, err := parser.ParseFile(gotoken.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		pkg := filepath.Dir(path)
		if pkg != "." {
			pkg = "./" + filepath.ToSlash(pkg)
		}
		for _, decl := range file.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil && isFuzzTarget(fn) {
				targets = append(targets, pkg+" "+fn.Name.Name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return targets
}

// isFuzzTarget is go test's rule: a name Fuzz followed by nothing or a
// non-lowercase letter, and one *testing.F parameter.
func isFuzzTarget(fn *ast.FuncDecl) bool {
	name, ok := strings.CutPrefix(fn.Name.Name, "Fuzz")
	if !ok || (name != "" && name[0] >= 'a' && name[0] <= 'z') {
		return false
	}
	params := fn.Type.Params.List
	if len(params) != 1 {
		return false
	}
	star, ok := params[0].Type.(*ast.StarExpr)
	if !ok {
		return false
	}
	sel, ok := star.X.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "F"
}
