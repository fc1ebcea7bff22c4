package hookreg

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/providers/github"
	"github.com/forgelink/forgelink/relay/clocktest"
	"github.com/forgelink/forgelink/relay/ingress"
	"github.com/forgelink/forgelink/relay/keyring"
	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/sqlite"
	"github.com/forgelink/forgelink/store/sqlite/sqlitetest"
)

const interval = 10 * time.Minute

// fakeHooks is a provider's hook API in memory: one hook list per
// repository, hooks identified by URL as the real Ensure does.
type fakeHooks struct {
	mu      sync.Mutex
	hooks   map[string][]*fakeHook // by repository
	nextID  int
	ensures map[string]int // Ensure calls per repository
	specs   []providers.HookSpec
	writes  int               // hooks created, updated or deleted
	fail    map[string]error  // Ensure and Delete answer this for a repository
	deleted map[string]string // repository → hook id deleted
}

type fakeHook struct {
	id, url, secret string
}

func newFakeHooks() *fakeHooks {
	return &fakeHooks{hooks: map[string][]*fakeHook{}, ensures: map[string]int{}, fail: map[string]error{}, deleted: map[string]string{}}
}

func (f *fakeHooks) Ensure(_ context.Context, repo string, spec providers.HookSpec) (providers.Hook, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ensures[repo]++
	f.specs = append(f.specs, spec)
	if err := f.fail[repo]; err != nil {
		return providers.Hook{}, err
	}
	for _, h := range f.hooks[repo] {
		if !spec.Owns(h.url) {
			continue
		}
		if spec.SecretCurrent && h.url == spec.URL {
			return providers.Hook{ID: h.id}, nil
		}
		h.secret, h.url = spec.Secret, spec.URL
		f.writes++
		return providers.Hook{ID: h.id, Updated: true}, nil
	}
	f.nextID++
	h := &fakeHook{id: strconv.Itoa(f.nextID), url: spec.URL, secret: spec.Secret}
	f.hooks[repo] = append(f.hooks[repo], h)
	f.writes++
	return providers.Hook{ID: h.id, Created: true}, nil
}

func (f *fakeHooks) Delete(_ context.Context, repo, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail[repo]; err != nil {
		return err
	}
	f.hooks[repo] = slices.DeleteFunc(f.hooks[repo], func(h *fakeHook) bool { return h.id == id })
	f.deleted[repo] = id
	f.writes++
	return nil
}

func (f *fakeHooks) setFail(repo string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[repo] = err
}

// state returns the secret of each repository's hooks and the Ensure
// calls so far.
func (f *fakeHooks) state() (secrets map[string][]string, ensures map[string]int, writes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	secrets = map[string][]string{}
	for repo, hs := range f.hooks {
		for _, h := range hs {
			secrets[repo] = append(secrets[repo], h.secret)
		}
	}
	return secrets, maps.Clone(f.ensures), f.writes
}

type fixture struct {
	st     *sqlite.Store
	kr     *keyring.Keyring
	clk    *clocktest.Clock
	conn   store.Connection
	hooks  *fakeHooks
	piped  []string // repositories the pipelines name
	mu     sync.Mutex
	marked []string // MarkError reasons
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	clk := clocktest.New(time.Date(2030, time.May, 1, 12, 0, 0, 0, time.UTC))
	st := sqlitetest.Open(t, sqlite.WithClock(clk.Now))
	kr, err := keyring.New(bytes.Repeat([]byte{7}, keyring.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, kr: kr, clk: clk, hooks: newFakeHooks()}
	f.conn = store.Connection{ID: uuid.NewString(), Name: "gh", ProviderType: store.ProviderGitHub, Region: "us-east-1", Status: store.StatusAvailable}
	f.conn.WebhookSecret = kr.Seal([]byte("secret-0"), []byte(f.conn.ID))
	if err := st.CreateConnection(t.Context(), f.conn, nil, 0); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) reconciler(owner string) *Reconciler {
	return f.reconcilerWith(owner, nil)
}

// reconcilerWith lets a test change the options.
func (f *fixture) reconcilerWith(owner string, change func(*Options)) *Reconciler {
	o := Options{
		Store:      f.st,
		Hooks:      func(context.Context, store.Connection) (Hooks, error) { return f.hooks, nil },
		Secret:     CurrentSecret(f.st, f.kr, f.clk.Now),
		WebhookURL: func(id string) string { return "https://forgelink.example" + ingress.WebhookPath(f.kr, id) },
		FormerURLs: func(id string) []string { return []string{"https://forgelink.example" + ingress.LegacyWebhookPath(id)} },
		Repositories: func(id string) []string {
			if id != f.conn.ID {
				return nil
			}
			return f.piped
		},
		MarkError: func(ctx context.Context, id, reason string) {
			f.mu.Lock()
			f.marked = append(f.marked, reason)
			f.mu.Unlock()
			f.st.SetConnectionStatus(ctx, id, store.StatusError, reason)
		},
		Now:      f.clk.Now,
		Interval: interval,
		Owner:    owner,
	}
	if change != nil {
		change(&o)
	}
	return New(o)
}

func (f *fixture) link(t *testing.T, owner, name string) store.RepositoryLink {
	t.Helper()
	l := store.RepositoryLink{ID: uuid.NewString(), ConnectionID: f.conn.ID, OwnerID: owner, RepositoryName: name, Region: "us-east-1"}
	if err := f.st.CreateRepositoryLink(t.Context(), l, nil, 0); err != nil {
		t.Fatal(err)
	}
	return l
}

func (f *fixture) rotate(t *testing.T, secret string, overlap time.Duration) {
	t.Helper()
	sealed := f.kr.Seal([]byte(secret), []byte(f.conn.ID))
	if err := f.st.RotateWebhookSecret(t.Context(), f.conn.ID, sealed, f.clk.Now().Add(overlap)); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) rows(t *testing.T) map[string]store.RegisteredHook {
	t.Helper()
	rows, err := f.st.RegisteredHooks(t.Context(), f.conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.RegisteredHook{}
	for _, h := range rows {
		out[h.Repository] = h
	}
	return out
}

func (f *fixture) currentVersion(t *testing.T) time.Time {
	t.Helper()
	secrets, err := f.st.WebhookSecrets(t.Context(), f.conn.ID, f.clk.Now())
	if err != nil || len(secrets) == 0 {
		t.Fatalf("WebhookSecrets: %v, %v", secrets, err)
	}
	return secrets[0].CreatedAt
}

func mustReconcile(t *testing.T, r *Reconciler, connID string) {
	t.Helper()
	if err := r.Reconcile(t.Context(), connID); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
}

func TestCreatesHooksForLinksAndPipelines(t *testing.T) {
	f := newFixture(t)
	f.link(t, "Org", "App")
	f.piped = []string{"org/app", "team/svc"} // the link's repository, spelled otherwise, and another
	r := f.reconciler("a")
	mustReconcile(t, r, f.conn.ID)

	secrets, ensures, _ := f.hooks.state()
	want := map[string][]string{"org/app": {"secret-0"}, "team/svc": {"secret-0"}}
	if !maps.EqualFunc(secrets, want, slices.Equal) {
		t.Errorf("hooks at the provider %v, want %v", secrets, want)
	}
	if !maps.Equal(ensures, map[string]int{"org/app": 1, "team/svc": 1}) {
		t.Errorf("Ensure calls %v", ensures)
	}
	version := f.currentVersion(t)
	for repo, h := range f.rows(t) {
		if h.State != store.HookOK || h.HookID == "" || !h.SecretCreatedAt.Equal(version) || h.LeaseOwner != "" ||
			h.URL != "https://forgelink.example"+ingress.WebhookPath(f.kr, f.conn.ID) {
			t.Errorf("row of %s: %+v", repo, h)
		}
	}
}

func TestNoWriteWhenCurrent(t *testing.T) {
	f := newFixture(t)
	f.link(t, "org", "app")
	r := f.reconciler("a")
	mustReconcile(t, r, f.conn.ID)
	_, _, writes := f.hooks.state()

	// Checked moments ago: the provider is not asked again.
	mustReconcile(t, r, f.conn.ID)
	if _, ensures, _ := f.hooks.state(); ensures["org/app"] != 1 {
		t.Errorf("Ensure calls right after a check: %d, want 1", ensures["org/app"])
	}
	// Later it is asked, told the secret is current, and writes nothing.
	f.clk.Add(interval / 2)
	mustReconcile(t, r, f.conn.ID)
	_, ensures, w := f.hooks.state()
	if ensures["org/app"] != 2 || w != writes {
		t.Errorf("second check: %d Ensure calls, %d writes; want 2 and %d", ensures["org/app"], w, writes)
	}
	if spec := f.hooks.specs[len(f.hooks.specs)-1]; !spec.SecretCurrent || spec.Secret != "secret-0" {
		t.Errorf("second check's spec: current %v", spec.SecretCurrent)
	}
}

func TestRotationPushesNewSecret(t *testing.T) {
	f := newFixture(t)
	f.link(t, "org", "app")
	f.piped = []string{"team/svc"}
	r := f.reconciler("a")
	mustReconcile(t, r, f.conn.ID)

	f.rotate(t, "secret-1", time.Minute)
	mustReconcile(t, r, f.conn.ID)
	secrets, _, _ := f.hooks.state()
	want := map[string][]string{"org/app": {"secret-1"}, "team/svc": {"secret-1"}}
	if !maps.EqualFunc(secrets, want, slices.Equal) {
		t.Errorf("hooks after rotation %v, want %v", secrets, want)
	}
	version := f.currentVersion(t)
	for repo, h := range f.rows(t) {
		if !h.SecretCreatedAt.Equal(version) {
			t.Errorf("row of %s carries secret %v, want %v", repo, h.SecretCreatedAt, version)
		}
	}
	// Every hook has the new secret: the old one lapses when its overlap ends.
	f.clk.Add(time.Minute)
	if got, _ := f.st.WebhookSecrets(t.Context(), f.conn.ID, f.clk.Now()); len(got) != 1 {
		t.Errorf("%d secrets valid after the overlap, want 1", len(got))
	}
}

// TestPreviousSecretHeldWhileBehind checks, through the real ingress, that
// a delivery signed with the rotated-out secret is still accepted while a
// hook could not be given the new one, and refused once all have it.
func TestPreviousSecretHeldWhileBehind(t *testing.T) {
	f := newFixture(t)
	f.link(t, "org", "app")
	f.link(t, "team", "svc")
	r := f.reconciler("a")
	mustReconcile(t, r, f.conn.ID)
	deliver := newDeliverer(t, f)

	f.hooks.setFail("team/svc", fmt.Errorf("github hooks: %w: HTTP 502", providers.ErrProviderUnavailable))
	f.rotate(t, "secret-1", time.Minute)
	if err := r.Reconcile(t.Context(), f.conn.ID); err == nil || !errors.Is(err, providers.ErrProviderUnavailable) {
		t.Fatalf("Reconcile with a failing hook: %v", err)
	}
	row := f.rows(t)["team/svc"]
	if row.State != store.HookError || !strings.Contains(row.LastError, "HTTP 502") || row.Failures != 1 ||
		strings.Contains(row.LastError, "secret-") {
		t.Errorf("failing row %+v", row)
	}
	f.clk.Add(5 * time.Minute) // past the rotation's own overlap
	if code := deliver("secret-0"); code != http.StatusAccepted {
		t.Errorf("old-secret delivery while a hook is behind: %d, want 202", code)
	}
	if code := deliver("secret-1"); code != http.StatusAccepted {
		t.Errorf("new-secret delivery: %d, want 202", code)
	}

	f.hooks.setFail("team/svc", nil)
	mustReconcile(t, r, f.conn.ID)
	if secrets, _, _ := f.hooks.state(); !slices.Equal(secrets["team/svc"], []string{"secret-1"}) {
		t.Errorf("repaired hook carries %v", secrets["team/svc"])
	}
	f.clk.Add(holdRounds * interval)
	if code := deliver("secret-0"); code != http.StatusUnauthorized {
		t.Errorf("old-secret delivery once all hooks are current: %d, want 401", code)
	}
}

// newDeliverer serves the real webhook ingress over f's store and returns
// a function that posts a GitHub push signed with secret.
func newDeliverer(t *testing.T, f *fixture) func(secret string) int {
	t.Helper()
	h := ingress.New(ingress.Options{
		Store: f.st, Keyring: f.kr, Log: zap.NewNop(), Now: f.clk.Now,
		Providers:     map[string]ingress.Provider{store.ProviderGitHub: github.Webhooks{}},
		ConnectionARN: func(id string) string { return "arn:test:" + id },
	})
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/{connection}/{token...}", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	body, err := os.ReadFile("../../providers/github/testdata/push_branch.json")
	if err != nil {
		t.Fatal(err)
	}
	return func(secret string) int {
		t.Helper()
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+ingress.WebhookPath(f.kr, f.conn.ID), bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", uuid.NewString())
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
}

func TestBackoff(t *testing.T) {
	f := newFixture(t)
	f.link(t, "org", "app")
	f.hooks.setFail("org/app", fmt.Errorf("%w: HTTP 500", providers.ErrProviderUnavailable))
	r := f.reconciler("a")
	calls := func() int { _, e, _ := f.hooks.state(); return e["org/app"] }
	r.reconcile(t.Context(), f.conn.ID, trigger{})
	for n, wait := range []time.Duration{interval / 2, interval, 2 * interval} {
		f.clk.Add(wait - time.Second)
		r.reconcile(t.Context(), f.conn.ID, trigger{})
		if got := calls(); got != n+1 {
			t.Errorf("a second before retry %d: %d Ensure calls, want %d", n+1, got, n+1)
		}
		f.clk.Add(time.Second)
		r.reconcile(t.Context(), f.conn.ID, trigger{})
		if got := calls(); got != n+2 {
			t.Errorf("retry %d after %v: %d Ensure calls, want %d", n+1, wait, got, n+2)
		}
	}
	if row := f.rows(t)["org/app"]; row.Failures != 4 {
		t.Errorf("row after 4 failures: %+v", row)
	}
	// On demand, the backoff is not waited out.
	r.Reconcile(t.Context(), f.conn.ID)
	if got := calls(); got != 5 {
		t.Errorf("on demand: %d Ensure calls, want 5", got)
	}
}

func TestUnauthorizedMarksError(t *testing.T) {
	f := newFixture(t)
	f.link(t, "org", "a")
	f.link(t, "org", "b")
	for _, repo := range []string{"org/a", "org/b"} {
		f.hooks.setFail(repo, fmt.Errorf("github hooks: %w", &providers.StatusError{StatusCode: http.StatusUnauthorized}))
	}
	r := f.reconciler("a")
	if err := r.Reconcile(t.Context(), f.conn.ID); !errors.Is(err, providers.ErrTokenRejected) {
		t.Errorf("Reconcile: %v, want ErrTokenRejected", err)
	}
	if len(f.marked) != 1 || !strings.Contains(f.marked[0], "401") {
		t.Errorf("MarkError reasons %q, want one naming 401", f.marked)
	}
	if _, ensures, _ := f.hooks.state(); ensures["org/a"]+ensures["org/b"] != 1 {
		t.Errorf("Ensure calls %v: want the round to stop at the first refusal", ensures)
	}
	// The connection is in ERROR now: the provider is not asked again.
	mustReconcile(t, r, f.conn.ID)
	if _, ensures, _ := f.hooks.state(); ensures["org/a"]+ensures["org/b"] != 1 {
		t.Errorf("Ensure calls %v after the connection went to ERROR", ensures)
	}
}

func TestForbiddenStaysOnTheRepository(t *testing.T) {
	f := newFixture(t)
	f.link(t, "org", "a")
	f.link(t, "org", "b")
	f.hooks.setFail("org/a", fmt.Errorf("github hooks: %w", &providers.StatusError{StatusCode: http.StatusForbidden}))
	r := f.reconciler("a")
	if err := r.Reconcile(t.Context(), f.conn.ID); !errors.Is(err, providers.ErrTokenRejected) {
		t.Errorf("Reconcile: %v", err)
	}
	rows := f.rows(t)
	if len(f.marked) != 0 || rows["org/a"].State != store.HookError || rows["org/b"].State != store.HookOK {
		t.Errorf("after a 403 on org/a: marked %q, rows %+v", f.marked, rows)
	}
}

func TestRemovesHooksNothingWants(t *testing.T) {
	f := newFixture(t)
	kept := f.link(t, "org", "kept")
	gone := f.link(t, "org", "gone")
	f.piped = []string{"org/piped"}
	r := f.reconciler("a")
	mustReconcile(t, r, f.conn.ID)
	before := f.rows(t)

	// org/gone loses its link, org/piped its pipeline.
	if err := f.st.DeleteRepositoryLink(t.Context(), gone.ID); err != nil {
		t.Fatal(err)
	}
	f.piped = nil
	mustReconcile(t, r, f.conn.ID)
	rows := f.rows(t)
	if _, ok := rows["org/gone"]; ok {
		t.Error("row of org/gone kept")
	}
	if _, ok := rows["org/piped"]; ok {
		t.Error("row of org/piped kept")
	}
	if rows["org/kept"].HookID != before["org/kept"].HookID {
		t.Errorf("org/kept hook %q, was %q", rows["org/kept"].HookID, before["org/kept"].HookID)
	}
	if f.hooks.deleted["org/gone"] != before["org/gone"].HookID || f.hooks.deleted["org/piped"] != before["org/piped"].HookID {
		t.Errorf("provider deletions %v", f.hooks.deleted)
	}

	// A link removed while a pipeline still names its repository keeps the hook.
	f.piped = []string{"org/kept"}
	if err := f.st.DeleteRepositoryLink(t.Context(), kept.ID); err != nil {
		t.Fatal(err)
	}
	mustReconcile(t, r, f.conn.ID)
	if _, ok := f.rows(t)["org/kept"]; !ok || f.hooks.deleted["org/kept"] != "" {
		t.Error("hook of a repository a pipeline names was removed")
	}
}

func TestRemoveAll(t *testing.T) {
	f := newFixture(t)
	f.link(t, "org", "a")
	f.link(t, "org", "b")
	r := f.reconciler("a")
	mustReconcile(t, r, f.conn.ID)
	f.hooks.setFail("org/b", fmt.Errorf("%w: HTTP 500", providers.ErrProviderUnavailable))
	err := r.RemoveAll(t.Context(), f.conn)
	if err == nil || !strings.Contains(err.Error(), "org/b") {
		t.Errorf("RemoveAll: %v, want an error naming org/b", err)
	}
	if secrets, _, _ := f.hooks.state(); len(secrets["org/a"]) != 0 {
		t.Errorf("hooks left at the provider: %v", secrets)
	}
	if rows := f.rows(t); len(rows) != 0 {
		t.Errorf("rows left: %v", rows)
	}
}

func TestSkipsConnectionsWithoutRepositoryHooks(t *testing.T) {
	f := newFixture(t)
	f.link(t, "org", "a")
	r := f.reconciler("a")
	r.o.Hooks = func(context.Context, store.Connection) (Hooks, error) { return nil, nil } // a GitHub App connection
	mustReconcile(t, r, f.conn.ID)

	r = f.reconciler("a")
	if err := f.st.SetConnectionStatus(t.Context(), f.conn.ID, store.StatusPending, ""); err != nil {
		t.Fatal(err)
	}
	mustReconcile(t, r, f.conn.ID)
	if _, ensures, _ := f.hooks.state(); len(ensures) != 0 {
		t.Errorf("Ensure calls %v, want none", ensures)
	}
}

// TestConcurrentReconcilers runs two daemons' reconcilers on one store at
// once: the leases make each hook ensured once per round.
func TestConcurrentReconcilers(t *testing.T) {
	f := newFixture(t)
	var repos []string
	for i := range 20 {
		l := f.link(t, "org", fmt.Sprintf("repo-%02d", i))
		repos = append(repos, store.RepositoryKey(l.Repository()))
	}
	a, b := f.reconciler("daemon-a"), f.reconciler("daemon-b")
	for round := 1; round <= 2; round++ {
		var wg sync.WaitGroup
		for _, r := range []*Reconciler{a, b} {
			wg.Go(func() {
				if err := r.Reconcile(t.Context(), f.conn.ID); err != nil {
					t.Errorf("Reconcile: %v", err)
				}
			})
		}
		wg.Wait()
		secrets, ensures, _ := f.hooks.state()
		for _, repo := range repos {
			if ensures[repo] != round || len(secrets[repo]) != 1 {
				t.Errorf("round %d: %s ensured %d times, %d hooks", round, repo, ensures[repo], len(secrets[repo]))
			}
		}
		f.clk.Add(interval / 2)
	}
}

func TestSyncWakesRun(t *testing.T) {
	f := newFixture(t)
	r := f.reconciler("a")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	f.link(t, "org", "late")
	r.Sync(f.conn.ID)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if secrets, _, _ := f.hooks.state(); len(secrets["org/late"]) == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("Sync did not lead to the hook being created")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
