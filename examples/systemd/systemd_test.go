//go:build unix

// Package systemd holds no code: its tests check that the systemd example
// and the build-host example it runs work as written.
package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/internal/testenv"
)

const (
	buildHostConfig = "../build-host/forgelink.yaml"
	ciBuild         = "../build-host/ci-build"
)

// TestUnitsVerify runs systemd-analyze verify on the daemon's unit and on
// a unit with the settings the build-host example gives its transient
// build units, with the programs they name replaced by ones that exist
// here.
func TestUnitsVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		testenv.Missing(t, "systemd-analyze not found", "install it (apt-get install systemd)")
	}
	dir := t.TempDir()
	unit, err := os.ReadFile("forgelink.service")
	if err != nil {
		t.Fatal(err)
	}
	units := map[string]string{
		"forgelink.service": strings.ReplaceAll(string(unit), "/usr/local/bin/forgelink", "/bin/true"),
		"build.service":     buildUnit(t),
	}
	for name, content := range units {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(analyze, "verify", "--man=no", path).CombinedOutput()
			if err != nil || len(out) > 0 {
				t.Errorf("systemd-analyze verify %s: %v\n%s\n%s", name, err, out, content)
			}
		})
	}
}

// buildUnit is the unit systemd-run makes of the build-host example's
// argv: its --uid and --property settings, ExecStart the rest.
func buildUnit(t *testing.T) string {
	argv := execCommand(t)
	lines := []string{"[Service]"}
	for i := 1; i < len(argv); i++ {
		switch a := argv[i]; {
		case a == "-E":
			i++
		case strings.HasPrefix(a, "--uid="):
			lines = append(lines, "User="+strings.TrimPrefix(a, "--uid="))
		case strings.HasPrefix(a, "--property="):
			lines = append(lines, strings.TrimPrefix(a, "--property="))
		case !strings.HasPrefix(a, "-"):
			// The program: systemd-run's options end here.
			lines = append(lines, "ExecStart=/bin/true "+strings.Join(argv[i+1:], " "))
			return strings.Join(lines, "\n") + "\n"
		}
	}
	t.Fatalf("no program in %q", argv)
	return ""
}

// execCommand is the build-host example's exec target's argv.
func execCommand(t *testing.T) []string {
	t.Helper()
	cfg, err := config.Load(buildHostConfig, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range cfg.Targets {
		if target.Exec != nil {
			return target.Exec.Command
		}
	}
	t.Fatalf("%s has no exec target", buildHostConfig)
	return nil
}

// TestBuildHostCommand checks that the build runs through systemd-run as
// the build user, waiting for it with its output, and that every
// FORGELINK_* variable ci-build reads is passed into the transient unit.
func TestBuildHostCommand(t *testing.T) {
	argv := execCommand(t)
	if argv[0] != "/usr/bin/systemd-run" || !slices.Equal(argv[len(argv)-2:], []string{"/usr/local/bin/ci-build", "--clean"}) {
		t.Fatalf("command %q: want /usr/bin/systemd-run ... /usr/local/bin/ci-build --clean", argv)
	}
	for _, opt := range []string{"--wait", "--pipe", "--uid=builder"} {
		if !slices.Contains(argv, opt) {
			t.Errorf("command %q lacks %s", argv, opt)
		}
	}
	passed := map[string]bool{}
	for i, a := range argv[:len(argv)-1] {
		if a == "-E" {
			passed[argv[i+1]] = true
		}
	}
	script, err := os.ReadFile(ciBuild)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range regexp.MustCompile(`FORGELINK_[A-Z_]+`).FindAllString(string(script), -1) {
		if !passed[name] {
			t.Errorf("ci-build reads %s, which the command does not pass (-E %s)", name, name)
		}
	}
}

// TestCIBuild runs ci-build against a local repository whose `make ci`
// says whether it builds over an earlier build's output.
func TestCIBuild(t *testing.T) {
	for _, tool := range []string{"git", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, tool+" not found", "install it (apt-get install "+tool+")")
		}
	}
	script, err := filepath.Abs(ciBuild)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	origin := filepath.Join(dir, "origin")
	env := append(os.Environ(), "HOME="+dir, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	run(t, env, "", "git", "init", "--quiet", "--initial-branch=main", origin)
	makefile := "ci:\n\t@if [ -e out ]; then echo reused; else echo fresh; fi\n\t@touch out\n"
	if err := os.WriteFile(filepath.Join(origin, "Makefile"), []byte(makefile), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, env, origin, "git", "add", "Makefile")
	run(t, env, origin, "git", "commit", "--quiet", "-m", "ci")
	commit := strings.TrimSpace(run(t, env, origin, "git", "rev-parse", "HEAD"))
	root := filepath.Join(dir, "ws")
	env = append(env, "CI_BUILD_ROOT="+root, "FORGELINK_CLONE_URL="+origin, "FORGELINK_BRANCH_NAME=main",
		"FORGELINK_COMMIT_ID="+commit, "FORGELINK_FULL_REPOSITORY_NAME=octo-org/widget",
		"FORGELINK_DELIVERY_ID=d-1", "FORGELINK_ATTEMPT=1")
	checkout := filepath.Join(root, "octo-org_widget")

	// Each step runs over what the steps before it left.
	tests := []struct {
		name         string
		args         []string
		wantOut      string
		wantCheckout bool
	}{
		{"first build", nil, "fresh", true},
		{"over the kept checkout", nil, "reused", true},
		{"--clean", []string{"--clean"}, "fresh", false},
		{"--clean again", []string{"--clean"}, "fresh", false},
	}
	for _, tt := range tests {
		out := run(t, env, dir, script, tt.args...)
		if !strings.HasSuffix(strings.TrimSpace(out), tt.wantOut) {
			t.Errorf("%s: output %q, want it to end with %q", tt.name, out, tt.wantOut)
		}
		if _, err := os.Stat(checkout); (err == nil) != tt.wantCheckout {
			t.Errorf("%s: checkout kept = %v, want %v", tt.name, err == nil, tt.wantCheckout)
		}
	}

	cmd := exec.Command(script, "--dirty")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 64 || !strings.Contains(string(out), "unknown argument --dirty") {
		t.Errorf("ci-build --dirty: %v\n%s\nwant exit status 64 and a usage message", err, out)
	}
}

func run(t *testing.T, env []string, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env, cmd.Dir = env, dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}
