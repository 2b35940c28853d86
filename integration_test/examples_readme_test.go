package integration_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestExampleReadmeStepsLeaveTheCheckoutClean runs the shell steps of every
// example's README, as written, in a clean copy of the repository, and
// checks what a user following them ends up with:
//
//   - every step runs from the example's own directory and succeeds, with
//     `caddy run` replaced by `caddy validate` (which loads the keys the
//     steps made, without serving on the example's fixed ports); steps that
//     need a running server (curl, redis-cli, background servers, revoking
//     in Redis) are left out;
//   - `git status` stays clean: whatever the steps generate (keys, secrets,
//     jwks.json) is ignored by git, and lies in the example's own directory;
//   - an example whose own generated key is gone does not validate with
//     another example's key: nothing is shared between the directories.
func TestExampleReadmeStepsLeaveTheCheckoutClean(t *testing.T) {
	t.Parallel()
	requireCaddy(t)
	requireTools(t, "git", "bash", "openssl")
	repo := cleanCopyOfRepository(t)

	names := exampleNames(t)
	for _, name := range names {
		readme, err := os.ReadFile(filepath.Join(repo, "examples", name, "README.md"))
		if err != nil {
			t.Fatal(err)
		}
		steps, validated := runnableSteps(t, name, string(readme))
		if !validated {
			t.Errorf("examples/%s/README.md: no `caddy run` step in a sh block", name)
		}
		script := "set -euo pipefail\ncd examples/" + name + "\n" + strings.Join(steps, "\n") + "\n"
		if out, err := shellIn(t, repo, script); err != nil {
			t.Errorf("examples/%s/README.md steps failed: %v\nsteps:\n%s\noutput:\n%s", name, err, strings.Join(steps, "\n"), lastLines(out, 20))
		}
	}

	// The README's own Quick start runs from the repository root.
	readme, err := os.ReadFile(filepath.Join(repo, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, quickstart, _ := strings.Cut(string(readme), "\n## Quick start\n")
	quickstart, _, _ = strings.Cut(quickstart, "\n## ")
	steps, _ := runnableSteps(t, "", quickstart)
	if len(steps) == 0 {
		t.Error("README.md's Quick start has no steps to run")
	}
	if out, err := shellIn(t, repo, "set -euo pipefail\n"+strings.Join(steps, "\n")+"\n"); err != nil {
		t.Errorf("README.md Quick start steps failed: %v\nsteps:\n%s\noutput:\n%s", err, strings.Join(steps, "\n"), lastLines(out, 20))
	}

	if status := gitIn(t, repo, "status", "--porcelain"); status != "" {
		t.Errorf("after the examples' README steps, git status shows files a user could commit:\n%s", status)
	}
	for _, line := range strings.Split(gitIn(t, repo, "status", "--porcelain", "--ignored"), "\n") {
		path, ignored := strings.CutPrefix(line, "!! ")
		if ignored && !regexp.MustCompile(`^examples/[^/]+/`).MatchString(path) {
			t.Errorf("a README step wrote %s, outside the example's own directory", path)
		}
	}

	// With every other example's files in place, an example that reads a
	// key file and lost its own must fail to load, not find another's.
	for _, name := range names {
		caddyfile, err := os.ReadFile(filepath.Join(repo, "examples", name, "Caddyfile"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(caddyfile), ".pem") {
			continue
		}
		gitIn(t, repo, "clean", "-X", "--force", "--quiet", "--", "examples/"+name)
		res := runCaddyCommand(t, []string{"validate"}, inDir(filepath.Join(repo, "examples", name)))
		if res.ExitCode == 0 || !strings.Contains(res.Output(), "public.pem") {
			t.Errorf("examples/%s without its own key: validate exit %d, want a failure naming public.pem\n%s", name, res.ExitCode, lastLines(res.Output(), 3))
		}
	}
}

// TestExamplesThatCanRunSideBySideUseTheirOwnPorts: no two examples listen
// on the same port, so that a user can run them all at once.
func TestExamplesThatCanRunSideBySideUseTheirOwnPorts(t *testing.T) {
	t.Parallel()
	listen := regexp.MustCompile(`(?m)^http://localhost:(\d+) \{|--listen 127\.0\.0\.1:(\d+)`)
	owner := map[string]string{}
	for _, name := range exampleNames(t) {
		for _, file := range []string{"Caddyfile", "README.md"} {
			data, err := os.ReadFile(filepath.Join(repoRoot, "examples", name, file))
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range listen.FindAllStringSubmatch(string(data), -1) {
				port := m[1] + m[2]
				if other, taken := owner[port]; taken && other != name {
					t.Errorf("examples/%s and examples/%s both listen on port %s", other, name, port)
				}
				owner[port] = name
			}
		}
	}
	if len(owner) < 5 {
		t.Fatalf("found %d listening ports in the examples (%v), want at least one per example", len(owner), owner)
	}
}

// exampleNames are the examples' directory names, sorted.
func exampleNames(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, dir := range exampleDirs(t) {
		names = append(names, filepath.Base(dir))
	}
	sort.Strings(names)
	return names
}

// runnableSteps are the commands of a README's sh blocks that can run
// without a server, continuation lines joined, with the repository's Caddy
// replaced by the binary under test and `caddy run` by `caddy validate`.
// validated reports whether there was a `caddy run` step. name is the
// example, whose steps must all run from its directory; "" for the
// top-level README.
func runnableSteps(t *testing.T, name, readme string) (steps []string, validated bool) {
	t.Helper()
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(readme, -1) {
		for _, step := range strings.Split(strings.ReplaceAll(block[1], "\\\n", " "), "\n") {
			step = strings.TrimSpace(step)
			if name != "" && (strings.Contains(step, "examples/") || strings.HasPrefix(step, "cd ")) {
				t.Errorf("examples/%s/README.md: step %q does not run from the example's directory", name, step)
			}
			switch {
			case step == "", strings.HasPrefix(step, "#"):
				continue
			case strings.HasPrefix(step, "curl "), strings.HasPrefix(step, "redis-cli "),
				strings.HasSuffix(step, "&"), strings.Contains(step, "--store redis"),
				strings.HasPrefix(step, "make "):
				continue // needs a running server, or is the whole test suite
			}
			step = strings.ReplaceAll(step, "go run ../../cmd/caddy", `"$CADDY_BIN"`)
			step = strings.ReplaceAll(step, "go run ./cmd/caddy", `"$CADDY_BIN"`)
			if run := regexp.MustCompile(`"\$CADDY_BIN" run\b`); run.MatchString(step) {
				step = run.ReplaceAllString(step, `"$$CADDY_BIN" validate`)
				validated = true
			}
			steps = append(steps, step)
		}
	}
	return steps, validated
}

// cleanCopyOfRepository copies the files git would check out (the tracked
// ones and new ones not ignored, as they are in the working tree) into a
// new repository with them committed: a fresh clone of the work in
// progress, without the ignored files of this checkout.
func cleanCopyOfRepository(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	files := gitIn(t, repoRoot, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	for _, rel := range strings.Split(strings.TrimRight(files, "\x00"), "\x00") {
		src := filepath.Join(repoRoot, rel)
		info, err := os.Lstat(src)
		if err != nil || !info.Mode().IsRegular() {
			continue // deleted in the working tree, or a symlink
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, rel), data, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	gitIn(t, dst, "init", "--quiet")
	gitIn(t, dst, "add", "--all")
	gitIn(t, dst, "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "--quiet", "--message", "clean copy")
	return dst
}

// gitIn runs git in dir and returns its output; the test fails if git does.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(caddyEnv(t.TempDir()), "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if exit, ok := err.(*exec.ExitError); ok {
			stderr = string(exit.Stderr)
		}
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

// shellIn runs a bash script in dir with the Caddy under test as
// $CADDY_BIN and a home of its own.
func shellIn(t *testing.T, dir, script string) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(caddyEnv(t.TempDir()), "CADDY_BIN="+caddyBin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// requireTools skips the test when a command it runs is missing, except in
// CI, where that would silently drop the test.
func requireTools(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			if inCI() {
				t.Fatalf("%s not found: %v", name, err)
			}
			t.Skipf("%s not found (%v): install it to run this test", name, err)
		}
	}
}
