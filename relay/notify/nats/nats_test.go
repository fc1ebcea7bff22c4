package nats

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/forgelink/forgelink/relay/notify/notifytest"

	"github.com/google/uuid"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/internal/testenv"
	"github.com/forgelink/forgelink/relay/notify"
)

// The NATS server with JetStream that development and CI machines run.
const (
	serverAddr = "127.0.0.1:4222"
	serverURL  = "nats://" + serverAddr
)

// connectServer connects to the real server: the test fails without one in
// CI, where .ci/run starts it, and is skipped elsewhere.
func connectServer(t *testing.T) jetstream.JetStream {
	t.Helper()
	nc, err := natsgo.Connect(serverURL, natsgo.Timeout(2*time.Second))
	if err != nil {
		testenv.Missing(t, fmt.Sprintf("NATS not reachable at %s (%v)", serverAddr, err),
			"start it with JetStream (nats-server -js -a 127.0.0.1 -p 4222)")
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// newStream creates a stream capturing a subject of its own, deleted when
// the test ends.
func newStream(t *testing.T, js jetstream.JetStream) (jetstream.Stream, string) {
	t.Helper()
	id := uuid.NewString()
	subject := "forgelink.test." + id
	s, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "forgelink-test-" + id, Subjects: []string{subject}, Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, s.CachedInfo().Config.Name); err != nil {
			t.Errorf("delete stream: %v", err)
		}
	})
	return s, subject
}

func newNotifier(t *testing.T, cfg config.NATSTarget) *Notifier {
	t.Helper()
	n, err := New(t.Context(), cfg, Options{Name: "forgelink-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	})
	return n
}

func TestNotifyPublishes(t *testing.T) {
	js := connectServer(t)
	stream, subject := newStream(t, js)
	n := newNotifier(t, config.NATSTarget{URL: serverURL, Subject: subject, Timeout: 5 * time.Second})

	m := notifytest.Message(uuid.NewString())
	res := n.Notify(t.Context(), m)
	if res.Err != nil {
		t.Fatalf("Notify: %v", res.Err)
	}
	if want := fmt.Sprintf("stream %s sequence 1", stream.CachedInfo().Config.Name); res.Output != want {
		t.Errorf("Output = %q, want %q", res.Output, want)
	}
	got, err := stream.GetMsg(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Data) != string(m.JSON()) {
		t.Errorf("body = %s, want %s", got.Data, m.JSON())
	}
	for name, want := range map[string]string{
		jetstream.MsgIDHeader:   m.DeliveryID,
		notify.HeaderDeliveryID: m.DeliveryID,
		notify.HeaderPipeline:   "build",
		notify.HeaderEventKind:  "push",
	} {
		if v := got.Header.Get(name); v != want {
			t.Errorf("header %s = %q, want %q", name, v, want)
		}
	}
}

func TestNotifyDeduplicates(t *testing.T) {
	js := connectServer(t)
	stream, subject := newStream(t, js)
	n := newNotifier(t, config.NATSTarget{URL: serverURL, Subject: subject, Timeout: 5 * time.Second})

	m := notifytest.Message(uuid.NewString())
	if res := n.Notify(t.Context(), m); res.Err != nil {
		t.Fatalf("first attempt: %v", res.Err)
	}
	m.Attempt = 2
	res := n.Notify(t.Context(), m)
	if res.Err != nil {
		t.Fatalf("second attempt: %v", res.Err)
	}
	if !strings.HasSuffix(res.Output, "(duplicate)") {
		t.Errorf("second attempt Output = %q, want a duplicate", res.Output)
	}
	info, err := stream.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("stream holds %d messages, want 1", info.State.Msgs)
	}
}

func TestNotifyConcurrently(t *testing.T) {
	js := connectServer(t)
	stream, subject := newStream(t, js)
	n := newNotifier(t, config.NATSTarget{URL: serverURL, Subject: subject, Timeout: 5 * time.Second})

	const count = 32
	var wg sync.WaitGroup
	for range count {
		wg.Go(func() {
			if res := n.Notify(t.Context(), notifytest.Message(uuid.NewString())); res.Err != nil {
				t.Error(res.Err)
			}
		})
	}
	wg.Wait()
	info, err := stream.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != count {
		t.Errorf("stream holds %d messages, want %d", info.State.Msgs, count)
	}
}

func TestNotifyFails(t *testing.T) {
	js := connectServer(t)
	nc := js.Conn()
	// A core subscriber that never answers: a publish to its subject has a
	// responder but no acknowledgement ever comes.
	silent := "forgelink.test.silent." + uuid.NewString()
	sub, err := nc.SubscribeSync(silent)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name          string
		cfg           config.NATSTarget
		ctxTimeout    time.Duration
		wantRetryable bool
		wantErr       string
		wantIs        error
	}{{
		name:          "no stream for the subject",
		cfg:           config.NATSTarget{URL: serverURL, Subject: "forgelink.test.nostream." + uuid.NewString(), Timeout: 5 * time.Second},
		wantRetryable: true,
		wantErr:       "no JetStream stream captures subject forgelink.test.nostream.",
	}, {
		name:          "server unreachable",
		cfg:           config.NATSTarget{URL: "nats://" + notifytest.ClosedAddr(t), Subject: "forgelink.test", Timeout: 5 * time.Second},
		wantRetryable: true,
		wantErr:       "not connected to nats://127.0.0.1:",
	}, {
		name:          "ctx deadline",
		cfg:           config.NATSTarget{URL: serverURL, Subject: silent, Timeout: time.Minute},
		ctxTimeout:    200 * time.Millisecond,
		wantRetryable: true,
		wantIs:        context.DeadlineExceeded,
	}, {
		name:          "target timeout",
		cfg:           config.NATSTarget{URL: serverURL, Subject: silent, Timeout: 200 * time.Millisecond},
		wantRetryable: true,
		wantIs:        context.DeadlineExceeded,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNotifier(t, tt.cfg)
			// The test's own bound: a Notify that ignored its deadline
			// would run into it.
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if tt.ctxTimeout > 0 {
				ctx, cancel = context.WithTimeout(ctx, tt.ctxTimeout)
				defer cancel()
			}
			start := time.Now()
			res := n.Notify(ctx, notifytest.Message(uuid.NewString()))
			elapsed := time.Since(start)
			if res.Err == nil {
				t.Fatal("Notify succeeded, want a failure")
			}
			if res.Retryable != tt.wantRetryable {
				t.Errorf("Retryable = %v, want %v (%v)", res.Retryable, tt.wantRetryable, res.Err)
			}
			if !strings.Contains(res.Err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", res.Err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(res.Err, tt.wantIs) {
				t.Errorf("error %q is not %v", res.Err, tt.wantIs)
			}
			if elapsed > 5*time.Second {
				t.Errorf("Notify took %s", elapsed)
			}
		})
	}
}

func TestNewMissingCredentials(t *testing.T) {
	connectServer(t)
	cfg := config.NATSTarget{URL: serverURL, Subject: "forgelink.test", CredentialsFile: t.TempDir() + "/missing.creds"}
	if n, err := New(t.Context(), cfg, Options{}); err == nil {
		n.Close()
		t.Fatal("New succeeded with a missing credentials file")
	}
}

// A subject no stream captures fails retryably, and the same notifier
// delivers once the operator has created the stream.
func TestNotifyOnceStreamExists(t *testing.T) {
	js := connectServer(t)
	subject := "forgelink.test.later." + uuid.NewString()
	n := newNotifier(t, config.NATSTarget{URL: serverURL, Subject: subject, Timeout: 5 * time.Second})
	if res := n.Notify(t.Context(), notifytest.Message(uuid.NewString())); res.Err == nil || !res.Retryable {
		t.Fatalf("Notify before the stream exists = %v (retryable %v), want a retryable failure", res.Err, res.Retryable)
	}
	name := "forgelink-test-" + uuid.NewString()
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: name, Subjects: []string{subject}, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), name) })
	if res := n.Notify(t.Context(), notifytest.Message(uuid.NewString())); res.Err != nil {
		t.Fatalf("Notify once the stream exists: %v", res.Err)
	}
}

func TestProbe(t *testing.T) {
	js := connectServer(t)
	stream, subject := newStream(t, js)
	tests := []struct {
		name       string
		cfg        config.NATSTarget
		wantStream string
		wantErr    string
	}{{
		name:       "a stream captures the subject",
		cfg:        config.NATSTarget{URL: serverURL, Subject: subject},
		wantStream: stream.CachedInfo().Config.Name,
	}, {
		name:    "no stream captures the subject",
		cfg:     config.NATSTarget{URL: serverURL, Subject: "forgelink.test.nostream.x"},
		wantErr: "no JetStream stream captures subject forgelink.test.nostream.x — create one (nats stream add --subjects forgelink.test.nostream.x)",
	}, {
		name:    "server unreachable",
		cfg:     config.NATSTarget{URL: "nats://" + notifytest.ClosedAddr(t), Subject: subject},
		wantErr: "connect to nats://127.0.0.1:",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			got, err := Probe(ctx, tt.cfg)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Probe: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Probe error = %v, want %q", err, tt.wantErr)
			}
			if got != tt.wantStream {
				t.Errorf("stream = %q, want %q", got, tt.wantStream)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, err := user.Seed()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	jwt := "-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.c2ln\n------END NATS USER JWT------\n\n"
	nkey := "-----BEGIN USER NKEY SEED-----\n" + string(seed) + "\n------END USER NKEY SEED------\n"
	tests := []struct {
		name    string
		creds   string
		wantErr string
	}{
		{name: "no credentials"},
		{name: "jwt and seed", creds: write("ok.creds", jwt+nkey)},
		{name: "missing file", creds: filepath.Join(dir, "missing.creds"), wantErr: "credentialsFile: open "},
		{name: "no seed", creds: write("noseed.creds", jwt), wantErr: "credentialsFile: no seed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(config.NATSTarget{URL: serverURL, Subject: "ci", CredentialsFile: tt.creds})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Check: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Check = %v, want %q", err, tt.wantErr)
			case err != nil && strings.Contains(err.Error(), string(seed)):
				t.Fatalf("Check quotes the seed: %v", err)
			}
		})
	}
}
