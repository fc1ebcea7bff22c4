//go:build unix

package main_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/forgelink/forgelink/internal/testenv"
	"github.com/forgelink/forgelink/relay/notify/notifytest"
)

// The test machines run no Docker engine and reach no image registry, so
// the tests do not build the image; they check it in two halves: its layout
// from the Dockerfile's text, and the binary run as the image's user on
// directories like the image's volume.

// dfInstruction is one Dockerfile instruction, continuation lines joined.
type dfInstruction struct {
	cmd  string // upper case: FROM, RUN, COPY, ...
	args string
	line int
}

// dfStage is one FROM and the instructions under it.
type dfStage struct {
	name   string // the AS name, if any
	instrs []dfInstruction
}

func parseDockerfile(text string) []dfStage {
	var stages []dfStage
	var pending string
	start := 0
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "#") || line == "" && pending == "" {
			continue
		}
		if pending == "" {
			start = i + 1
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			pending += cont + " "
			continue
		}
		cmd, args, _ := strings.Cut(strings.Join(strings.Fields(pending+line), " "), " ")
		pending = ""
		in := dfInstruction{cmd: strings.ToUpper(cmd), args: args, line: start}
		if in.cmd == "FROM" {
			f := strings.Fields(args)
			st := dfStage{}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
		}
		if len(stages) > 0 {
			stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
		}
	}
	return stages
}

// splitFlags separates an instruction's leading --name=value options.
func splitFlags(args string) (map[string]string, []string) {
	flags := map[string]string{}
	f := strings.Fields(args)
	for len(f) > 0 && strings.HasPrefix(f[0], "--") {
		k, v, _ := strings.Cut(strings.TrimPrefix(f[0], "--"), "=")
		flags[k] = v
		f = f[1:]
	}
	return flags, f
}

// last returns the last instruction cmd of a stage and its index, or -1.
func (s dfStage) last(cmd string) (dfInstruction, int) {
	for i := len(s.instrs) - 1; i >= 0; i-- {
		if s.instrs[i].cmd == cmd {
			return s.instrs[i], i
		}
	}
	return dfInstruction{}, -1
}

func (s dfStage) env(key string) string {
	for _, in := range s.instrs {
		if in.cmd != "ENV" {
			continue
		}
		for _, kv := range strings.Fields(in.args) {
			if k, v, ok := strings.Cut(kv, "="); ok && k == key {
				return v
			}
		}
	}
	return ""
}

func stageNamed(stages []dfStage, name string) (dfStage, bool) {
	for _, s := range stages {
		if s.name == name {
			return s, true
		}
	}
	return dfStage{}, false
}

// execForm decodes a JSON-array (exec form) argument list.
func execForm(args string) ([]string, error) {
	var argv []string
	if err := json.Unmarshal([]byte(args), &argv); err != nil || len(argv) == 0 {
		return nil, fmt.Errorf("%q is not an exec-form JSON array", args)
	}
	return argv, nil
}

// readmeBuild matches the build command README documents.
var readmeBuild = regexp.MustCompile("`(CGO_ENABLED=0 go build[^`]*)`")

// checkDockerfile returns every way the Dockerfile departs from an image
// that runs as written.
func checkDockerfile(dockerfile, readme string) []error {
	stages := parseDockerfile(dockerfile)
	if len(stages) < 2 {
		return []error{errors.New("want a multi-stage build (a build stage and the image)")}
	}
	final := stages[len(stages)-1]
	var errs []error
	for _, check := range []func([]dfStage, dfStage, string) error{checkUser, checkDataDir, checkHealthcheck, checkBuildCommand} {
		if err := check(stages, final, readme); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// checkUser: the image runs as a numeric, non-root uid (numeric so that
// runAsNonRoot-style checks can verify it without a passwd file).
func checkUser(_ []dfStage, final dfStage, _ string) error {
	user, _ := final.last("USER")
	uid, _, _ := strings.Cut(user.args, ":")
	switch n, err := strconv.Atoi(uid); {
	case err != nil:
		return fmt.Errorf("final stage USER %q: want a numeric uid[:gid]", user.args)
	case n == 0:
		return errors.New("final stage USER is root")
	}
	return nil
}

// checkDataDir: the data directory is COPY'd from a build stage, owned by
// the image's user, before VOLUME declares it (a fresh named volume copies
// owner and mode from the image), and made 0700 in that build stage.
func checkDataDir(stages []dfStage, final dfStage, _ string) error {
	dataDir := final.env("FORGELINK_DATA_DIR")
	if dataDir == "" {
		return errors.New("final stage sets no FORGELINK_DATA_DIR")
	}
	volAt := slices.IndexFunc(final.instrs, func(in dfInstruction) bool {
		return in.cmd == "VOLUME" && (strings.Contains(in.args, `"`+dataDir+`"`) || slices.Contains(strings.Fields(in.args), dataDir))
	})
	if volAt < 0 {
		return fmt.Errorf("no VOLUME declares %s", dataDir)
	}
	user, _ := final.last("USER")
	for _, in := range final.instrs[:volAt] {
		flags, paths := splitFlags(in.args)
		if in.cmd != "COPY" || len(paths) != 2 || flags["from"] == "" {
			continue
		}
		src, dst := paths[0], paths[1]
		rel, ok := strings.CutPrefix(dataDir, strings.TrimSuffix(dst, "/"))
		if !ok || rel != "" && !strings.HasPrefix(rel, "/") {
			continue
		}
		if flags["chown"] != user.args {
			return fmt.Errorf("line %d: %s is copied with --chown=%s; want --chown=%s, the image's USER", in.line, dataDir, flags["chown"], user.args)
		}
		if rel == "" {
			// A copied directory's own mode is not kept: only its children's.
			return fmt.Errorf("line %d: copy %s's parent so that its 0700 mode survives", in.line, dataDir)
		}
		build, ok := stageNamed(stages, flags["from"])
		if !ok {
			return fmt.Errorf("line %d: no build stage %q", in.line, flags["from"])
		}
		return madePrivate(build, path.Join(src, rel))
	}
	return fmt.Errorf("no COPY --from=<stage> before VOLUME creates %s", dataDir)
}

// madePrivate: a RUN of the stage creates dir with mode 0700.
func madePrivate(s dfStage, dir string) error {
	for _, in := range s.instrs {
		f := strings.Fields(in.args)
		if in.cmd == "RUN" && slices.Contains(f, dir) && (strings.Contains(in.args, "-m 0700") || strings.Contains(in.args, "-m 700")) {
			return nil
		}
	}
	return fmt.Errorf("build stage %q does not create %s with -m 0700", s.name, dir)
}

// checkHealthcheck: HEALTHCHECK runs the image's own binary, which is
// copied to where ENTRYPOINT runs it, with the healthcheck subcommand.
func checkHealthcheck(_ []dfStage, final dfStage, _ string) error {
	entry, _ := final.last("ENTRYPOINT")
	ep, err := execForm(entry.args)
	if err != nil {
		return fmt.Errorf("ENTRYPOINT: %w", err)
	}
	hc, at := final.last("HEALTHCHECK")
	if at < 0 {
		return errors.New("no HEALTHCHECK")
	}
	_, rest := splitFlags(hc.args)
	if len(rest) == 0 || rest[0] != "CMD" {
		return fmt.Errorf("HEALTHCHECK %q: want CMD [...]", hc.args)
	}
	argv, err := execForm(strings.Join(rest[1:], " "))
	if err != nil {
		return fmt.Errorf("HEALTHCHECK: %w", err)
	}
	if len(argv) < 2 || argv[0] != ep[0] || argv[1] != "healthcheck" {
		return fmt.Errorf("HEALTHCHECK runs %q; want [%q \"healthcheck\" ...]", argv, ep[0])
	}
	for _, in := range final.instrs {
		if _, paths := splitFlags(in.args); in.cmd == "COPY" && len(paths) == 2 && paths[1] == ep[0] {
			return nil
		}
	}
	return fmt.Errorf("nothing is copied to the ENTRYPOINT %s", ep[0])
}

// checkBuildCommand: the binary is built with the command README gives.
func checkBuildCommand(stages []dfStage, _ dfStage, readme string) error {
	docs := readmeBuild.FindAllStringSubmatch(readme, -1)
	if len(docs) == 0 {
		return errors.New("README documents no `CGO_ENABLED=0 go build ...` command")
	}
	for _, s := range stages[:len(stages)-1] {
		for _, in := range s.instrs {
			if in.cmd != "RUN" || !strings.Contains(in.args, "CGO_ENABLED=0 go build") {
				continue
			}
			for _, d := range docs {
				if in.args != d[1] {
					return fmt.Errorf("line %d builds with %q; README documents %q", in.line, in.args, d[1])
				}
			}
			return nil
		}
	}
	return errors.New("no build stage RUNs CGO_ENABLED=0 go build")
}

func TestDockerfile(t *testing.T) {
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("as written", func(t *testing.T) {
		for _, err := range checkDockerfile(string(dockerfile), string(readme)) {
			t.Errorf("Dockerfile: %v", err)
		}
	})
	// Each edit reintroduces a way an image fails to run; the checks must
	// notice every one.
	const volume = `VOLUME ["/var/lib/forgelink"]`
	for _, tc := range []struct{ name, old, new, want string }{
		{"root user", "USER 65532:65532", "USER 0", "root"},
		{"named user", "USER 65532:65532", "USER nonroot", "numeric"},
		{"no volume", volume, "", "no VOLUME"},
		{"volume before the data dir", "COPY --from=build --chown", volume + "\nCOPY --from=build --chown", "no COPY"},
		{"data dir not chowned", "--chown=65532:65532 /out/var/lib/", "/out/var/lib/", "--chown"},
		{"data dir copied itself", "/out/var/lib/ /var/lib/", "/out/var/lib/forgelink /var/lib/forgelink", "parent"},
		{"data dir mode", "-m 0700", "-m 0755", "0700"},
		{"healthcheck by curl", `"healthcheck"]`, `"curl"]`, "HEALTHCHECK runs"},
		{"build differs from README", "-trimpath -o", "-o", "README documents"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(dockerfile), tc.old) {
				t.Fatalf("the Dockerfile no longer contains %q; update the test", tc.old)
			}
			broken := strings.Replace(string(dockerfile), tc.old, tc.new, 1)
			errs := checkDockerfile(broken, string(readme))
			if joined := errors.Join(errs...); joined == nil || !strings.Contains(joined.Error(), tc.want) {
				t.Errorf("checks of the Dockerfile with %q for %q: %v; want an error about %q", tc.new, tc.old, joined, tc.want)
			}
		})
	}
}

// TestE2EHealthcheck runs the healthcheck subcommand against a daemon
// started as the image starts it (root credentials set).
func TestE2EHealthcheck(t *testing.T) {
	e2e(t)
	d := startDaemon(t, daemonOptions{})
	addr := strings.TrimPrefix(d.url, "http://")
	closed := notifytest.ClosedAddr(t)
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
		want string // on stderr
	}{
		{"url", nil, []string{"--url", d.url + "/readyz"}, 0, ""},
		{"from FORGELINK_LISTEN", []string{"FORGELINK_LISTEN=" + addr}, nil, 0, ""},
		{"closed port", nil, []string{"--url", "http://" + closed + "/readyz"}, 1, "connection refused"},
		{"closed port from FORGELINK_LISTEN", []string{"FORGELINK_LISTEN=" + closed}, nil, 1, closed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runCommand(t, environ(tc.env...), forgelinkBin, append([]string{"healthcheck"}, tc.args...)...)
			if res.code != tc.code {
				t.Fatalf("exit status %d, want %d\nstdout: %s\nstderr: %s", res.code, tc.code, res.stdout, res.stderr)
			}
			if tc.code != 0 && (strings.Count(res.stderr, "\n") != 1 || !strings.Contains(res.stderr, tc.want)) {
				t.Errorf("stderr %q: want one line that says %q", res.stderr, tc.want)
			}
		})
	}
}

// The image's user (distroless "nonroot").
const imageUID, imageGID = 65532, 65532

// TestE2EImageUser runs the binary as the image's user on a data directory
// like the image's volume: owned by that user with mode 0700 it starts and
// is ready; root-owned (the old image's VOLUME) it stops with a message
// naming the directory.
func TestE2EImageUser(t *testing.T) {
	e2e(t)
	if os.Geteuid() != 0 {
		testenv.Missing(t, fmt.Sprintf("running the binary as uid %d (the image's user) needs root", imageUID), "run the tests as root")
	}
	// The harness's binary sits in a directory only root may enter.
	dir := publicTempDir(t)
	bin := filepath.Join(dir, "forgelink")
	copyFile(t, forgelinkBin, bin, 0o755)

	t.Run("owned by the image's user", func(t *testing.T) {
		dataDir := filepath.Join(dir, "owned")
		mkdirOwned(t, dataDir, imageUID, imageGID, 0o700)
		d, ready := startAsImageUser(t, bin, dataDir)
		if !ready {
			t.Fatalf("forgelink as uid %d did not start on a 0700 data directory it owns: %v\n%s", imageUID, d.waitErr, d.out.String())
		}
		resp, err := http.Get(d.url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET /readyz: %s, want 200", resp.Status)
		}
		if fi, err := os.Stat(filepath.Join(dataDir, "master.key")); err != nil || fi.Sys().(*syscall.Stat_t).Uid != imageUID {
			t.Errorf("master.key: %v; want a key owned by uid %d", err, imageUID)
		}
	})
	t.Run("root-owned", func(t *testing.T) {
		dataDir := filepath.Join(dir, "rootowned")
		mkdirOwned(t, dataDir, 0, 0, 0o755)
		d, ready := startAsImageUser(t, bin, dataDir)
		if ready {
			t.Fatalf("forgelink as uid %d started on a root-owned data directory", imageUID)
		}
		var exitErr *exec.ExitError
		if !errors.As(d.waitErr, &exitErr) || exitErr.ExitCode() != 1 {
			t.Errorf("exit: %v, want status 1", d.waitErr)
		}
		if out := d.out.String(); !strings.Contains(out, "forgelink serve: ") || !strings.Contains(out, dataDir) || !strings.Contains(out, "permission denied") {
			t.Errorf("the failure does not name the data directory %s and say why:\n%s", dataDir, out)
		}
	})
}

// publicTempDir is a temporary directory other users may enter (t.TempDir
// is 0700 and root's).
func publicTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "forgelink-image-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func mkdirOwned(t *testing.T, dir string, uid, gid int, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// startAsImageUser starts bin serve as uid 65532 with root credentials and
// reports whether it became ready; if not, it has exited (d.waitErr, d.out).
// A daemon still running at the end of the test is stopped and checked.
func startAsImageUser(t *testing.T, bin, dataDir string) (*daemon, bool) {
	t.Helper()
	d := &daemon{dataDir: dataDir, exited: make(chan struct{}),
		cmd: exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir)}
	d.cmd.Env = environ(append(rootEnv(), "FORGELINK_LOG_FORMAT=json")...)
	d.cmd.Dir = filepath.Dir(dataDir)
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: imageUID, Gid: imageGID}}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	d.cmd.Stdout, d.cmd.Stderr = w, w
	err = d.cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		t.Fatalf("start forgelink as uid %d: %v", imageUID, err)
	}
	ready := make(chan string, 1)
	go d.consume(r, ready)
	t.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			d.stop(t)
		}
	})
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case addr := <-ready:
		d.url = "http://" + addr
		return d, true
	case <-d.exited:
		return d, false
	case <-timer.C:
		d.kill()
		t.Fatalf("forgelink as uid %d neither became ready nor exited within %v:\n%s", imageUID, startTimeout, d.out.String())
		return nil, false
	}
}
