package caddyjwt

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

// updateGolden rewrites the expected JSON of the adapt tests from what the
// adapter gives now: `go test -run TestCaddyfileAdapt -update .`. Read the
// diff before committing it: a changed field name is a change to every
// user's JSON config.
var updateGolden = flag.Bool("update", false, "rewrite the golden JSON of the Caddyfile adapt tests")

// adaptSeparator divides a .caddyfiletest file into the Caddyfile and the
// JSON it must adapt to, as in Caddy's own caddyfile_adapt tests.
const adaptSeparator = "\n----------\n"

// TestCaddyfileAdapt adapts each Caddyfile under testdata/caddyfile_adapt
// and compares the JSON with the one recorded beside it. Every subdirective
// is in one of them, so renaming a JSON field, or a subdirective that stops
// setting its field, fails here without building Caddy.
func TestCaddyfileAdapt(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "caddyfile_adapt", "*.caddyfiletest"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no adapt tests found (%v)", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".caddyfiletest"), func(t *testing.T) {
			content, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			caddyfileText, want, found := strings.Cut(string(content), adaptSeparator)
			if !found {
				t.Fatalf("%s has no %q line between the Caddyfile and its JSON", file, strings.TrimSpace(adaptSeparator))
			}
			got := adaptCaddyfile(t, file, caddyfileText+"\n")
			if *updateGolden {
				if err := os.WriteFile(file, []byte(caddyfileText+adaptSeparator+got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != want {
				t.Errorf("%s adapts to\n%s\nwant\n%s", file, got, want)
			}
		})
	}
}

// TestExampleCaddyfilesAdapt does the same for every example, with the
// expected JSON under testdata/caddyfile_adapt/examples/. Environment
// variables that the examples read are fixed here, so that a variable set
// on the machine that runs the test cannot change the result.
func TestExampleCaddyfilesAdapt(t *testing.T) {
	for _, name := range []string{"JWT_SECRET", "REDIS_URL", "JWKS_URL", "ISSUER", "AUDIENCE"} {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
	examples, err := filepath.Glob(filepath.Join("examples", "*", "Caddyfile"))
	if err != nil || len(examples) == 0 {
		t.Fatalf("no example Caddyfiles found (%v)", err)
	}
	for _, example := range examples {
		name := filepath.Base(filepath.Dir(example))
		t.Run(name, func(t *testing.T) {
			caddyfileText, err := os.ReadFile(example)
			if err != nil {
				t.Fatal(err)
			}
			got := adaptCaddyfile(t, example, string(caddyfileText))
			golden := filepath.Join("testdata", "caddyfile_adapt", "examples", name+".json")
			if *updateGolden {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%s has no golden JSON (run with -update to record it): %v", example, err)
			}
			if got != string(want) {
				t.Errorf("%s adapts to\n%s\nwant\n%s", example, got, want)
			}
		})
	}
}

// adaptCaddyfile adapts a Caddyfile and returns its JSON indented, with a
// final newline; an adapter warning fails the test, since a user would see
// it on every start.
func adaptCaddyfile(t *testing.T, name, caddyfileText string) string {
	t.Helper()
	adapter := caddyconfig.GetAdapter("caddyfile")
	out, warnings, err := adapter.Adapt([]byte(caddyfileText), map[string]any{"filename": name})
	if err != nil {
		t.Fatalf("adapting %s: %v", name, err)
	}
	for _, w := range warnings {
		t.Errorf("adapting %s: warning: %s", name, w.String())
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, out, "", "\t"); err != nil {
		t.Fatalf("adapting %s gave invalid JSON: %v", name, err)
	}
	return indented.String() + "\n"
}

// TestCaddyfileAdaptCoversEverySubdirective keeps the adapt tests whole: each
// subdirective listed in UnmarshalCaddyfile's grammar must appear in one of
// the .caddyfiletest files, so a new one cannot ship without its JSON shape
// being recorded.
func TestCaddyfileAdaptCoversEverySubdirective(t *testing.T) {
	source, err := os.ReadFile("caddyfile.go")
	if err != nil {
		t.Fatal(err)
	}
	grammar, _, _ := strings.Cut(string(source), "func (h *Handler) UnmarshalCaddyfile(")
	_, grammar, _ = strings.Cut(grammar, "//\tjwt [<matcher>] {\n")
	var subdirectives []string
	for line := range strings.SplitSeq(grammar, "\n") {
		fields := strings.Fields(strings.TrimPrefix(line, "//"))
		if len(fields) == 0 || fields[0] == "}" {
			break
		}
		subdirectives = append(subdirectives, fields[0])
	}
	if len(subdirectives) < 20 {
		t.Fatalf("found only %d subdirectives in UnmarshalCaddyfile's doc comment: %v", len(subdirectives), subdirectives)
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "caddyfile_adapt", "*.caddyfiletest"))
	var used strings.Builder
	for _, file := range files {
		content, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		caddyfileText, _, _ := strings.Cut(string(content), adaptSeparator)
		for line := range strings.SplitSeq(caddyfileText, "\n") {
			if fields := strings.Fields(line); len(fields) > 0 {
				used.WriteString(" " + fields[0] + " ")
			}
		}
	}
	for _, sub := range subdirectives {
		if !strings.Contains(used.String(), " "+sub+" ") {
			t.Errorf("subdirective %s is in no testdata/caddyfile_adapt/*.caddyfiletest", sub)
		}
	}
}
