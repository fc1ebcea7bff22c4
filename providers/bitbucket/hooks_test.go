package bitbucket

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/providers/internal/tokentest"
)

const (
	hookURL       = "https://forgelink.example.com/webhooks/bitbucket/c0ffee"
	hookSecret    = "whsec-s3cretHOOK"
	repoName      = "acme/widgets"
	readOnlyToken = "ATCTTs3cretREADONLY"
	otherHookURL  = "https://ci.example.com/hook"
)

var allEvents = []string{"pullrequest:created", "pullrequest:fulfilled", "pullrequest:rejected", "pullrequest:updated", "repo:push"}

// fakeHook is a repository webhook as the fake keeps it; the secret is
// never shown, only secret_set.
type fakeHook struct {
	UUID        string    `json:"uuid"`
	URL         string    `json:"url"`
	Description string    `json:"description"`
	Active      bool      `json:"active"`
	Events      []string  `json:"events"`
	CreatedAt   time.Time `json:"created_at"`
	Secret      string    `json:"-"`
	SecretSet   bool      `json:"secret_set"`
}

// hookFake serves Bitbucket Cloud's repository webhooks API
// (/2.0/repositories/{workspace}/{repo_slug}/hooks) for acme/widgets:
// pages of pagelen hooks (capped at maxPageLen) with size, page and a next
// link; Basic auth with an app password or a bearer token, 403 for a
// token without webhook rights; 404 for other repositories.
type hookFake struct {
	mu         sync.Mutex
	hooks      []*fakeHook // listing order: by uuid, as Bitbucket's is not by age
	seq        int
	maxPageLen int
	writes     []string // "POST", "PUT <uuid>", "DELETE <uuid>"
	lists      []string // the pages listed
	auth       []string // "basic" or "bearer", per request
	// listGate, when set, holds every listing until gateN have arrived.
	listGate chan struct{}
	gateN    int
}

func newHookFake(t *testing.T, seed ...fakeHook) (*hookFake, string) {
	t.Helper()
	f := &hookFake{maxPageLen: 100}
	for _, h := range seed {
		f.hooks = append(f.hooks, &h)
	}
	f.sort()
	mux := http.NewServeMux()
	base := "/2.0/repositories/{workspace}/{slug}/hooks"
	mux.HandleFunc("GET "+base, f.handle(f.list))
	mux.HandleFunc("GET "+base+"/{$}", f.handle(f.list))
	mux.HandleFunc("POST "+base, f.handle(f.create))
	mux.HandleFunc("PUT "+base+"/{uid}", f.handle(f.update))
	mux.HandleFunc("DELETE "+base+"/{uid}", f.handle(f.delete))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv.URL + "/2.0"
}

func (f *hookFake) sort() {
	slices.SortFunc(f.hooks, func(a, b *fakeHook) int { return strings.Compare(a.UUID, b.UUID) })
}

func bbError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, fmt.Sprintf(`{"type":"error","error":{"message":%q}}`, msg))
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write([]byte(body))
}

func (f *hookFake) handle(h func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user, password, basic := r.BasicAuth()
		bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		kind := map[bool]string{true: "basic", false: "bearer"}[basic]
		f.mu.Lock()
		f.auth = append(f.auth, kind)
		f.mu.Unlock()
		switch {
		case basic && user == "jdoe" && password == appPassword, !basic && bearer == accessToken:
		case !basic && bearer == readOnlyToken:
			bbError(w, http.StatusForbidden, "Your credentials lack one or more required privilege scopes.")
			return
		default:
			bbError(w, http.StatusUnauthorized, "Unauthorized")
			return
		}
		if r.PathValue("workspace")+"/"+r.PathValue("slug") != repoName {
			bbError(w, http.StatusNotFound, "Repository not found")
			return
		}
		if r.Method == http.MethodGet && f.listGate != nil {
			f.waitGate(w, r)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		h(w, r)
	}
}

func (f *hookFake) waitGate(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if f.gateN--; f.gateN == 0 {
		close(f.listGate)
	}
	f.mu.Unlock()
	select {
	case <-f.listGate:
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
		bbError(w, http.StatusGatewayTimeout, "gate")
	}
}

func (f *hookFake) list(w http.ResponseWriter, r *http.Request) {
	pagelen := min(queryInt(r, "pagelen", 10), f.maxPageLen)
	page := queryInt(r, "page", 1)
	f.lists = append(f.lists, strconv.Itoa(page))
	total := len(f.hooks)
	from, to := min(total, (page-1)*pagelen), min(total, page*pagelen)
	out := map[string]any{"pagelen": pagelen, "size": total, "page": page, "values": f.hooks[from:to]}
	if to < total {
		out["next"] = fmt.Sprintf("http://%s%s?pagelen=%d&page=%d", r.Host, strings.TrimSuffix(r.URL.Path, "/"), pagelen, page+1)
	}
	body, _ := json.Marshal(out)
	writeJSON(w, http.StatusOK, string(body))
}

// hookBody is what POST and PUT take.
type hookBody struct {
	Description string   `json:"description"`
	URL         string   `json:"url"`
	Active      bool     `json:"active"`
	Secret      *string  `json:"secret"`
	Events      []string `json:"events"`
}

func decodeBody(r *http.Request) (hookBody, bool) {
	var b hookBody
	err := json.NewDecoder(r.Body).Decode(&b)
	return b, err == nil && b.URL != "" && len(b.Events) > 0
}

func (b hookBody) apply(h *fakeHook) {
	h.Description, h.URL, h.Active, h.Events = b.Description, b.URL, b.Active, b.Events
	if b.Secret != nil {
		h.Secret, h.SecretSet = *b.Secret, *b.Secret != ""
	}
}

func (f *hookFake) create(w http.ResponseWriter, r *http.Request) {
	b, ok := decodeBody(r)
	if !ok {
		bbError(w, http.StatusBadRequest, "url and events are required")
		return
	}
	f.seq++
	h := &fakeHook{UUID: fmt.Sprintf("{00000000-0000-4000-8000-%012d}", f.seq), CreatedAt: time.Now().UTC()}
	b.apply(h)
	f.hooks = append(f.hooks, h)
	f.sort()
	f.writes = append(f.writes, "POST")
	body, _ := json.Marshal(h)
	writeJSON(w, http.StatusCreated, string(body))
}

func (f *hookFake) update(w http.ResponseWriter, r *http.Request) {
	h := f.find(r.PathValue("uid"))
	b, ok := decodeBody(r)
	switch {
	case h == nil:
		bbError(w, http.StatusNotFound, "Webhook not found")
		return
	case !ok:
		bbError(w, http.StatusBadRequest, "url and events are required")
		return
	}
	b.apply(h)
	f.writes = append(f.writes, "PUT "+h.UUID)
	body, _ := json.Marshal(h)
	writeJSON(w, http.StatusOK, string(body))
}

func (f *hookFake) delete(w http.ResponseWriter, r *http.Request) {
	h := f.find(r.PathValue("uid"))
	if h == nil {
		bbError(w, http.StatusNotFound, "Webhook not found")
		return
	}
	f.hooks = slices.DeleteFunc(f.hooks, func(x *fakeHook) bool { return x == h })
	f.writes = append(f.writes, "DELETE "+h.UUID)
	w.WriteHeader(http.StatusNoContent)
}

func (f *hookFake) find(uid string) *fakeHook {
	for _, h := range f.hooks {
		if h.UUID == uid {
			return h
		}
	}
	return nil
}

func (f *hookFake) state(url string) ([]fakeHook, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeHook
	for _, h := range f.hooks {
		if h.URL == url {
			c := *h
			c.Events = slices.Sorted(slices.Values(h.Events))
			out = append(out, c)
		}
	}
	return out, slices.Clone(f.writes)
}

func queryInt(r *http.Request, name string, def int) int {
	if n, err := strconv.Atoi(r.URL.Query().Get(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// uid is the n-th seeded hook's uuid; day orders their creation.
func uid(n int) string { return fmt.Sprintf("{aaaaaaaa-0000-4000-8000-%012d}", n) }

var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// good is forgelink's hook as Ensure leaves it, created on day.
func good(n, day int) fakeHook {
	return fakeHook{UUID: uid(n), URL: hookURL, Description: "forgelink", Active: true, Events: slices.Clone(allEvents),
		CreatedAt: epoch.AddDate(0, 0, day), Secret: hookSecret, SecretSet: true}
}

func others(ns ...int) []fakeHook {
	var out []fakeHook
	for _, n := range ns {
		out = append(out, fakeHook{UUID: uid(n), URL: fmt.Sprintf("%s/%d", otherHookURL, n), Active: true,
			Events: []string{"repo:push"}, CreatedAt: epoch})
	}
	return out
}

func with(h fakeHook, change func(*fakeHook)) fakeHook {
	change(&h)
	return h
}

func TestHooksEnsure(t *testing.T) {
	current := providers.HookSpec{URL: hookURL, Secret: hookSecret, SecretCurrent: true}
	rotated := providers.HookSpec{URL: hookURL, Secret: hookSecret}
	moved := providers.HookSpec{URL: hookURL, Secret: hookSecret, SecretCurrent: true, FormerURLs: []string{hookURL + "-legacy"}}
	tests := []struct {
		name       string
		seed       []fakeHook
		pageLen    int // the fake's cap; 0 for 100
		spec       providers.HookSpec
		want       providers.Hook // ID "new": the hook Ensure created
		wantWrites []string
		wantLists  []string
	}{
		{"absent", others(1, 2), 0, current, providers.Hook{ID: "new", Created: true}, []string{"POST"}, []string{"1"}},
		{"current", append(others(1), good(5, 0)), 0, current, providers.Hook{ID: uid(5)}, nil, []string{"1"}},
		{"events in another order", []fakeHook{with(good(5, 0), func(h *fakeHook) { slices.Reverse(h.Events) })}, 0, current,
			providers.Hook{ID: uid(5)}, nil, []string{"1"}},
		{"secret not current", []fakeHook{with(good(5, 0), func(h *fakeHook) { h.Secret = "old" })}, 0, rotated,
			providers.Hook{ID: uid(5), Updated: true}, []string{"PUT " + uid(5)}, []string{"1"}},
		{"no secret", []fakeHook{with(good(5, 0), func(h *fakeHook) { h.Secret, h.SecretSet = "", false })}, 0, current,
			providers.Hook{ID: uid(5), Updated: true}, []string{"PUT " + uid(5)}, []string{"1"}},
		{"inactive", []fakeHook{with(good(5, 0), func(h *fakeHook) { h.Active = false })}, 0, current,
			providers.Hook{ID: uid(5), Updated: true}, []string{"PUT " + uid(5)}, []string{"1"}},
		{"missing an event", []fakeHook{with(good(5, 0), func(h *fakeHook) { h.Events = h.Events[1:] })}, 0, current,
			providers.Hook{ID: uid(5), Updated: true}, []string{"PUT " + uid(5)}, []string{"1"}},
		{"an extra event", []fakeHook{with(good(5, 0), func(h *fakeHook) { h.Events = append(h.Events, "issue:created") })}, 0, current,
			providers.Hook{ID: uid(5), Updated: true}, []string{"PUT " + uid(5)}, []string{"1"}},
		{"on the last of 3 pages", append(others(1, 2, 3, 4), good(9, 0)), 2, current, providers.Hook{ID: uid(9)}, nil, []string{"1", "2", "3"}},
		{"absent from 3 pages", others(1, 2, 3, 4, 5), 2, current, providers.Hook{ID: "new", Created: true}, []string{"POST"}, []string{"1", "2", "3"}},
		{"at a former URL", append(others(1), with(good(5, 0), func(h *fakeHook) { h.URL = hookURL + "-legacy" })), 0, moved,
			providers.Hook{ID: uid(5), Updated: true}, []string{"PUT " + uid(5)}, []string{"1"}},
		{"duplicates, oldest listed last", []fakeHook{good(1, 3), good(2, 2), good(3, 1)}, 0, current,
			providers.Hook{ID: uid(3), Removed: 2}, []string{"DELETE " + uid(2), "DELETE " + uid(1)}, []string{"1"}},
		{"duplicates across pages, oldest inactive", []fakeHook{good(1, 5), with(good(9, 1), func(h *fakeHook) { h.Active = false })}, 1, current,
			providers.Hook{ID: uid(9), Removed: 1, Updated: true}, []string{"DELETE " + uid(1), "PUT " + uid(9)}, []string{"1", "2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, api := newHookFake(t, tc.seed...)
			if tc.pageLen > 0 {
				f.maxPageLen = tc.pageLen
			}
			h, err := NewHooks(http.DefaultClient, api, providers.Token{Value: "jdoe:" + appPassword})
			if err != nil {
				t.Fatal(err)
			}
			got, err := h.Ensure(t.Context(), repoName, tc.spec)
			if err != nil {
				t.Fatalf("Ensure: %v", err)
			}
			mine, writes := f.state(hookURL)
			if len(mine) != 1 {
				t.Fatalf("%d hooks with forgelink's URL, want 1: %+v", len(mine), mine)
			}
			want := tc.want
			if want.ID == "new" {
				want.ID = mine[0].UUID
				if strings.HasPrefix(want.ID, "{aaaaaaaa") {
					t.Errorf("hook %s is not a new one", want.ID)
				}
			}
			if got != want {
				t.Errorf("Ensure = %+v, want %+v", got, want)
			}
			if !slices.Equal(writes, tc.wantWrites) {
				t.Errorf("writes %q, want %q", writes, tc.wantWrites)
			}
			if !slices.Equal(f.lists, tc.wantLists) {
				t.Errorf("listed pages %q, want %q", f.lists, tc.wantLists)
			}
			wantHook := good(0, 0)
			wantHook.UUID, wantHook.CreatedAt = mine[0].UUID, mine[0].CreatedAt
			if fmt.Sprint(mine[0]) != fmt.Sprint(wantHook) {
				t.Errorf("hook left as %+v, want %+v", mine[0], wantHook)
			}
		})
	}
}

// Two daemons that see no hook both create one; the next Ensure leaves one.
func TestHooksEnsureConcurrent(t *testing.T) {
	f, api := newHookFake(t)
	f.listGate, f.gateN = make(chan struct{}), 2
	h, _ := NewHooks(http.DefaultClient, api, providers.Token{Value: accessToken, OAuth: true})
	spec := providers.HookSpec{URL: hookURL, Secret: hookSecret, SecretCurrent: true}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if _, err := h.Ensure(t.Context(), repoName, spec); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if mine, _ := f.state(hookURL); len(mine) != 2 {
		t.Fatalf("after the race: %d hooks, want 2", len(mine))
	}
	got, err := h.Ensure(t.Context(), repoName, spec)
	if err != nil {
		t.Fatal(err)
	}
	mine, _ := f.state(hookURL)
	if len(mine) != 1 || got.Removed != 1 || got.ID != mine[0].UUID {
		t.Errorf("Ensure = %+v, hooks %+v; want the one left, 1 removed", got, mine)
	}
}

func TestHooksAuth(t *testing.T) {
	tests := []struct {
		name string
		tok  providers.Token
		want string // "basic" or "bearer"
	}{
		{"app password", providers.Token{Value: "jdoe:" + appPassword}, "basic"},
		{"access token", providers.Token{Value: accessToken}, "bearer"},
		{"oauth token", providers.Token{Value: accessToken, OAuth: true}, "bearer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, api := newHookFake(t, good(5, 0))
			h, _ := NewHooks(http.DefaultClient, api, tc.tok)
			if _, err := h.Ensure(t.Context(), repoName, providers.HookSpec{URL: hookURL, Secret: hookSecret}); err != nil {
				t.Fatal(err)
			}
			if err := h.Delete(t.Context(), repoName, uid(5)); err != nil {
				t.Fatal(err)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if len(f.auth) != 3 || slices.ContainsFunc(f.auth, func(a string) bool { return a != tc.want }) {
				t.Errorf("requests authenticated as %q, want %s each", f.auth, tc.want)
			}
		})
	}
}

func TestHooksErrors(t *testing.T) {
	_, api := newHookFake(t, good(5, 0))
	spec := providers.HookSpec{URL: hookURL, Secret: hookSecret}
	ok := providers.Token{Value: accessToken}
	tests := []struct {
		name, api, repo string
		tok             providers.Token
		want            error
	}{
		{"bad app password", api, repoName, providers.Token{Value: "jdoe:wrong"}, providers.ErrTokenRejected},
		{"bad oauth token", api, repoName, providers.Token{Value: "jdoe:" + appPassword, OAuth: true}, providers.ErrTokenRejected},
		{"no webhook rights", api, repoName, providers.Token{Value: readOnlyToken}, providers.ErrTokenRejected},
		{"unknown repository", api, "acme/gadgets", ok, providers.ErrNotFound},
		{"not workspace/slug", api, "acme", ok, providers.ErrNotFound},
		{"server error", tokentest.Answer(t, 500, nil, `{"type":"error","error":{"message":"`+hookSecret+`"}}`), repoName, ok, providers.ErrProviderUnavailable},
		{"rate limited", tokentest.Answer(t, 429, nil, `{}`), repoName, ok, providers.ErrProviderUnavailable},
		{"unreachable", tokentest.Unreachable(), repoName, ok, providers.ErrProviderUnavailable},
		{"not JSON", tokentest.Answer(t, 200, nil, `<html>`), repoName, ok, providers.ErrProviderUnavailable},
		{"not an object", tokentest.Answer(t, 200, nil, `[1]`), repoName, ok, providers.ErrProviderUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewHooks(http.DefaultClient, tc.api, tc.tok)
			if err != nil {
				t.Fatal(err)
			}
			_, err = h.Ensure(t.Context(), tc.repo, spec)
			checkErr(t, err, tc.want, tc.tok.Value, appPassword, hookSecret)
		})
	}
}

// A listing that ends before the size Bitbucket announced must not be
// taken for all the hooks: Ensure would create a duplicate.
func TestHooksEnsureShortListing(t *testing.T) {
	var writes atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			writes.Add(1)
			writeJSON(w, http.StatusCreated, `{"uuid":"{new}","url":"`+hookURL+`","active":true}`)
			return
		}
		writeJSON(w, http.StatusOK, `{"pagelen":100,"size":3,"page":1,"values":[{"uuid":"{x}","url":"https://other"}]}`)
	}))
	t.Cleanup(srv.Close)
	h, _ := NewHooks(http.DefaultClient, srv.URL, providers.Token{Value: accessToken})
	_, err := h.Ensure(t.Context(), repoName, providers.HookSpec{URL: hookURL, Secret: hookSecret})
	checkErr(t, err, providers.ErrProviderUnavailable, accessToken)
	if n := writes.Load(); n != 0 {
		t.Errorf("%d writes after a short listing, want none", n)
	}
}

// checkErr fails t unless err is exactly of class want and shows none of
// secrets.
func checkErr(t *testing.T, err, want error, secrets ...string) {
	t.Helper()
	for _, class := range []error{providers.ErrTokenRejected, providers.ErrNotFound, providers.ErrProviderUnavailable} {
		if is := errors.Is(err, class); is != (class == want) {
			t.Errorf("error %v: errors.Is(%v) = %v", err, class, is)
		}
	}
	for _, s := range secrets {
		if err != nil && strings.Contains(err.Error(), s) {
			t.Errorf("error %q shows a secret", err)
		}
	}
}

func TestHooksDelete(t *testing.T) {
	f, api := newHookFake(t, append(others(1), good(5, 0))...)
	h, _ := NewHooks(http.DefaultClient, api, providers.Token{Value: "jdoe:" + appPassword})
	for _, tc := range []struct{ name, repo, id string }{
		{"existing", repoName, uid(5)},
		{"again", repoName, uid(5)},
		{"repository gone", "acme/gone", uid(5)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := h.Delete(t.Context(), tc.repo, tc.id); err != nil {
				t.Fatalf("Delete: %v", err)
			}
		})
	}
	if mine, writes := f.state(hookURL); len(mine) != 0 || !slices.Equal(writes, []string{"DELETE " + uid(5)}) {
		t.Errorf("hooks %+v, writes %q; want forgelink's deleted once", mine, writes)
	}
	if rest, _ := f.state(otherHookURL + "/1"); len(rest) != 1 {
		t.Error("the other hook was deleted")
	}
	bad, _ := NewHooks(http.DefaultClient, api, providers.Token{Value: "jdoe:wrong"})
	checkErr(t, bad.Delete(t.Context(), repoName, uid(1)), providers.ErrTokenRejected, "wrong")
}

// FuzzEnsureAnswer: whatever Bitbucket answers (every request gets body),
// Ensure returns a hook or an error of one class, and never panics. The
// client's timeout bounds next links the answer points elsewhere.
func FuzzEnsureAnswer(f *testing.F) {
	f.Add(`{"pagelen":10,"size":1,"page":1,"values":[{"uuid":"{a}","url":"` + hookURL + `","active":false,"events":["repo:push"]}]}`)
	f.Add(`{"values":[]}`)
	f.Add(`{"values":[null,{"created_at":"yesterday"}],"size":-1}`)
	f.Add(`[1]`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, body string) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, body)
		}))
		defer srv.Close()
		h, _ := NewHooks(&http.Client{Timeout: 5 * time.Second}, srv.URL, providers.Token{Value: accessToken})
		_, err := h.Ensure(t.Context(), repoName, providers.HookSpec{URL: hookURL, Secret: hookSecret})
		if err != nil {
			checkErr(t, err, providers.ErrProviderUnavailable, accessToken, hookSecret)
		}
	})
}
