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

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/providers/github"
	"github.com/forgelink/forgelink/relay/keyring"
	"github.com/forgelink/forgelink/relay/notify"
	"github.com/forgelink/forgelink/store"
)

const (
	before = "1111111111111111111111111111111111111111"
	after  = "2222222222222222222222222222222222222222"
	token  = "ghp_s3cretTOKEN"
)

// fakeStore holds connections, hosts and credentials by id.
type fakeStore struct {
	conns map[string]store.Connection
	hosts map[string]store.Host
	creds map[string]store.Credential
}

func (s *fakeStore) GetConnection(_ context.Context, id string) (store.Connection, error) {
	c, ok := s.conns[id]
	if !ok {
		return store.Connection{}, store.ErrNotFound
	}
	return c, nil
}

func (s *fakeStore) GetHost(_ context.Context, id string) (store.Host, error) {
	h, ok := s.hosts[id]
	if !ok {
		return store.Host{}, store.ErrNotFound
	}
	return h, nil
}

func (s *fakeStore) GetConnectionCredential(_ context.Context, id string) (store.Credential, error) {
	c, ok := s.creds[id]
	if !ok {
		return store.Credential{}, store.ErrNotFound
	}
	return c, nil
}

// call is one CompareFunc call.
type call struct{ apiURL, token, repo, before, after string }

// fakeCompare records its calls and answers with answer.
type fakeCompare struct {
	answer func(n int) (providers.ChangedFiles, error)
	gate   chan struct{} // when set, calls wait for it to close

	mu    sync.Mutex
	calls []call
}

func (f *fakeCompare) compare(ctx context.Context, _ *http.Client, apiURL, token, repo, before, after string) (providers.ChangedFiles, error) {
	f.mu.Lock()
	n := len(f.calls)
	f.calls = append(f.calls, call{apiURL, token, repo, before, after})
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

// fixture is a resolver over a store with one connection of each kind:
// "gh" (github.com), "ghes" and "glsm" (on hosts), "bb" (Bitbucket),
// "plain" (a GHES host on plain HTTP), "nocred" (no credential) and
// "moved" (a token sealed under another connection).
type fixture struct {
	st      *fakeStore
	kr      *keyring.Keyring
	compare *fakeCompare
	opts    Options
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	kr, err := keyring.New(make([]byte, keyring.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{kr: kr, compare: &fakeCompare{}, st: &fakeStore{
		conns: map[string]store.Connection{}, creds: map[string]store.Credential{},
		hosts: map[string]store.Host{
			"ghes-1":  {ID: "ghes-1", ProviderEndpoint: "https://ghes.example.com/"},
			"gl-1":    {ID: "gl-1", ProviderEndpoint: "https://gitlab.example.com"},
			"plain-1": {ID: "plain-1", ProviderEndpoint: "http://ghes.internal"},
		},
	}}
	for _, c := range []struct{ id, provider, host string }{
		{"gh", store.ProviderGitHub, ""},
		{"ghes", store.ProviderGitHubEnterpriseServer, "ghes-1"},
		{"glsm", store.ProviderGitLabSelfManaged, "gl-1"},
		{"gl", store.ProviderGitLab, ""},
		{"bb", store.ProviderBitbucket, ""},
		{"plain", store.ProviderGitHubEnterpriseServer, "plain-1"},
		{"nocred", store.ProviderGitHub, ""},
		{"moved", store.ProviderGitHub, ""},
	} {
		f.st.conns[c.id] = store.Connection{ID: c.id, ProviderType: c.provider, HostID: c.host, Status: store.StatusAvailable}
		if c.id != "nocred" {
			sealedFor := c.id
			if c.id == "moved" {
				sealedFor = "gh"
			}
			f.st.creds[c.id] = store.Credential{Kind: store.CredentialToken, Sealed: kr.Seal([]byte(token), []byte(sealedFor))}
		}
	}
	cmp := f.compare.compare
	f.opts = Options{
		Store: f.st, Keyring: kr, Client: http.DefaultClient,
		URLs: config.Providers{GitHubAPIURL: "https://github.test/api/"},
		Compare: map[string]CompareFunc{
			store.ProviderGitHub: cmp, store.ProviderGitHubEnterpriseServer: cmp,
			store.ProviderGitLab: cmp, store.ProviderGitLabSelfManaged: cmp, store.ProviderBitbucket: cmp,
		},
	}
	return f
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
	tests := []struct {
		conn    string
		allow   bool   // AllowHTTPEndpoints
		apiURL  string // "" when the provider must not be asked
		wantErr error
	}{
		{conn: "gh", apiURL: "https://github.test/api/"},
		{conn: "gl", apiURL: config.DefaultGitLabURL},
		{conn: "bb", apiURL: config.DefaultBitbucketAPIURL},
		{conn: "ghes", apiURL: "https://ghes.example.com/api/v3/"},
		{conn: "glsm", apiURL: "https://gitlab.example.com/api/v4"},
		{conn: "plain", allow: true, apiURL: "http://ghes.internal/api/v3/"},
		{conn: "plain", wantErr: providers.ErrNoFileList},
		{conn: "nocred", wantErr: store.ErrNotFound},
		{conn: "moved", wantErr: providers.ErrNoFileList},
		{conn: "deleted", wantErr: store.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s allowHTTP=%v", tc.conn, tc.allow), func(t *testing.T) {
			f := newFixture(t)
			f.opts.AllowHTTPEndpoints = tc.allow
			d, m := message(tc.conn, "Octo/API", before)
			files, err := New(f.opts).ChangedFiles(t.Context(), d, m)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr != nil) != (err != nil) {
				t.Fatalf("ChangedFiles = %v, %v; want error %v", files, err, tc.wantErr)
			}
			var want []call
			if tc.apiURL != "" {
				want = []call{{tc.apiURL, token, "Octo/API", before, after}}
				if !slices.Equal(files.Added, []string{"docs/a.md"}) {
					t.Errorf("files = %+v, want the provider's", files)
				}
			}
			if got := f.compare.made(); !slices.Equal(got, want) {
				t.Errorf("compare calls %+v, want %+v", got, want)
			}
		})
	}
}

// TestNothingToCompare checks that a created branch and a message that is
// not a push are answered without a look at the store or the provider.
func TestNothingToCompare(t *testing.T) {
	f := newFixture(t)
	f.opts.Store = nil // any use panics
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

// TestGitHub runs the resolver with providers/github against a fake API:
// the token opened from the store is the one GitHub sees.
func TestGitHub(t *testing.T) {
	var auth, path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth, path = r.Header.Get("Authorization"), r.URL.Path
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"files":[{"filename":"docs/a.md","status":"added"},{"filename":"b","status":"renamed","previous_filename":"a"}]}`))
	}))
	t.Cleanup(srv.Close)
	f := newFixture(t)
	f.opts.URLs.GitHubAPIURL = srv.URL
	f.opts.Compare[store.ProviderGitHub] = github.CompareFiles
	d, m := message("gh", "octo/api", before)
	files, err := New(f.opts).ChangedFiles(t.Context(), d, m)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(files.Added, []string{"b", "docs/a.md"}) || !slices.Equal(files.Removed, []string{"a"}) {
		t.Errorf("files = %+v", files)
	}
	if auth != "Bearer "+token || path != "/repos/octo/api/compare/"+before+"..."+after {
		t.Errorf("GitHub saw %q at %s", auth, path)
	}
}
