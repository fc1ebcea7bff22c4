package github

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/providers/github/githubtest"
	"github.com/forgelink/forgelink/providers/internal/tokentest"
)

const (
	hookToken  = "ghp_admintoken"
	hookRepoFN = "octo-org/api"
)

var hookSpec = providers.HookSpec{
	URL:           "https://forgelink.example.com/webhooks/conn-1",
	Secret:        "hook-secret-1",
	SecretCurrent: true,
}

// legacyURL is the form of forgelink's URL before path tokens; movedSpec
// names it as a former URL.
const legacyURL = "https://forgelink.example.com/webhooks/conn-1-legacy"

var movedSpec = providers.HookSpec{URL: hookSpec.URL, Secret: hookSpec.Secret, SecretCurrent: true, FormerURLs: []string{legacyURL}}

// currentHook is forgelink's hook as Ensure writes it.
func currentHook(secret string) githubtest.Hook {
	return githubtest.Hook{
		Name: "web", Active: true, Events: []string{"pull_request", "push"},
		URL: hookSpec.URL, ContentType: "json", InsecureSSL: "0", Secret: secret,
	}
}

func newHookFake(t *testing.T, opts githubtest.Options) (*githubtest.Server, *Hooks) {
	t.Helper()
	srv := githubtest.New(t, opts)
	srv.AddRepo(hookRepoFN)
	srv.AddToken(hookToken, githubtest.Admin)
	h, err := NewHooks(nil, srv.APIURL, providers.Token{Value: hookToken})
	if err != nil {
		t.Fatal(err)
	}
	return srv, h
}

// writes returns the methods and paths of the requests that change
// something.
func writes(reqs []githubtest.Request) []string {
	var out []string
	for _, r := range reqs {
		if r.Method != http.MethodGet {
			out = append(out, r.Method+" "+r.Path[strings.LastIndex(r.Path, "/hooks"):])
		}
	}
	return out
}

func TestHooksEnsure(t *testing.T) {
	otherHook := githubtest.Hook{Name: "web", Active: true, Events: []string{"*"}, URL: "https://ci.example.com/hook", ContentType: "form"}
	mutate := func(f func(*githubtest.Hook)) githubtest.Hook {
		h := currentHook("hook-secret-1")
		f(&h)
		return h
	}
	tests := []struct {
		name   string
		seed   []githubtest.Hook
		spec   providers.HookSpec
		want   providers.Hook // ID: the index in seed of the hook kept, "new" when created
		writes []string       // "PATCH", "POST", "DELETE <seed index>"
	}{
		{"absent", []githubtest.Hook{otherHook}, hookSpec, providers.Hook{ID: "new", Created: true}, []string{"POST"}},
		{"present and current", []githubtest.Hook{otherHook, currentHook("hook-secret-1")}, hookSpec, providers.Hook{ID: "1"}, nil},
		{"wrong events", []githubtest.Hook{mutate(func(h *githubtest.Hook) { h.Events = []string{"push"} })}, hookSpec, providers.Hook{ID: "0", Updated: true}, []string{"PATCH 0"}},
		{"wildcard events", []githubtest.Hook{mutate(func(h *githubtest.Hook) { h.Events = []string{"*"} })}, hookSpec, providers.Hook{ID: "0", Updated: true}, []string{"PATCH 0"}},
		{"events in another order", []githubtest.Hook{mutate(func(h *githubtest.Hook) { h.Events = []string{"push", "pull_request"} })}, hookSpec, providers.Hook{ID: "0"}, nil},
		{"inactive", []githubtest.Hook{mutate(func(h *githubtest.Hook) { h.Active = false })}, hookSpec, providers.Hook{ID: "0", Updated: true}, []string{"PATCH 0"}},
		{"form content", []githubtest.Hook{mutate(func(h *githubtest.Hook) { h.ContentType = "form" })}, hookSpec, providers.Hook{ID: "0", Updated: true}, []string{"PATCH 0"}},
		{"TLS not verified", []githubtest.Hook{mutate(func(h *githubtest.Hook) { h.InsecureSSL = "1" })}, hookSpec, providers.Hook{ID: "0", Updated: true}, []string{"PATCH 0"}},
		{"secret lost", []githubtest.Hook{mutate(func(h *githubtest.Hook) { h.Secret = "" })}, hookSpec, providers.Hook{ID: "0", Updated: true}, []string{"PATCH 0"}},
		{"secret not current", []githubtest.Hook{currentHook("old-secret")}, providers.HookSpec{URL: hookSpec.URL, Secret: "hook-secret-1"}, providers.Hook{ID: "0", Updated: true}, []string{"PATCH 0"}},
		{"duplicates", []githubtest.Hook{otherHook, currentHook("hook-secret-1"), currentHook("x"), mutate(func(h *githubtest.Hook) { h.Active = false })}, hookSpec,
			providers.Hook{ID: "1", Removed: 2}, []string{"DELETE 2", "DELETE 3"}},
		{"at a former URL", []githubtest.Hook{otherHook, mutate(func(h *githubtest.Hook) { h.URL = legacyURL })}, movedSpec,
			providers.Hook{ID: "1", Updated: true}, []string{"PATCH 1"}},
		{"at a former URL and the current one", []githubtest.Hook{mutate(func(h *githubtest.Hook) { h.URL = legacyURL }), currentHook("hook-secret-1")}, movedSpec,
			providers.Hook{ID: "0", Removed: 1, Updated: true}, []string{"DELETE 1", "PATCH 0"}},
		{"former URL not given: someone else's", []githubtest.Hook{mutate(func(h *githubtest.Hook) { h.URL = legacyURL })}, hookSpec,
			providers.Hook{ID: "new", Created: true}, []string{"POST"}},
		{"duplicates, kept one drifted", []githubtest.Hook{mutate(func(h *githubtest.Hook) { h.Events = nil }), currentHook("hook-secret-1")}, hookSpec,
			providers.Hook{ID: "0", Removed: 1, Updated: true}, []string{"DELETE 1", "PATCH 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, h := newHookFake(t, githubtest.Options{})
			var ids []string
			for _, s := range tt.seed {
				ids = append(ids, strconv.FormatInt(srv.AddHook(hookRepoFN, s).ID, 10))
			}
			got, err := h.Ensure(context.Background(), hookRepoFN, tt.spec)
			if err != nil {
				t.Fatalf("Ensure: %v", err)
			}
			want := tt.want
			if want.ID != "new" {
				i, _ := strconv.Atoi(want.ID)
				want.ID = ids[i]
			} else {
				want.ID = got.ID
			}
			if got != want {
				t.Errorf("Ensure = %+v, want %+v", got, want)
			}
			var wantWrites []string
			for _, w := range tt.writes {
				method, idx, _ := strings.Cut(w, " ")
				path := "/hooks"
				if idx != "" {
					i, _ := strconv.Atoi(idx)
					path += "/" + ids[i]
				}
				wantWrites = append(wantWrites, method+" "+path)
			}
			if gotWrites := writes(srv.Requests()); !slices.Equal(gotWrites, wantWrites) {
				t.Errorf("requests changing hooks: %v, want %v", gotWrites, wantWrites)
			}
			assertOneHook(t, srv, got.ID, tt.spec.Secret)
			for i, seeded := range tt.seed {
				if tt.spec.Owns(seeded.URL) {
					continue
				}
				if hooks := srv.Hooks(hookRepoFN); !slices.ContainsFunc(hooks, func(h githubtest.Hook) bool {
					return strconv.FormatInt(h.ID, 10) == ids[i] && h.URL == seeded.URL && slices.Equal(h.Events, seeded.Events)
				}) {
					t.Errorf("someone else's hook %s changed: %+v", ids[i], hooks)
				}
			}
		})
	}
}

// assertOneHook checks that the repository has exactly one hook with
// forgelink's URL, id, as forgelink wants it.
func assertOneHook(t *testing.T, srv *githubtest.Server, id, secret string) {
	t.Helper()
	var mine []githubtest.Hook
	for _, h := range srv.Hooks(hookRepoFN) {
		if h.URL == hookSpec.URL {
			mine = append(mine, h)
		}
	}
	if len(mine) != 1 {
		t.Fatalf("repository has %d hooks with forgelink's URL, want 1: %+v", len(mine), mine)
	}
	h := mine[0]
	slices.Sort(h.Events)
	if strconv.FormatInt(h.ID, 10) != id || !h.Active || h.ContentType != "json" || h.InsecureSSL != "0" || h.Secret != secret ||
		!slices.Equal(h.Events, []string{"pull_request", "push"}) {
		t.Errorf("hook = %+v; want id %s, active, json, TLS verified, secret %q, push and pull_request", h, id, secret)
	}
}

func TestHooksEnsureFollowsPages(t *testing.T) {
	srv, h := newHookFake(t, githubtest.Options{MaxPerPage: 2})
	for i := range 4 {
		srv.AddHook(hookRepoFN, githubtest.Hook{Name: "web", Active: true, Events: []string{"push"}, URL: "https://ci.example.com/" + strconv.Itoa(i), ContentType: "json"})
	}
	mine := srv.AddHook(hookRepoFN, currentHook(hookSpec.Secret)) // the fifth: page 3 of 3
	got, err := h.Ensure(context.Background(), hookRepoFN, hookSpec)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if want := (providers.Hook{ID: strconv.FormatInt(mine.ID, 10)}); got != want {
		t.Errorf("Ensure = %+v, want %+v", got, want)
	}
	var pages []string
	for _, r := range srv.Requests() {
		if r.Method == http.MethodGet {
			pages = append(pages, r.Query)
		}
	}
	if len(pages) != 3 || !strings.Contains(pages[2], "page=3") {
		t.Errorf("listing requests %v, want pages 1 to 3", pages)
	}
	if w := writes(srv.Requests()); len(w) != 0 {
		t.Errorf("requests changing hooks: %v, want none", w)
	}
	assertOneHook(t, srv, got.ID, hookSpec.Secret)
}

func TestHooksEnsureConcurrent(t *testing.T) {
	for _, dup := range []bool{false, true} {
		t.Run("duplicates allowed "+strconv.FormatBool(dup), func(t *testing.T) {
			srv, h := newHookFake(t, githubtest.Options{AllowDuplicateHooks: dup})
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i := range errs {
				wg.Go(func() { _, errs[i] = h.Ensure(context.Background(), hookRepoFN, hookSpec) })
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Errorf("concurrent Ensure: %v", err)
				}
			}
			got, err := h.Ensure(context.Background(), hookRepoFN, hookSpec)
			if err != nil {
				t.Fatalf("Ensure: %v", err)
			}
			assertOneHook(t, srv, got.ID, hookSpec.Secret)
		})
	}
}

func TestHooksEnsureTakesARacersHook(t *testing.T) {
	// GitHub refuses a second hook with the same URL (422). A racing
	// daemon's hook, created after this one's listing, is taken as ours:
	// the transport hides it from the first listing.
	srv, _ := newHookFake(t, githubtest.Options{})
	racer := srv.AddHook(hookRepoFN, currentHook(hookSpec.Secret))
	var hidden atomic.Bool
	client := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodGet && hidden.CompareAndSwap(false, true) {
			return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader("[]")), Request: r}, nil
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	h, err := NewHooks(client, srv.APIURL, providers.Token{Value: hookToken})
	if err != nil {
		t.Fatal(err)
	}
	got, err := h.Ensure(context.Background(), hookRepoFN, hookSpec)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if want := (providers.Hook{ID: strconv.FormatInt(racer.ID, 10)}); got != want {
		t.Errorf("Ensure = %+v, want %+v", got, want)
	}
	if w := writes(srv.Requests()); !slices.Equal(w, []string{"POST /hooks"}) {
		t.Errorf("requests changing hooks: %v, want only the refused POST", w)
	}
	assertOneHook(t, srv, got.ID, hookSpec.Secret)
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestHooksErrors(t *testing.T) {
	srv := githubtest.New(t, githubtest.Options{})
	srv.AddRepo(hookRepoFN)
	srv.AddToken(hookToken, githubtest.Admin)
	srv.AddToken("ghp_readonly", githubtest.Read)
	rateLimited := http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Limit": {"5000"}}
	badSecret := hookSpec
	badSecret.Secret = ""
	badURL := hookSpec
	badURL.URL = "/webhooks/conn-1"
	tests := []struct {
		name, api, token, repo string
		spec                   providers.HookSpec
		wants                  string
	}{
		{"unknown token", srv.APIURL, "ghp_wrong", hookRepoFN, hookSpec, "rejected 401"},
		{"no admin rights", srv.APIURL, "ghp_readonly", hookRepoFN, hookSpec, "rejected 403"},
		{"unknown repository", srv.APIURL, hookToken, "octo-org/nothing", hookSpec, "not found"},
		{"not owner/name", srv.APIURL, hookToken, "octo-org", hookSpec, "not found"},
		{"rate limited", tokentest.Answer(t, http.StatusForbidden, rateLimited, `{"message":"API rate limit exceeded"}`), hookToken, hookRepoFN, hookSpec, "unavailable"},
		{"server error", tokentest.Answer(t, http.StatusBadGateway, nil, "bad gateway"), hookToken, hookRepoFN, hookSpec, "unavailable 502"},
		{"unreachable", tokentest.Unreachable(), hookToken, hookRepoFN, hookSpec, "unavailable"},
		{"no secret", srv.APIURL, hookToken, hookRepoFN, badSecret, "invalid"},
		{"relative url", srv.APIURL, hookToken, hookRepoFN, badURL, "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := NewHooks(nil, tt.api, providers.Token{Value: tt.token})
			if err != nil {
				t.Fatal(err)
			}
			before := len(srv.Requests())
			_, err = h.Ensure(context.Background(), tt.repo, tt.spec)
			if got := outcome(t, err, tt.token, tt.spec.Secret); got != tt.wants {
				t.Errorf("Ensure = %s, want %s", got, tt.wants)
			}
			if tt.wants == "invalid" && len(srv.Requests()) != before {
				t.Error("Ensure sent requests for a spec it refuses")
			}
		})
	}
	if _, err := NewHooks(nil, srv.APIURL, providers.Token{}); outcome(t, err) != "invalid" {
		t.Errorf("NewHooks without a token: %v", err)
	}
}

func TestHooksDelete(t *testing.T) {
	srv, h := newHookFake(t, githubtest.Options{})
	other := srv.AddHook(hookRepoFN, githubtest.Hook{Name: "web", Active: true, URL: "https://ci.example.com/hook"})
	mine := srv.AddHook(hookRepoFN, currentHook(hookSpec.Secret))
	id := strconv.FormatInt(mine.ID, 10)
	tests := []struct {
		name, repo, id, wants string
	}{
		{"present", hookRepoFN, id, "ok"},
		{"gone already", hookRepoFN, id, "ok"},
		{"repository gone", "octo-org/nothing", id, "ok"},
		{"not an id", hookRepoFN, "abc", "not found"},
		{"not owner/name", "api", id, "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := outcome(t, h.Delete(context.Background(), tt.repo, tt.id), hookToken); got != tt.wants {
				t.Errorf("Delete = %s, want %s", got, tt.wants)
			}
		})
	}
	if hooks := srv.Hooks(hookRepoFN); len(hooks) != 1 || hooks[0].ID != other.ID {
		t.Errorf("hooks left %+v, want only %d", hooks, other.ID)
	}
	h2, _ := NewHooks(nil, srv.APIURL, providers.Token{Value: "ghp_wrong"})
	if got := outcome(t, h2.Delete(context.Background(), hookRepoFN, "1"), "ghp_wrong"); got != "rejected 401" {
		t.Errorf("Delete with a refused token = %s, want rejected 401", got)
	}
}
