package gitlab

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/providers/internal/tokentest"
)

const (
	hookURL      = "https://forgelink.example.com/webhooks/gitlab/c0ffee"
	hookSecret   = "whsec-s3cretHOOK"
	projectPath  = "group/sub/project"
	projectID    = 42
	oauthToken   = "gloat-s3cretOAUTH"
	reporterPAT  = "glpat-s3cretREPORTER"
	otherHookURL = "https://ci.example.com/hook"
)

// fakeHook is a project hook as the fake keeps it; Token and SigningToken
// are never shown.
type fakeHook struct {
	ID                     int64      `json:"id"`
	ProjectID              int64      `json:"project_id"`
	URL                    string     `json:"url"`
	Name                   string     `json:"name"`
	Token                  string     `json:"-"`
	SigningToken           string     `json:"-"`
	PushEvents             bool       `json:"push_events"`
	PushEventsBranchFilter string     `json:"push_events_branch_filter"`
	BranchFilterStrategy   string     `json:"branch_filter_strategy"`
	TagPushEvents          bool       `json:"tag_push_events"`
	MergeRequestsEvents    bool       `json:"merge_requests_events"`
	EnableSSLVerification  bool       `json:"enable_ssl_verification"`
	AlertStatus            string     `json:"alert_status"`
	DisabledUntil          *time.Time `json:"disabled_until"`
	CreatedAt              time.Time  `json:"created_at"`
}

// hookFake serves GitLab's project hooks API (/api/v4/projects/:id/hooks)
// for project 42, "group/sub/project": offset pagination with per_page
// capped at maxPerPage (GitLab: 100) and X-Next-Page; PRIVATE-TOKEN or
// OAuth bearer auth, 403 below Maintainer; 404 for other projects.
type hookFake struct {
	mu         sync.Mutex
	hooks      []*fakeHook // by id
	nextID     int64
	maxPerPage int
	writes     []string // "POST", "PUT <id>", "DELETE <id>"
	lists      []string // the page numbers listed
	auth       []string // "private" or "bearer", per request
	// listGate, when set, holds every listing until gateN have arrived,
	// so that concurrent Ensure calls all see the same hooks.
	listGate chan struct{}
	gateN    int
}

func newHookFake(t *testing.T, seed ...fakeHook) (*hookFake, string) {
	t.Helper()
	f := &hookFake{nextID: 100, maxPerPage: 100}
	for _, h := range seed {
		h.ProjectID = projectID
		f.hooks = append(f.hooks, &h)
	}
	slices.SortFunc(f.hooks, func(a, b *fakeHook) int { return int(a.ID - b.ID) })
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v4/projects/{id}/hooks", f.handle(f.list))
	mux.HandleFunc("POST /api/v4/projects/{id}/hooks", f.handle(f.create))
	mux.HandleFunc("PUT /api/v4/projects/{id}/hooks/{hook}", f.handle(f.update))
	mux.HandleFunc("DELETE /api/v4/projects/{id}/hooks/{hook}", f.handle(f.delete))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv.URL + "/api/v4"
}

// handle authenticates and resolves the project, then runs h under the
// fake's lock.
func (f *hookFake) handle(h func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		kind, token := "private", r.Header.Get("Private-Token")
		if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			kind, token = "bearer", bearer
		}
		f.mu.Lock()
		f.auth = append(f.auth, kind)
		f.mu.Unlock()
		switch {
		case kind == "private" && token == personalToken, kind == "bearer" && token == oauthToken:
		case kind == "private" && token == reporterPAT:
			writeJSON(w, http.StatusForbidden, `{"message":"403 Forbidden"}`)
			return
		default:
			writeJSON(w, http.StatusUnauthorized, `{"message":"401 Unauthorized"}`)
			return
		}
		if id := r.PathValue("id"); id != projectPath && id != strconv.Itoa(projectID) {
			writeJSON(w, http.StatusNotFound, `{"message":"404 Project Not Found"}`)
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
		writeJSON(w, http.StatusGatewayTimeout, `{}`)
	}
}

func (f *hookFake) list(w http.ResponseWriter, r *http.Request) {
	perPage := queryInt(r, "per_page", 20)
	perPage = min(perPage, f.maxPerPage)
	page := queryInt(r, "page", 1)
	f.lists = append(f.lists, strconv.Itoa(page))
	total := len(f.hooks)
	pages := max(1, (total+perPage-1)/perPage)
	from, to := min(total, (page-1)*perPage), min(total, page*perPage)
	h := w.Header()
	h.Set("X-Page", strconv.Itoa(page))
	h.Set("X-Per-Page", strconv.Itoa(perPage))
	h.Set("X-Total", strconv.Itoa(total))
	h.Set("X-Total-Pages", strconv.Itoa(pages))
	h.Set("X-Next-Page", "")
	if page < pages {
		h.Set("X-Next-Page", strconv.Itoa(page+1))
	}
	body, _ := json.Marshal(f.hooks[from:to])
	w.Write(body)
}

// hookParams are the writable fields of POST and PUT, as GitLab reads them
// from a JSON body.
type hookParams struct {
	URL                    *string `json:"url"`
	Name                   *string `json:"name"`
	Token                  *string `json:"token"`
	SigningToken           *string `json:"signing_token"`
	PushEvents             *bool   `json:"push_events"`
	PushEventsBranchFilter *string `json:"push_events_branch_filter"`
	BranchFilterStrategy   *string `json:"branch_filter_strategy"`
	TagPushEvents          *bool   `json:"tag_push_events"`
	MergeRequestsEvents    *bool   `json:"merge_requests_events"`
	EnableSSLVerification  *bool   `json:"enable_ssl_verification"`
}

func (p hookParams) apply(h *fakeHook) {
	set(&h.URL, p.URL)
	set(&h.Name, p.Name)
	set(&h.Token, p.Token)
	set(&h.SigningToken, p.SigningToken)
	set(&h.PushEvents, p.PushEvents)
	set(&h.PushEventsBranchFilter, p.PushEventsBranchFilter)
	set(&h.BranchFilterStrategy, p.BranchFilterStrategy)
	set(&h.TagPushEvents, p.TagPushEvents)
	set(&h.MergeRequestsEvents, p.MergeRequestsEvents)
	set(&h.EnableSSLVerification, p.EnableSSLVerification)
}

// valid reports whether the parameters are what GitLab's API accepts: a
// signing token is "whsec_" and the base64 of a 32-byte key.
func (p hookParams) valid() bool {
	if p.SigningToken == nil {
		return true
	}
	b64, ok := strings.CutPrefix(*p.SigningToken, "whsec_")
	key, err := base64.StdEncoding.DecodeString(b64)
	return ok && err == nil && len(key) == 32
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func (f *hookFake) create(w http.ResponseWriter, r *http.Request) {
	var p hookParams
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil || p.URL == nil || !p.valid() {
		writeJSON(w, http.StatusBadRequest, `{"error":"url is missing or signing_token is invalid"}`)
		return
	}
	f.nextID++
	h := &fakeHook{ID: f.nextID, ProjectID: projectID, PushEvents: true, EnableSSLVerification: true,
		AlertStatus: "executable", CreatedAt: time.Now().UTC()}
	p.apply(h)
	f.hooks = append(f.hooks, h)
	f.writes = append(f.writes, "POST")
	body, _ := json.Marshal(h)
	writeJSON(w, http.StatusCreated, string(body))
}

func (f *hookFake) update(w http.ResponseWriter, r *http.Request) {
	h := f.find(r.PathValue("hook"))
	if h == nil {
		writeJSON(w, http.StatusNotFound, `{"message":"404 Not found"}`)
		return
	}
	var p hookParams
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil || !p.valid() {
		writeJSON(w, http.StatusBadRequest, `{"error":"bad request"}`)
		return
	}
	p.apply(h)
	f.writes = append(f.writes, "PUT "+r.PathValue("hook"))
	body, _ := json.Marshal(h)
	writeJSON(w, http.StatusOK, string(body))
}

func (f *hookFake) delete(w http.ResponseWriter, r *http.Request) {
	h := f.find(r.PathValue("hook"))
	if h == nil {
		writeJSON(w, http.StatusNotFound, `{"message":"404 Not found"}`)
		return
	}
	f.hooks = slices.DeleteFunc(f.hooks, func(x *fakeHook) bool { return x == h })
	f.writes = append(f.writes, "DELETE "+r.PathValue("hook"))
	w.WriteHeader(http.StatusNoContent)
}

func (f *hookFake) find(id string) *fakeHook {
	for _, h := range f.hooks {
		if strconv.FormatInt(h.ID, 10) == id {
			return h
		}
	}
	return nil
}

// state returns copies of the hooks with url, and the writes so far.
func (f *hookFake) state(url string) ([]fakeHook, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeHook
	for _, h := range f.hooks {
		if h.URL == url {
			out = append(out, *h)
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

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write([]byte(body))
}

// good is forgelink's hook as Ensure leaves it.
func good(id int64) fakeHook {
	return fakeHook{ID: id, URL: hookURL, Name: "forgelink", Token: hookSecret, SigningToken: SigningToken([]byte(hookSecret)), PushEvents: true, TagPushEvents: true,
		MergeRequestsEvents: true, EnableSSLVerification: true, AlertStatus: "executable"}
}

func others(ids ...int64) []fakeHook {
	var out []fakeHook
	for _, id := range ids {
		out = append(out, fakeHook{ID: id, URL: fmt.Sprintf("%s/%d", otherHookURL, id), PushEvents: true, AlertStatus: "executable"})
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
	until := time.Now().Add(time.Hour)
	tests := []struct {
		name       string
		seed       []fakeHook
		perPage    int // the fake's cap; 0 for GitLab's 100
		spec       providers.HookSpec
		want       providers.Hook // ID "new": the hook Ensure created
		wantWrites []string
		wantLists  []string
	}{
		{"absent", others(1, 2), 0, current, providers.Hook{ID: "new", Created: true}, []string{"POST"}, []string{"1"}},
		{"current", append(others(1), good(5)), 0, current, providers.Hook{ID: "5"}, nil, []string{"1"}},
		{"secret not current", []fakeHook{with(good(5), func(h *fakeHook) { h.Token, h.SigningToken = "old", "" })}, 0, rotated,
			providers.Hook{ID: "5", Updated: true}, []string{"PUT 5"}, []string{"1"}},
		{"merge request events off", []fakeHook{with(good(5), func(h *fakeHook) { h.MergeRequestsEvents = false })}, 0, current,
			providers.Hook{ID: "5", Updated: true}, []string{"PUT 5"}, []string{"1"}},
		{"tag pushes off", []fakeHook{with(good(5), func(h *fakeHook) { h.TagPushEvents = false })}, 0, current,
			providers.Hook{ID: "5", Updated: true}, []string{"PUT 5"}, []string{"1"}},
		{"branch filter", []fakeHook{with(good(5), func(h *fakeHook) { h.PushEventsBranchFilter = "main" })}, 0, current,
			providers.Hook{ID: "5", Updated: true}, []string{"PUT 5"}, []string{"1"}},
		{"TLS verification off", []fakeHook{with(good(5), func(h *fakeHook) { h.EnableSSLVerification = false })}, 0, current,
			providers.Hook{ID: "5", Updated: true}, []string{"PUT 5"}, []string{"1"}},
		{"disabled", []fakeHook{with(good(5), func(h *fakeHook) { h.AlertStatus = "disabled" })}, 0, current,
			providers.Hook{ID: "new", Updated: true}, []string{"POST", "DELETE 5"}, []string{"1"}},
		{"temporarily disabled", []fakeHook{with(good(5), func(h *fakeHook) { h.AlertStatus = "temporarily_disabled"; h.DisabledUntil = &until })}, 0, current,
			providers.Hook{ID: "new", Updated: true}, []string{"POST", "DELETE 5"}, []string{"1"}},
		{"on the last of 3 pages", append(others(1, 2, 3, 4), good(9)), 2, current, providers.Hook{ID: "9"}, nil, []string{"1", "2", "3"}},
		{"absent from 3 pages", others(1, 2, 3, 4, 5), 2, current, providers.Hook{ID: "new", Created: true}, []string{"POST"}, []string{"1", "2", "3"}},
		{"at a former URL", append(others(1), with(good(5), func(h *fakeHook) { h.URL = hookURL + "-legacy" })), 0, moved,
			providers.Hook{ID: "5", Updated: true}, []string{"PUT 5"}, []string{"1"}},
		{"at a former URL and the current one", []fakeHook{good(7), with(good(3), func(h *fakeHook) { h.URL = hookURL + "-legacy" })}, 0, moved,
			providers.Hook{ID: "3", Removed: 1, Updated: true}, []string{"DELETE 7", "PUT 3"}, []string{"1"}},
		{"duplicates", []fakeHook{good(7), good(3), good(9)}, 0, current, providers.Hook{ID: "3", Removed: 2}, []string{"DELETE 7", "DELETE 9"}, []string{"1"}},
		{"duplicates across pages, oldest drifted", append(append(others(1), good(8)), with(good(4), func(h *fakeHook) { h.PushEvents = false })), 1, current,
			providers.Hook{ID: "4", Removed: 1, Updated: true}, []string{"DELETE 8", "PUT 4"}, []string{"1", "2", "3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, api := newHookFake(t, tc.seed...)
			if tc.perPage > 0 {
				f.maxPerPage = tc.perPage
			}
			h, err := NewHooks(http.DefaultClient, api, providers.Token{Value: personalToken})
			if err != nil {
				t.Fatal(err)
			}
			got, err := h.Ensure(t.Context(), projectPath, tc.spec)
			if err != nil {
				t.Fatalf("Ensure: %v", err)
			}
			mine, writes := f.state(hookURL)
			if len(mine) != 1 {
				t.Fatalf("%d hooks with forgelink's URL, want 1: %+v", len(mine), mine)
			}
			want := tc.want
			if want.ID == "new" {
				want.ID = strconv.FormatInt(mine[0].ID, 10)
				if mine[0].ID <= 100 {
					t.Errorf("hook %d is not a new one", mine[0].ID)
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
			wantHook := good(mine[0].ID)
			wantHook.ProjectID, wantHook.CreatedAt = projectID, mine[0].CreatedAt
			if mine[0].BranchFilterStrategy == "all_branches" {
				wantHook.BranchFilterStrategy = "all_branches"
			}
			if mine[0] != wantHook {
				t.Errorf("hook left as %+v, want %+v", mine[0], wantHook)
			}
		})
	}
}

func TestHooksEnsurePlainHTTP(t *testing.T) {
	f, api := newHookFake(t)
	h, _ := NewHooks(http.DefaultClient, api, providers.Token{Value: personalToken})
	spec := providers.HookSpec{URL: "http://forgelink.internal/webhooks/gitlab/1", Secret: hookSecret}
	if _, err := h.Ensure(t.Context(), projectPath, spec); err != nil {
		t.Fatal(err)
	}
	mine, _ := f.state(spec.URL)
	if len(mine) != 1 || mine[0].EnableSSLVerification {
		t.Fatalf("hooks %+v, want one without TLS verification", mine)
	}
	spec.SecretCurrent = true
	if got, err := h.Ensure(t.Context(), projectPath, spec); err != nil || got.Updated {
		t.Errorf("second Ensure = %+v, %v; want nothing to repair", got, err)
	}
}

// Two daemons that see no hook both create one; the next Ensure leaves one.
func TestHooksEnsureConcurrent(t *testing.T) {
	f, api := newHookFake(t)
	f.listGate, f.gateN = make(chan struct{}), 2
	h, _ := NewHooks(http.DefaultClient, api, providers.Token{Value: personalToken})
	spec := providers.HookSpec{URL: hookURL, Secret: hookSecret, SecretCurrent: true}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if _, err := h.Ensure(t.Context(), projectPath, spec); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if mine, _ := f.state(hookURL); len(mine) != 2 {
		t.Fatalf("after the race: %d hooks, want 2", len(mine))
	}
	got, err := h.Ensure(t.Context(), projectPath, spec)
	if err != nil {
		t.Fatal(err)
	}
	mine, _ := f.state(hookURL)
	if len(mine) != 1 || got.Removed != 1 || got.ID != strconv.FormatInt(mine[0].ID, 10) {
		t.Errorf("Ensure = %+v, hooks %+v; want the one left, 1 removed", got, mine)
	}
}

func TestHooksAuth(t *testing.T) {
	tests := []struct {
		name string
		tok  providers.Token
		want string // "private" or "bearer"
	}{
		{"personal token", providers.Token{Value: personalToken}, "private"},
		{"oauth token", providers.Token{Value: oauthToken, OAuth: true}, "bearer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, api := newHookFake(t, good(5))
			h, _ := NewHooks(http.DefaultClient, api, tc.tok)
			spec := providers.HookSpec{URL: hookURL, Secret: hookSecret}
			if _, err := h.Ensure(t.Context(), projectPath, spec); err != nil {
				t.Fatal(err)
			}
			if err := h.Delete(t.Context(), projectPath, "5"); err != nil {
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
	_, api := newHookFake(t, good(5))
	spec := providers.HookSpec{URL: hookURL, Secret: hookSecret}
	tests := []struct {
		name, api, repo string
		tok             providers.Token
		want            error
	}{
		{"bad token", api, projectPath, providers.Token{Value: "glpat-wrong"}, providers.ErrTokenRejected},
		{"bad oauth token", api, projectPath, providers.Token{Value: personalToken, OAuth: true}, providers.ErrTokenRejected},
		{"not a maintainer", api, projectPath, providers.Token{Value: reporterPAT}, providers.ErrTokenRejected},
		{"unknown project", api, "group/other", providers.Token{Value: personalToken}, providers.ErrNotFound},
		{"no project", api, "", providers.Token{Value: personalToken}, providers.ErrNotFound},
		{"server error", tokentest.Answer(t, 500, nil, `{"message":"500 Internal Server Error `+hookSecret+`"}`), projectPath, providers.Token{Value: personalToken}, providers.ErrProviderUnavailable},
		{"rate limited", tokentest.Answer(t, 429, nil, `{"message":"429"}`), projectPath, providers.Token{Value: personalToken}, providers.ErrProviderUnavailable},
		{"unreachable", tokentest.Unreachable(), projectPath, providers.Token{Value: personalToken}, providers.ErrProviderUnavailable},
		{"not JSON", tokentest.Answer(t, 200, nil, `<html>`), projectPath, providers.Token{Value: personalToken}, providers.ErrProviderUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewHooks(http.DefaultClient, tc.api, tc.tok)
			if err != nil {
				t.Fatal(err)
			}
			_, err = h.Ensure(t.Context(), tc.repo, spec)
			checkErr(t, err, tc.want, tc.tok.Value, hookSecret)
		})
	}
}

// checkErr fails t unless err is exactly one of the classes and shows
// none of secrets.
func checkErr(t *testing.T, err, want error, secrets ...string) {
	t.Helper()
	classes := []error{providers.ErrTokenRejected, providers.ErrNotFound, providers.ErrProviderUnavailable}
	for _, class := range classes {
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
	f, api := newHookFake(t, append(others(1), good(5))...)
	h, _ := NewHooks(http.DefaultClient, api, providers.Token{Value: personalToken})
	tests := []struct {
		name, repo, id string
		want           error
	}{
		{"existing", projectPath, "5", nil},
		{"again", projectPath, "5", nil},
		{"by project id", "42", "5", nil},
		{"project gone", "group/gone", "5", nil},
		{"not an id", projectPath, "{uuid}", providers.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := h.Delete(t.Context(), tc.repo, tc.id)
			if tc.want == nil && err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if tc.want != nil {
				checkErr(t, err, tc.want, personalToken)
			}
		})
	}
	if mine, writes := f.state(hookURL); len(mine) != 0 || !slices.Equal(writes, []string{"DELETE 5"}) {
		t.Errorf("hooks %+v, writes %q; want forgelink's deleted once", mine, writes)
	}
	if rest, _ := f.state(otherHookURL + "/1"); len(rest) != 1 {
		t.Errorf("the other hook was deleted")
	}
	bad, _ := NewHooks(http.DefaultClient, api, providers.Token{Value: "glpat-wrong"})
	checkErr(t, bad.Delete(t.Context(), projectPath, "1"), providers.ErrTokenRejected, "glpat-wrong")
}

// FuzzEnsureAnswer: whatever GitLab answers (every request gets body),
// Ensure returns a hook or an error of one class, and never panics.
func FuzzEnsureAnswer(f *testing.F) {
	f.Add(`[{"id":3,"url":"` + hookURL + `","alert_status":"disabled"}]`)
	f.Add(`[]`)
	f.Add(`[null,{"id":-1,"disabled_until":"soon"}]`)
	f.Add(`{"id":1}`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, body string) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, body)
		}))
		defer srv.Close()
		h, _ := NewHooks(&http.Client{Timeout: 5 * time.Second}, srv.URL+"/api/v4", providers.Token{Value: personalToken})
		_, err := h.Ensure(t.Context(), projectPath, providers.HookSpec{URL: hookURL, Secret: hookSecret})
		if err != nil {
			checkErr(t, err, providers.ErrProviderUnavailable, personalToken, hookSecret)
		}
	})
}
