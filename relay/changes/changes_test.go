package changes

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/providers/github"
	"github.com/forgelink/forgelink/providers/gitlab"
	"github.com/forgelink/forgelink/relay/notify"
	"github.com/forgelink/forgelink/store"
)

const (
	before = "1111111111111111111111111111111111111111"
	after  = "2222222222222222222222222222222222222222"
	token  = "ghp_s3cretTOKEN"
)

// fakeStore holds connections by id.
type fakeStore struct {
	conns map[string]store.Connection
}

func (s *fakeStore) GetConnection(_ context.Context, id string) (store.Connection, error) {
	c, ok := s.conns[id]
	if !ok {
		return store.Connection{}, store.ErrNotFound
	}
	return c, nil
}

// grant is what fakeCredentials answers for one connection.
type grant struct {
	api      string
	tok      providers.Token
	apiErr   error
	tokenErr error
}

// fakeCredentials answers by connection id, and fails a connection it does
// not know as setup.Service does one without a credential.
type fakeCredentials struct {
	grants map[string]grant
}

func (c *fakeCredentials) Token(_ context.Context, conn store.Connection) (providers.Token, error) {
	g, ok := c.grants[conn.ID]
	if !ok {
		return providers.Token{}, fmt.Errorf("token of connection %s: %w", conn.ID, store.ErrNotFound)
	}
	return g.tok, g.tokenErr
}

func (c *fakeCredentials) API(_ context.Context, conn store.Connection) (string, error) {
	g, ok := c.grants[conn.ID]
	if !ok {
		return "https://github.test/api/", nil
	}
	return g.api, g.apiErr
}

// call is one CompareFunc call.
type call struct {
	apiURL        string
	tok           providers.Token
	repo          string
	before, after string
}

// fakeCompare records its calls and answers with answer.
type fakeCompare struct {
	answer func(n int) (providers.ChangedFiles, error)
	gate   chan struct{} // when set, calls wait for it to close

	mu    sync.Mutex
	calls []call
}

func (f *fakeCompare) compare(ctx context.Context, _ *http.Client, apiURL string, tok providers.Token, repo, before, after string) (providers.ChangedFiles, error) {
	f.mu.Lock()
	n := len(f.calls)
	f.calls = append(f.calls, call{apiURL, tok, repo, before, after})
	f.mu.Unlock()
	if f.gate != nil {
		<-f.gate
	}
	if f.answer == nil {
		return providers.ChangedFiles{Added: []string{"docs/a.md"}}, nil
	}
	return f.answer(n)
}

func (f *fakeCompare) made() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// rejection is one Options.Rejected call.
type rejection struct{ connID, reason string }

// fixture is a resolver over a store with one connection of each kind:
// "gh" (github.com, a personal token), "app" (a GitHub App installation
// token), "ghes" (on a host), "gl" (a GitLab OAuth token), "bb"
// (Bitbucket), "nohost" (its host gone), "plain" (a host on plain HTTP
// not allowed), "refused" (a refresh the provider refused) and "nocred"
// (no credential).
type fixture struct {
	st      *fakeStore
	creds   *fakeCredentials
	compare *fakeCompare
	opts    Options

	mu       sync.Mutex
	rejected []rejection
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pat := providers.Token{Value: token}
	f := &fixture{compare: &fakeCompare{}, st: &fakeStore{conns: map[string]store.Connection{}},
		creds: &fakeCredentials{grants: map[string]grant{
			"gh":     {api: "https://github.test/api/", tok: pat},
			"app":    {api: "https://github.test/api/", tok: providers.Token{Value: "ghs_installation"}},
			"ghes":   {api: "https://ghes.example.com/api/v3/", tok: pat},
			"gl":     {api: "https://gitlab.test/api/v4", tok: providers.Token{Value: "gloat-oauth", OAuth: true}},
			"bb":     {api: "https://api.bitbucket.test/2.0", tok: pat},
			"nohost": {apiErr: fmt.Errorf("host of connection nohost: %w", store.ErrNotFound)},
			"plain":  {apiErr: errors.New("host h has the plain-HTTP endpoint http://ghes.internal")},
			"refused": {api: "https://gitlab.test/api/v4",
				tokenErr: fmt.Errorf("refresh token of connection refused: %w: invalid_grant", providers.ErrTokenRejected)},
		}}}
	for _, c := range []struct{ id, provider string }{
		{"gh", store.ProviderGitHub},
		{"app", store.ProviderGitHub},
		{"ghes", store.ProviderGitHubEnterpriseServer},
		{"gl", store.ProviderGitLab},
		{"bb", store.ProviderBitbucket},
		{"nohost", store.ProviderGitLabSelfManaged},
		{"plain", store.ProviderGitHubEnterpriseServer},
		{"refused", store.ProviderGitLab},
		{"nocred", store.ProviderGitHub},
	} {
		f.st.conns[c.id] = store.Connection{ID: c.id, ProviderType: c.provider, Status: store.StatusAvailable}
	}
	cmp := f.compare.compare
	f.opts = Options{
		Store: f.st, Credentials: f.creds, Client: http.DefaultClient,
		Rejected: func(_ context.Context, connID, reason string) {
			f.mu.Lock()
			f.rejected = append(f.rejected, rejection{connID, reason})
			f.mu.Unlock()
		},
		Compare: map[string]CompareFunc{
			store.ProviderGitHub: cmp, store.ProviderGitHubEnterpriseServer: cmp,
			store.ProviderGitLab: cmp, store.ProviderGitLabSelfManaged: cmp, store.ProviderBitbucket: cmp,
		},
	}
	return f
}

func (f *fixture) rejections() []rejection {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.rejected)
}

// message is a delivery of a push to main of repo on connection conn.
func message(conn, repo, before string) (store.Delivery, *notify.Message) {
	return store.Delivery{ID: "d-" + conn, ConnectionID: conn, Pipeline: "build"},
		&notify.Message{
			Repository:      providers.Repository{FullName: repo},
			Push:            &providers.Push{Ref: "refs/heads/main", RefType: providers.RefBranch, RefName: "main", Before: before, After: after, FilesIncomplete: true},
			FilesIncomplete: true,
		}
}

func TestChangedFiles(t *testing.T) {
	pat := providers.Token{Value: token}
	tests := []struct {
		conn    string
		apiURL  string // "" when the provider must not be asked
		tok     providers.Token
		wantErr error
	}{
		{conn: "gh", apiURL: "https://github.test/api/", tok: pat},
		{conn: "app", apiURL: "https://github.test/api/", tok: providers.Token{Value: "ghs_installation"}},
		{conn: "ghes", apiURL: "https://ghes.example.com/api/v3/", tok: pat},
		{conn: "gl", apiURL: "https://gitlab.test/api/v4", tok: providers.Token{Value: "gloat-oauth", OAuth: true}},
		{conn: "bb", apiURL: "https://api.bitbucket.test/2.0", tok: pat},
		{conn: "nohost", wantErr: store.ErrNotFound},
		{conn: "plain", wantErr: errAny},
		{conn: "refused", wantErr: providers.ErrNoFileList},
		{conn: "nocred", wantErr: store.ErrNotFound},
		{conn: "deleted", wantErr: store.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.conn, func(t *testing.T) {
			f := newFixture(t)
			d, m := message(tc.conn, "Octo/API", before)
			files, err := New(f.opts).ChangedFiles(t.Context(), d, m)
			if (tc.wantErr != nil) != (err != nil) || tc.wantErr != errAny && !errors.Is(err, tc.wantErr) {
				t.Fatalf("ChangedFiles = %v, %v; want error %v", files, err, tc.wantErr)
			}
			if err != nil && errors.Is(err, providers.ErrProviderUnavailable) {
				t.Errorf("ChangedFiles = %v: would be retried", err)
			}
			var want []call
			if tc.apiURL != "" {
				want = []call{{tc.apiURL, tc.tok, "Octo/API", before, after}}
				if !slices.Equal(files.Added, []string{"docs/a.md"}) {
					t.Errorf("files = %+v, want the provider's", files)
				}
			}
			if got := f.compare.made(); !slices.Equal(got, want) {
				t.Errorf("compare calls %+v, want %+v", got, want)
			}
			if got := f.rejections(); len(got) != 0 {
				t.Errorf("rejections %+v, want none", got)
			}
		})
	}
}

// errAny stands for any error in test tables.
var errAny = errors.New("any error")

// TestTokenRejected checks that a token the provider refuses is told to
// Options.Rejected once, and makes a list that cannot be had, kept.
func TestTokenRejected(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"refused as CompareError classifies it", providers.CompareError(401, errors.New("401"))},
		{"refused without a list error", fmt.Errorf("compare: %w", providers.ErrTokenRejected)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.compare.answer = func(int) (providers.ChangedFiles, error) { return providers.ChangedFiles{}, tc.err }
			r := New(f.opts)
			for range 2 {
				d, m := message("gl", "group/api", before)
				if _, err := r.ChangedFiles(t.Context(), d, m); !errors.Is(err, providers.ErrNoFileList) || !errors.Is(err, providers.ErrTokenRejected) {
					t.Errorf("ChangedFiles = %v, want ErrNoFileList and ErrTokenRejected", err)
				}
			}
			if got := f.rejections(); len(got) != 1 || got[0] != (rejection{"gl", reasonRejected}) {
				t.Errorf("rejections %+v, want one of gl", got)
			}
			if n := len(f.compare.made()); n != 1 {
				t.Errorf("the provider was asked %d times, want once", n)
			}
		})
	}
	t.Run("without Rejected", func(t *testing.T) {
		f := newFixture(t)
		f.opts.Rejected = nil
		f.compare.answer = func(int) (providers.ChangedFiles, error) {
			return providers.ChangedFiles{}, providers.CompareError(401, errors.New("401"))
		}
		d, m := message("gh", "octo/api", before)
		if _, err := New(f.opts).ChangedFiles(t.Context(), d, m); !errors.Is(err, providers.ErrNoFileList) {
			t.Errorf("ChangedFiles = %v, want ErrNoFileList", err)
		}
	})
}

// TestNothingToCompare checks that a created branch and a message that is
// not a push are answered without a look at the store or the provider.
func TestNothingToCompare(t *testing.T) {
	f := newFixture(t)
	f.opts.Store, f.opts.Credentials = nil, nil // any use panics
	r := New(f.opts)
	d, m := message("gh", "octo/api", providers.ZeroSHA)
	if _, err := r.ChangedFiles(t.Context(), d, m); !errors.Is(err, providers.ErrNoFileList) {
		t.Errorf("created branch: %v, want ErrNoFileList", err)
	}
	m.Push = nil
	if _, err := r.ChangedFiles(t.Context(), d, m); !errors.Is(err, providers.ErrNoFileList) {
		t.Errorf("pull request: %v, want ErrNoFileList", err)
	}
}

// TestCache checks that the deliveries of one push ask the provider once,
// concurrent ones included, and that failures that may pass are asked
// again.
func TestCache(t *testing.T) {
	f := newFixture(t)
	f.compare.gate = make(chan struct{})
	r := New(f.opts)
	d, m := message("gh", "octo/api", before)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 5 {
		wg.Go(func() {
			if files, err := r.ChangedFiles(t.Context(), d, m); err != nil || len(files.Added) != 1 {
				failed.Add(1)
			}
		})
	}
	for len(f.compare.made()) == 0 {
		time.Sleep(time.Millisecond)
	}
	close(f.compare.gate)
	wg.Wait()
	// Another pipeline's delivery of the same push, the repository spelt
	// otherwise.
	d2, m2 := message("gh", "OCTO/api", before)
	d2.ID = "d-other"
	if _, err := r.ChangedFiles(t.Context(), d2, m2); err != nil {
		failed.Add(1)
	}
	if n := failed.Load(); n != 0 {
		t.Errorf("%d calls failed", n)
	}
	if n := len(f.compare.made()); n != 1 {
		t.Errorf("the provider was asked %d times, want once", n)
	}

	// Another push is another comparison.
	_, m3 := message("gh", "octo/api", "3333333333333333333333333333333333333333")
	r.ChangedFiles(t.Context(), d, m3)
	if n := len(f.compare.made()); n != 2 {
		t.Errorf("the provider was asked %d times, want twice", n)
	}
}

func TestCacheFailures(t *testing.T) {
	unavailable := fmt.Errorf("%w: HTTP 502", providers.ErrProviderUnavailable)
	noList := fmt.Errorf("%w: too many files", providers.ErrNoFileList)
	for _, tc := range []struct {
		name  string
		err   error
		calls int
	}{
		{"unavailable is asked again", unavailable, 2},
		{"no list is kept", noList, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.compare.answer = func(int) (providers.ChangedFiles, error) { return providers.ChangedFiles{}, tc.err }
			r := New(f.opts)
			d, m := message("gh", "octo/api", before)
			for range 2 {
				if _, err := r.ChangedFiles(t.Context(), d, m); !errors.Is(err, tc.err) {
					t.Errorf("ChangedFiles: %v, want %v", err, tc.err)
				}
			}
			if n := len(f.compare.made()); n != tc.calls {
				t.Errorf("the provider was asked %d times, want %d", n, tc.calls)
			}
		})
	}
}

// TestCacheExpiry checks that kept answers are asked again after the TTL,
// and that the cache stays within its bounds.
func TestCacheExpiry(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	f.opts.Now = func() time.Time { return now }
	r := New(f.opts)
	d, m := message("gh", "octo/api", before)
	r.ChangedFiles(t.Context(), d, m)
	now = now.Add(cacheTTL)
	r.ChangedFiles(t.Context(), d, m)
	if n := len(f.compare.made()); n != 2 {
		t.Errorf("the provider was asked %d times, want twice", n)
	}
	for i := range 2 * cacheEntries {
		_, m := message("gh", "octo/api", fmt.Sprintf("%040d", i+1))
		r.ChangedFiles(t.Context(), d, m)
	}
	if n, o := len(r.entries), len(r.order); n != cacheEntries || o != cacheEntries {
		t.Errorf("cache holds %d entries (%d ordered), want %d", n, o, cacheEntries)
	}
}

// TestProviders runs the resolver with the providers' packages against
// fake APIs: each sees the connection's token as its kind of credential
// is sent.
func TestProviders(t *testing.T) {
	tests := []struct {
		name, provider string
		compare        CompareFunc
		tok            providers.Token
		answer         string
		header, want   string // the header the provider reads the token from, and its value
	}{
		{"github installation token", store.ProviderGitHub, github.CompareFiles, providers.Token{Value: "ghs_inst"},
			`{"files":[{"filename":"docs/a.md","status":"added"}]}`, "Authorization", "Bearer ghs_inst"},
		{"gitlab oauth token", store.ProviderGitLab, gitlab.CompareFiles, providers.Token{Value: "gloat-x", OAuth: true},
			`{"diffs":[{"old_path":"docs/a.md","new_path":"docs/a.md","new_file":true}]}`, "Authorization", "Bearer gloat-x"},
		{"gitlab personal token", store.ProviderGitLab, gitlab.CompareFiles, providers.Token{Value: "glpat-x"},
			`{"diffs":[{"old_path":"docs/a.md","new_path":"docs/a.md","new_file":true}]}`, "Private-Token", "glpat-x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.Header.Get(tc.header)
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(tc.answer))
			}))
			t.Cleanup(srv.Close)
			f := newFixture(t)
			f.st.conns["c"] = store.Connection{ID: "c", ProviderType: tc.provider, Status: store.StatusAvailable}
			f.creds.grants["c"] = grant{api: srv.URL, tok: tc.tok}
			f.opts.Compare[tc.provider] = tc.compare
			d, m := message("c", "octo/api", before)
			files, err := New(f.opts).ChangedFiles(t.Context(), d, m)
			if err != nil || !slices.Equal(files.Added, []string{"docs/a.md"}) {
				t.Fatalf("ChangedFiles = %+v, %v", files, err)
			}
			if got != tc.want {
				t.Errorf("%s: %q, want %q", tc.header, got, tc.want)
			}
		})
	}
}
