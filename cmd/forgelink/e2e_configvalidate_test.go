//go:build unix

package main_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/forgelink/forgelink/internal/testenv"
	"github.com/forgelink/forgelink/store"
)

// config validate refuses what serve refuses at start, beyond the file's
// own validation: here an exec target whose program does not exist.
func TestE2EConfigValidateAsServe(t *testing.T) {
	e2e(t)
	dir := t.TempDir()
	cfg := "targets:\n  - name: build\n    type: exec\n    exec:\n      command: [/no/such/ci-build, --clean]\n" +
		"  - name: pigeon\n    type: carrier-pigeon\n"
	path := filepath.Join(dir, "forgelink.yaml")
	writeFile(t, path, cfg)

	// Validation's problems and serve's come at once.
	res := runCommand(t, environ(), forgelinkBin, "config", "validate", path)
	for _, want := range []string{
		fmt.Sprintf(`%s:%d: targets[0].exec.command: command: exec: "/no/such/ci-build": `, path, lineOf(t, cfg, "/no/such/ci-build")),
		fmt.Sprintf("%s:%d: targets[1].type: ", path, lineOf(t, cfg, "carrier-pigeon")),
	} {
		if res.code == 0 || !strings.Contains(res.stderr, want) {
			t.Errorf("config validate: exit status %d, want non-zero and %q\nstdout: %s\nstderr: %s", res.code, want, res.stdout, res.stderr)
		}
	}
	cfg = cfg[:strings.Index(cfg, "  - name: pigeon")]
	writeFile(t, path, cfg)
	res = runCommand(t, environ(), forgelinkBin, "serve", "--config", path, "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"))
	if res.code == 0 || !strings.Contains(res.stderr, "/no/such/ci-build") {
		t.Errorf("serve: exit status %d, want a refusal naming the program\nstderr: %s", res.code, res.stderr)
	}
}

// needServers skips (fails under CI) without the NATS and RabbitMQ
// servers of development and CI machines.
func needServers(t *testing.T, addrs ...string) {
	t.Helper()
	for _, addr := range addrs {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			testenv.Missing(t, fmt.Sprintf("no server at %s (%v)", addr, err), "start NATS with JetStream (nats-server -js) and RabbitMQ (guest/guest)")
		}
		c.Close()
	}
}

// config validate --probe asks the NATS and RabbitMQ servers whether a
// delivery has somewhere to go.
func TestE2EConfigValidateProbe(t *testing.T) {
	e2e(t)
	needServers(t, "127.0.0.1:4222", "127.0.0.1:5672")
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

// A delivery to a subject no stream captures is retried, with the fix in
// its last error, and delivered once the operator has created the stream.
func TestE2ENoStreamRetried(t *testing.T) {
	e2e(t)
	needServers(t, "127.0.0.1:4222")
	subject := "forgelink.e2e.later." + uuid.NewString()
	cfgDir := t.TempDir()
	gh := fakeGitHub(t)
	d, cfgPath, base := startWithGitHubAPI(t, cfgDir, gh.URL)
	cli := cliFor(t, d)
	conn := newHookConn(t, cli, "nostream", store.ProviderGitHub)
	writeFile(t, cfgPath, base+fmt.Sprintf(`targets:
  - name: js
    type: nats
    nats: {url: "nats://127.0.0.1:4222", subject: %s}
    retry: {initialInterval: 100ms, maxInterval: 300ms, maxAttempts: 1000}
pipelines:
  - {name: queued, connectionArn: %s, repository: octo-org/widget, target: js}
`, subject, conn.arn))
	d.hup(t)
	cli.waitPipelines(t, []pipelineInfo{{"queued", conn.arn, "octo-org/widget", "QUEUED", "js"}})
	cli.complete(t, conn)
	want := "no JetStream stream captures subject " + subject + " — create one (nats stream add --subjects " + subject + ")"
	ev := pushTo(t, http.DefaultClient, d, conn, pushEvent{"refs/heads/main", "octo-org/widget", randomCommit(), []string{"main.go"}}, http.StatusAccepted, "accepted")

	waitFor(t, "the reload's warning that the target has no stream", 10*time.Second, func() (bool, string) {
		for _, e := range d.logEntries("target cannot take deliveries now; they will queue and retry") {
			if p, _ := e["problem"].(string); strings.Contains(p, "targets[0].nats.subject: target js: "+want) {
				return true, ""
			}
		}
		return false, "no such log line"
	})
	waitFor(t, "the delivery retried with the reason", 20*time.Second, func() (bool, string) {
		ds := cli.deliveries(t, "--event-id", ev.EventID)
		return len(ds) == 1 && ds[0].State == store.DeliveryPending && ds[0].Attempts >= 2 && strings.Contains(ds[0].LastError, want), fmt.Sprintf("%+v", ds)
	})

	nc, err := natsgo.Connect("nats://127.0.0.1:4222")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	name := "forgelink-e2e-" + uuid.NewString()
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: name, Subjects: []string{subject}, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), name) })
	waitFor(t, "the delivery succeeds once the stream exists", 20*time.Second, func() (bool, string) {
		ds := cli.deliveries(t, "--event-id", ev.EventID)
		return len(ds) == 1 && ds[0].State == store.DeliverySucceeded, fmt.Sprintf("%+v", ds)
	})
}
