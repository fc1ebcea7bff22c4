package setup

import (
	"cmp"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/store"
)

func withGitLab(gl *oauthFake) func(*Options) {
	return func(o *Options) {
		o.Cloud.GitLabWebURL, o.Cloud.GitLabAPIURL = gl.srv.URL, gl.apiURL()
		o.Cloud.GitLabApp = &OAuthClient{ID: "app-id", Secret: "app-secret"}
	}
}

func withBitbucket(bb *oauthFake) func(*Options) {
	return func(o *Options) {
		o.Cloud.BitbucketWebURL, o.Cloud.BitbucketAPIURL = bb.srv.URL, bb.apiURL()
		o.Cloud.BitbucketConsumer = &OAuthClient{ID: "app-id", Secret: "app-secret"}
	}
}

// authorize follows a connection's set-up link to the provider, which
// approves, and returns the callback URL it sends the browser back to.
func authorize(t *testing.T, f *fixture, connID string) (callback string, authorizeURL *url.URL) {
	t.Helper()
	link, err := f.svc.ConnectionSetupURL(t.Context(), connID)
	if err != nil {
		t.Fatalf("ConnectionSetupURL: %v", err)
	}
	r := get(t, stepper, link)
	if r.status != http.StatusFound {
		t.Fatalf("start: %d %s", r.status, r.body)
	}
	if authorizeURL, err = url.Parse(r.location); err != nil {
		t.Fatal(err)
	}
	r = get(t, stepper, r.location)
	if r.status != http.StatusFound || !strings.HasPrefix(r.location, f.srv.URL+"/setup/callback/oauth?") {
		t.Fatalf("provider authorization: %d to %q", r.status, r.location)
	}
	return r.location, authorizeURL
}

// completeOAuth sets a connection up through its provider.
func completeOAuth(t *testing.T, f *fixture, connID string) store.Credential {
	t.Helper()
	callback, _ := authorize(t, f, connID)
	checkPage(t, complete(t, callback), http.StatusOK, "Connection AVAILABLE")
	return f.credential(t, connID)
}

func (f *fixture) openOAuth(t *testing.T, cred store.Credential, connID string) oauthSecret {
	t.Helper()
	var sec oauthSecret
	if err := f.svc.openJSON(cred.Sealed, connID, &sec); err != nil {
		t.Fatal(err)
	}
	return sec
}

func TestGitLabOAuthWithPKCE(t *testing.T) {
	gl := newGitLabFake(t)
	f := newFixture(t, withGitLab(gl))
	conn := f.connection(t, store.ProviderGitLab, "")

	callback, auth := authorize(t, f, conn.ID)
	q := auth.Query()
	if auth.Path != "/oauth/authorize" || q.Get("client_id") != "app-id" || q.Get("code_challenge_method") != "S256" ||
		q.Get("code_challenge") == "" || q.Get("redirect_uri") != f.srv.URL+"/setup/callback/oauth" ||
		q.Get("scope") != "api read_repository" || q.Get("state") == "" {
		t.Errorf("authorization request %s", auth)
	}
	if f.conn(t, conn.ID).Status != store.StatusPending {
		t.Error("following the link changed the connection")
	}

	start := f.clock.Now()
	// The account is shown first; only the confirmation stores anything.
	before := f.snapshot(t)
	c := confirmationOf(t, get(t, stepper, callback))
	f.checkUnchanged(t, before, "the callback before confirmation")
	checkPage(t, postForm(t, stepper, c.action, c.form), http.StatusOK, "Connection AVAILABLE")
	if c := f.conn(t, conn.ID); c.Status != store.StatusAvailable || f.held(t, conn.ID) {
		t.Errorf("after the callback: %s, held %v; want AVAILABLE, released", c.Status, f.held(t, conn.ID))
	}
	cred := f.credential(t, conn.ID)
	if cred.Kind != store.CredentialOAuth || cred.Account != "jdoe" || !cred.ExpiresAt.Equal(start.Add(2*time.Hour)) {
		t.Errorf("credential %+v, want oauth of jdoe expiring at %v", cred, start.Add(2*time.Hour))
	}
	if strings.Contains(string(cred.Sealed), "access-") || strings.Contains(string(cred.Sealed), "refresh-") {
		t.Error("tokens stored in clear")
	}
	if sec := f.openOAuth(t, cred, conn.ID); !strings.HasPrefix(sec.Access, "access-") || !strings.HasPrefix(sec.Refresh, "refresh-") {
		t.Errorf("sealed tokens %+v", sec)
	}
	if _, _, verifiers := gl.counts(); len(verifiers) != 1 || len(verifiers[0]) < 43 {
		t.Errorf("code verifiers sent %q, want one of at least 43 characters", verifiers)
	}
	if got := f.changedIDs(); !slices.Equal(got, []string{conn.ID}) {
		t.Errorf("ConnectionChanged %v", got)
	}

	// The same callback again: the state was used.
	before = f.snapshot(t)
	checkPage(t, get(t, stepper, callback), http.StatusBadRequest, "already used")
	f.checkUnchanged(t, before, "a replayed callback")
}

func TestBitbucketOAuth(t *testing.T) {
	bb := newBitbucketFake(t)
	f := newFixture(t, withBitbucket(bb))
	conn := f.connection(t, store.ProviderBitbucket, "")
	callback, auth := authorize(t, f, conn.ID)
	if auth.Path != "/site/oauth2/authorize" || auth.Query().Has("code_challenge") {
		t.Errorf("authorization request %s, want Bitbucket's, without PKCE", auth)
	}
	checkPage(t, complete(t, callback), http.StatusOK, "Connection AVAILABLE")
	cred := f.credential(t, conn.ID)
	if cred.Kind != store.CredentialOAuth || cred.Account != "jdoe" || f.conn(t, conn.ID).Status != store.StatusAvailable {
		t.Errorf("credential %+v, connection %s", cred, f.conn(t, conn.ID).Status)
	}
	tok, err := f.svc.RepositoryToken(t.Context(), f.conn(t, conn.ID), "ws/repo")
	sec := f.openOAuth(t, cred, conn.ID)
	if err != nil || tok.Token != sec.Access || tok.Username != "x-token-auth" || !tok.ExpiresAt.Equal(cred.ExpiresAt) {
		t.Errorf("RepositoryToken = %+v, %v", tok, err)
	}
}

// TestRefusedStates: a forged, expired, replayed or misplaced state shows
// an error page and changes nothing.
func TestRefusedStates(t *testing.T) {
	gl := newGitLabFake(t)
	f := newFixture(t, withGitLab(gl), func(o *Options) { o.AllowHTTPEndpoints = true })
	tamper := func(callback string) string {
		u, _ := url.Parse(callback)
		q := u.Query()
		st := []byte(q.Get("state"))
		st[len(st)/2] ^= 1
		q.Set("state", string(st))
		u.RawQuery = q.Encode()
		return u.String()
	}
	host := f.host(t, store.ProviderGitLabSelfManaged, gl.srv.URL, store.StatusPending)
	hostLink, err := f.svc.HostSetupURL(t.Context(), host.ID)
	if err != nil {
		t.Fatal(err)
	}
	hostState := must(url.Parse(hostLink)).Query().Get("state")
	tests := []struct {
		name string
		// prepare returns the URL to follow, after the provider's approval.
		prepare func(callback string) string
		want    string
		browser *http.Client // default stepper, the browser that followed the link
	}{
		{"another browser", func(cb string) string { return cb }, "another browser", stranger},
		{"forged", tamper, "not valid", nil},
		{"truncated", func(cb string) string { return cb[:len(cb)-10] }, "not valid", nil},
		{"missing", func(cb string) string { return f.srv.URL + "/setup/callback/oauth?code=code-1" }, "not valid", nil},
		{"expired", func(cb string) string { f.clock.Add(StateTTL + time.Second); return cb }, "expired", nil},
		{"replayed", func(cb string) string { get(t, stepper, cb); return cb }, "already used", nil},
		{"host state", func(cb string) string {
			return f.srv.URL + "/setup/callback/oauth?code=code-1&state=" + url.QueryEscape(hostState)
		}, "another step", nil},
		{"github callback", func(cb string) string {
			return strings.Replace(cb, "/setup/callback/oauth?", "/setup/callback/github?installation_id=5&", 1)
		}, "not valid", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn := f.connection(t, store.ProviderGitLab, "")
			callback, _ := authorize(t, f, conn.ID)
			target := tc.prepare(callback)
			before := f.snapshot(t)
			r := get(t, cmp.Or(tc.browser, stepper), target)
			checkPage(t, r, http.StatusBadRequest, tc.want)
			if strings.Contains(r.body, "app-secret") {
				t.Error("the page shows a secret")
			}
			f.checkUnchanged(t, before, tc.name+" state")
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestOAuthProviderRefusals(t *testing.T) {
	gl := newGitLabFake(t)
	f := newFixture(t, withGitLab(gl))
	conn := f.connection(t, store.ProviderGitLab, "")

	// The user denies the authorization.
	callback, _ := authorize(t, f, conn.ID)
	u := must(url.Parse(callback))
	q := u.Query()
	q.Del("code")
	q.Set("error", "access_denied")
	q.Set("error_description", "<script>alert(1)</script>")
	u.RawQuery = q.Encode()
	before := f.snapshot(t)
	r := get(t, stepper, u.String())
	checkPage(t, r, http.StatusBadRequest, "access_denied")
	if strings.Contains(r.body, "<script>alert") {
		t.Error("the provider's text is not escaped")
	}
	f.checkUnchanged(t, before, "a refused authorization")

	// A code the provider does not know.
	callback, _ = authorize(t, f, conn.ID)
	u = must(url.Parse(callback))
	q = u.Query()
	q.Set("code", "code-unknown")
	u.RawQuery = q.Encode()
	checkPage(t, get(t, stepper, u.String()), http.StatusBadRequest, "invalid_grant")
	f.checkUnchanged(t, before, "an unknown code")

	// No OAuth application configured: no link.
	f2 := newFixture(t)
	_, err := f2.svc.ConnectionSetupURL(t.Context(), f2.connection(t, store.ProviderGitLab, "").ID)
	var input *InputError
	if !errors.As(err, &input) || !strings.Contains(err.Error(), "providers.gitlabApp") {
		t.Errorf("ConnectionSetupURL without a gitlab app: %v", err)
	}
}

func TestOAuthRefreshBeforeExpiry(t *testing.T) {
	gl := newGitLabFake(t)
	f := newFixture(t, withGitLab(gl))
	conn := f.connection(t, store.ProviderGitLab, "")
	first := completeOAuth(t, f, conn.ID)
	firstSec := f.openOAuth(t, first, conn.ID)
	ctx := t.Context()

	tok, err := f.svc.Token(ctx, conn)
	if err != nil || tok.Value != firstSec.Access || !tok.OAuth {
		t.Fatalf("Token = %+v, %v; want the first access token", tok, err)
	}
	f.clock.Add(2*time.Hour - 6*time.Minute) // not yet within 5 minutes
	if tok, _ := f.svc.Token(ctx, conn); tok.Value != firstSec.Access {
		t.Errorf("refreshed too early")
	}
	f.clock.Add(2 * time.Minute) // 4 minutes left: callers get a refreshed token
	var wg sync.WaitGroup
	values := make([]string, 8)
	for i := range values {
		wg.Go(func() {
			tok, err := f.svc.Token(ctx, conn)
			if err != nil {
				t.Errorf("Token: %v", err)
			}
			values[i] = tok.Value
		})
	}
	wg.Wait()
	refreshes, _, _ := gl.counts()
	if refreshes != 1 {
		t.Errorf("%d refreshes for concurrent callers, want 1", refreshes)
	}
	second := f.credential(t, conn.ID)
	secondSec := f.openOAuth(t, second, conn.ID)
	for _, v := range values {
		if v != secondSec.Access {
			t.Errorf("caller got %q, want the stored new token %q", v, secondSec.Access)
		}
	}
	// GitLab rotated the refresh token: the new one is stored, the old one dead.
	if secondSec.Refresh == firstSec.Refresh || !gl.liveRefresh(secondSec.Refresh) || gl.liveRefresh(firstSec.Refresh) {
		t.Errorf("refresh tokens: stored %q (live %v), old %q (live %v)", secondSec.Refresh, gl.liveRefresh(secondSec.Refresh),
			firstSec.Refresh, gl.liveRefresh(firstSec.Refresh))
	}
	if want := f.clock.Now().Add(2 * time.Hour); !second.ExpiresAt.Equal(want) {
		t.Errorf("new expiry %v, want %v", second.ExpiresAt, want)
	}
	if f.conn(t, conn.ID).Status != store.StatusAvailable {
		t.Error("the refresh changed the connection's status")
	}

	// The refresher takes those expiring within 10 minutes.
	f.clock.Add(2*time.Hour - 11*time.Minute)
	f.svc.refreshDue(ctx)
	if n, _, _ := gl.counts(); n != 1 {
		t.Errorf("refresher refreshed a token with 11 minutes left")
	}
	f.clock.Add(2 * time.Minute)
	f.svc.refreshDue(ctx)
	third := f.openOAuth(t, f.credential(t, conn.ID), conn.ID)
	if n, _, _ := gl.counts(); n != 2 || third.Access == secondSec.Access || !gl.liveRefresh(third.Refresh) {
		t.Errorf("refresher: %d refreshes, token %q", n, third.Access)
	}
}

func TestOAuthRefreshFailure(t *testing.T) {
	gl := newGitLabFake(t)
	f := newFixture(t, withGitLab(gl))
	ctx := t.Context()
	conn := f.connection(t, store.ProviderGitLab, "")
	sec := f.openOAuth(t, completeOAuth(t, f, conn.ID), conn.ID)

	// A provider that cannot be asked: retried, the current token serves.
	gl.setRefreshFails("unavailable")
	f.clock.Add(2*time.Hour - 8*time.Minute)
	f.svc.refreshDue(ctx)
	tok, err := f.svc.Token(ctx, conn)
	if err != nil || tok.Value != sec.Access || f.conn(t, conn.ID).Status != store.StatusAvailable {
		t.Errorf("transient failure: Token %+v, %v, status %s; want the current token, AVAILABLE", tok, err, f.conn(t, conn.ID).Status)
	}
	f.clock.Add(10 * time.Minute) // expired, still unavailable
	if _, err := f.svc.Token(ctx, conn); !errors.Is(err, providers.ErrProviderUnavailable) {
		t.Errorf("expired, provider unavailable: %v", err)
	}
	if f.conn(t, conn.ID).Status != store.StatusAvailable {
		t.Error("a transient failure put the connection in ERROR")
	}

	// The refresh token refused: ERROR, with the reason.
	gl.setRefreshFails("invalid_grant")
	f.svc.refreshDue(ctx)
	c := f.conn(t, conn.ID)
	if c.Status != store.StatusError || c.StatusReason != reasonRefreshRefused {
		t.Errorf("after invalid_grant: %s %q", c.Status, c.StatusReason)
	}
	if _, err := f.svc.Token(ctx, conn); !errors.Is(err, providers.ErrTokenRejected) {
		t.Errorf("Token after invalid_grant: %v, want ErrTokenRejected", err)
	}
	if got := f.changedIDs(); len(got) < 2 || got[len(got)-1] != conn.ID {
		t.Errorf("ConnectionChanged %v", got)
	}
	refreshes, _, _ := gl.counts()
	f.svc.refreshDue(ctx)
	if n, _, _ := gl.counts(); n != refreshes {
		t.Error("the refresher kept refreshing a connection in ERROR")
	}

	// Setting up again brings it back under the same id.
	gl.setRefreshFails("")
	completeOAuth(t, f, conn.ID)
	if c := f.conn(t, conn.ID); c.Status != store.StatusAvailable || c.StatusReason != "" {
		t.Errorf("after set-up again: %s %q", c.Status, c.StatusReason)
	}
}

func TestRejectedAndRevoke(t *testing.T) {
	gl := newGitLabFake(t)
	f := newFixture(t, withGitLab(gl))
	ctx := t.Context()
	conn := f.connection(t, store.ProviderGitLab, "")
	sec := f.openOAuth(t, completeOAuth(t, f, conn.ID), conn.ID)

	f.svc.Rejected(ctx, conn.ID, "GitLab answered 401 to the connection's token")
	if c := f.conn(t, conn.ID); c.Status != store.StatusError || c.StatusReason != "GitLab answered 401 to the connection's token" {
		t.Errorf("after Rejected: %s %q", c.Status, c.StatusReason)
	}
	if err := f.svc.Revoke(ctx, conn); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if _, revoked, _ := gl.counts(); !slices.Equal(revoked, []string{sec.Access}) {
		t.Errorf("revoked %q, want the access token", revoked)
	}

	// A stored access token is not forgelink's to revoke.
	pat := f.connection(t, store.ProviderGitLab, "")
	if err := f.store.SetConnectionCredential(ctx, pat.ID, store.Credential{Kind: store.CredentialToken,
		Sealed: f.kr.Seal([]byte("glpat-x"), []byte(pat.ID))}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Revoke(ctx, pat); err != nil {
		t.Errorf("Revoke of a token credential: %v", err)
	}
	if _, revoked, _ := gl.counts(); len(revoked) != 1 {
		t.Errorf("revoked %q", revoked)
	}
}

func TestStoredTokens(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	tests := []struct {
		provider, token string
		want            providers.AccessToken
	}{
		{store.ProviderGitHub, "ghp_x", providers.AccessToken{Token: "ghp_x", Username: "x-access-token"}},
		{store.ProviderGitLab, "glpat-x", providers.AccessToken{Token: "glpat-x", Username: "oauth2"}},
		{store.ProviderBitbucket, "jdoe:app-pass", providers.AccessToken{Token: "app-pass", Username: "jdoe"}},
		{store.ProviderBitbucket, "ATCTT3x", providers.AccessToken{Token: "ATCTT3x", Username: "x-token-auth"}},
	}
	for _, tc := range tests {
		conn := f.connection(t, tc.provider, "")
		if err := f.store.SetConnectionCredential(ctx, conn.ID, store.Credential{Kind: store.CredentialToken,
			Sealed: f.kr.Seal([]byte(tc.token), []byte(conn.ID))}); err != nil {
			t.Fatal(err)
		}
		if got, err := f.svc.RepositoryToken(ctx, conn, "o/r"); err != nil || got != tc.want {
			t.Errorf("%s RepositoryToken = %+v, %v; want %+v", tc.provider, got, err, tc.want)
		}
		if got, err := f.svc.Token(ctx, conn); err != nil || got != (providers.Token{Value: tc.token}) {
			t.Errorf("%s Token = %+v, %v", tc.provider, got, err)
		}
	}
	none := f.connection(t, store.ProviderGitHub, "")
	if _, err := f.svc.Token(ctx, none); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Token without a credential: %v, want ErrNotFound", err)
	}
}
