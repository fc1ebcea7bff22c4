package main_test

// Two daemons on one PostgreSQL database, as replicas behind a load
// balancer: what one records the other serves, and pushes taken by either
// are delivered once.

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/forgelink/forgelink/internal/testenv"
	"github.com/forgelink/forgelink/store"
)

// postgresDSN is the test server, as the store's own tests find it.
func postgresDSN() string {
	if dsn := os.Getenv("FORGELINK_TEST_POSTGRES_DSN"); dsn != "" {
		return dsn
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// postgresSchema creates an empty schema for the test, dropped at its end,
// and returns a DSN whose connections use it.
func postgresSchema(t *testing.T) string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), postgresDSN())
	if err != nil {
		testenv.Missing(t, fmt.Sprintf("PostgreSQL not reachable (%v)", err),
			"start it on 127.0.0.1:5432 with a database test, or set FORGELINK_TEST_POSTGRES_DSN")
	}
	defer conn.Close(t.Context())
	schema := fmt.Sprintf("e2e_%x", randomBytes(6))
	if _, err := conn.Exec(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(t.Context(), postgresDSN())
		if err != nil {
			return
		}
		defer conn.Close(t.Context())
		conn.Exec(t.Context(), "DROP SCHEMA "+schema+" CASCADE")
	})
	return postgresDSN() + "&search_path=" + schema
}

// postgresEnv configures daemons to share a fresh schema and a master
// key, as replicas must.
func postgresEnv(t *testing.T) []string {
	t.Helper()
	dsn := postgresSchema(t)
	keyFile := filepath.Join(t.TempDir(), "master.key")
	writeFile(t, keyFile, base64.StdEncoding.EncodeToString(randomBytes(32))+"\n")
	return []string{"FORGELINK_STORE_DRIVER=postgres", "FORGELINK_STORE_DSN=" + dsn, "FORGELINK_MASTER_KEY_FILE=" + keyFile}
}

func TestE2EReplicasOnPostgres(t *testing.T) {
	e2e(t)
	dir := t.TempDir()
	secret := newSigningSecret(t, dir, "signing-secret")
	rc := newReceiver(t, secret, nil)
	gh := fakeGitHub(t)
	cfgPath := filepath.Join(dir, "forgelink.yaml")
	base := fmt.Sprintf("providers:\n  githubAPIURL: %s/\n", gh.URL)
	writeFile(t, cfgPath, base)
	env := append(postgresEnv(t), "FORGELINK_CONFIG="+cfgPath)
	a := startDaemon(t, daemonOptions{env: env})
	b := startDaemon(t, daemonOptions{env: env})

	// Created through one, completed through the other.
	conn := newHookConn(t, cliFor(t, a), "replicated", store.ProviderGitHub)
	cliFor(t, b).complete(t, conn)
	writeFile(t, cfgPath, base+fmt.Sprintf(`targets:
  - name: ci
    type: http
    http: {url: %s/ci, secretFile: signing-secret, timeout: 2s}
pipelines:
  - name: app
    connectionArn: %s
    repository: octo-org/widget
    executionMode: PARALLEL
    target: ci
    triggers:
      push:
        - branches: {includes: [main]}
`, rc.URL, conn.arn))
	a.hup(t)
	b.hup(t)
	for _, d := range []*daemon{a, b} {
		cliFor(t, d).waitPipelines(t, []pipelineInfo{{"app", conn.arn, "octo-org/widget", "PARALLEL", "ci"}})
	}

	// Pushes alternate between the replicas; each is delivered once.
	client := newHookClient(t)
	const pushes = 40
	events := map[string]bool{}
	for i := range pushes {
		d := []*daemon{a, b}[i%2]
		p := pushEvent{"refs/heads/main", "octo-org/widget", randomCommit(), []string{fmt.Sprintf("src/%d.go", i)}}
		events[pushTo(t, client, d, conn, p, http.StatusAccepted, "accepted").EventID] = true
	}
	waitFor(t, "every push delivered", 30*time.Second, func() (bool, string) {
		return len(rc.got()) >= pushes, fmt.Sprintf("%d of %d received", len(rc.got()), pushes)
	})
	seen := map[string]int{}
	for _, r := range rc.got() {
		seen[r.msg.EventID]++
	}
	for id := range events {
		if seen[id] != 1 {
			t.Errorf("event %s received %d times, want once", id, seen[id])
		}
	}
	if len(seen) != pushes {
		t.Errorf("receiver got %d distinct events, want %d", len(seen), pushes)
	}
	rc.check(t)

	// Either replica lists every delivery, all succeeded.
	listed := cliFor(t, b).deliveries(t)
	succeeded := 0
	for _, dl := range listed {
		if dl.State == store.DeliverySucceeded {
			succeeded++
		}
	}
	if succeeded != pushes {
		t.Errorf("replica b lists %d succeeded deliveries of %d, want %d", succeeded, len(listed), pushes)
	}
}
