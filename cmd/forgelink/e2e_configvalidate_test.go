//go:build unix

package main_test

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/forgelink/forgelink/internal/testenv"
)

// config validate refuses what serve refuses at start, beyond the file's
// own validation: here an exec target whose program does not exist.
func TestE2EConfigValidateAsServe(t *testing.T) {
	e2e(t)
	dir := t.TempDir()
	cfg := "targets:\n  - name: build\n    type: exec\n    exec:\n      command: [/no/such/ci-build, --clean]\n"
	path := filepath.Join(dir, "forgelink.yaml")
	writeFile(t, path, cfg)
	want := fmt.Sprintf("%s:%d: targets[0].exec.command: ", path, lineOf(t, cfg, "/no/such/ci-build"))

	res := runCommand(t, environ(), forgelinkBin, "config", "validate", path)
	if res.code == 0 || !strings.Contains(res.stderr, want) || !strings.Contains(res.stderr, "/no/such/ci-build") {
		t.Errorf("config validate: exit status %d, want non-zero and %q\nstdout: %s\nstderr: %s", res.code, want, res.stdout, res.stderr)
	}
	res = runCommand(t, environ(), forgelinkBin, "serve", "--config", path, "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"))
	if res.code == 0 || !strings.Contains(res.stderr, "/no/such/ci-build") {
		t.Errorf("serve: exit status %d, want a refusal naming the program\nstderr: %s", res.code, res.stderr)
	}
}

// config validate --probe asks the NATS and RabbitMQ servers whether a
// delivery has somewhere to go.
func TestE2EConfigValidateProbe(t *testing.T) {
	e2e(t)
	for _, addr := range []string{"127.0.0.1:4222", "127.0.0.1:5672"} {
		if c, err := net.DialTimeout("tcp", addr, 2*time.Second); err != nil {
			testenv.Missing(t, fmt.Sprintf("no server at %s (%v)", addr, err), "start NATS with JetStream (nats-server -js) and RabbitMQ (guest/guest)")
		} else {
			c.Close()
		}
	}
	cfg := `targets:
  - name: js
    type: nats
    nats: {url: "nats://127.0.0.1:4222", subject: forgelink.e2e.nostream}
  - name: queue
    type: amqp
    amqp: {url: "amqp://guest:guest@127.0.0.1:5672/", routingKey: forgelink-e2e-noqueue}
  - name: exchange
    type: amqp
    amqp: {url: "amqp://guest:guest@127.0.0.1:5672/", exchange: amq.direct, routingKey: ci}
`
	path := filepath.Join(t.TempDir(), "forgelink.yaml")
	writeFile(t, path, cfg)

	res := runCommand(t, environ(), forgelinkBin, "config", "validate", path)
	if res.code != 0 {
		t.Fatalf("config validate without --probe: exit status %d\nstderr: %s", res.code, res.stderr)
	}
	res = runCommand(t, environ(), forgelinkBin, "config", "validate", "--probe", path)
	if res.code == 0 {
		t.Errorf("config validate --probe: exit status 0\nstdout: %s", res.stdout)
	}
	for _, want := range []string{
		fmt.Sprintf("%s:%d: targets[0].nats.subject: target js: no JetStream stream captures subject forgelink.e2e.nostream — create one", path, lineOf(t, cfg, "forgelink.e2e.nostream")),
		fmt.Sprintf(`%s:%d: targets[1].amqp.routingKey: target queue: no queue named "forgelink-e2e-noqueue"`, path, lineOf(t, cfg, "forgelink-e2e-noqueue")),
	} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("config validate --probe: no %q in\n%s", want, res.stderr)
		}
	}
	if want := `target exchange: exchange "amq.direct" exists`; !strings.Contains(res.stdout, want) {
		t.Errorf("config validate --probe: no %q in\n%s", want, res.stdout)
	}
}
