package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/store"
)

// scopedKey may read and set up connection A only, and list its events
// and deliveries.
const scopedKey = "AKIDSCOPEDTOA"

// TestScopedKey: a key allowed on connection A sees only A's records and
// set-up button, whether it signs in with its key pair or with a login
// link it made; set-up links are made on its behalf.
func TestScopedKey(t *testing.T) {
	var f *fixture
	f = newFixture(t, func(o *Options) {
		o.Credentials = func(id string) (string, bool) { return testSecret, id == testKeyID || id == scopedKey }
	})
	now := f.clock.Now()
	a, b := uuidv7At(now, 1), uuidv7At(now, 2)
	arnA := "arn:aws:codeconnections:us-east-1:" + testAccount + ":connection/" + a
	f.c.opts.Authorizer = policy.NewAuthorizer(testKeyID, map[string]policy.Policy{scopedKey: {Statements: []policy.Statement{{
		Effect:    policy.Allow,
		Actions:   []string{"codeconnections:GetConnection", "codeconnections:GetInstallationUrl", "forgelink:ListEvents", "forgelink:ListDeliveries"},
		Resources: []string{arnA},
	}}}})
	f.store.connections = []store.Connection{
		{ID: a, Name: "team-a", ProviderType: store.ProviderGitHub, Region: "us-east-1", Status: store.StatusPending},
		{ID: b, Name: "team-b", ProviderType: store.ProviderGitHub, Region: "us-east-1", Status: store.StatusPending},
	}
	f.store.hosts = []store.Host{{ID: "ghes-0a1b2c3d", Name: "ghes-b", Region: "us-east-1", Status: store.StatusPending}}
	f.store.events = []store.Event{
		{ID: uuidv7At(now, 3), ConnectionID: a, Repository: "acme/a-repo", Kind: "push", ReceivedAt: now},
		{ID: uuidv7At(now, 4), ConnectionID: b, Repository: "acme/b-repo", Kind: "push", ReceivedAt: now},
	}
	f.store.deliveries = []store.Delivery{
		{ID: uuidv7At(now, 5), ConnectionID: a, Pipeline: "a-pipeline", CreatedAt: now},
		{ID: uuidv7At(now, 6), ConnectionID: b, Pipeline: "b-pipeline", CreatedAt: now},
	}

	link, _, err := f.c.LoginLink(policy.WithCaller(context.Background(), scopedKey))
	if err != nil {
		t.Fatal(err)
	}
	viaLink := f.do(http.MethodGet, strings.TrimPrefix(link, "https://forgelink.example"), nil, nil)
	if viaLink.StatusCode != http.StatusSeeOther {
		t.Fatalf("login link: status %d", viaLink.StatusCode)
	}
	signIn := func(key string) *http.Cookie {
		resp := f.do(http.MethodPost, "/console/login", url.Values{"access_key_id": {key}, "secret_access_key": {testSecret}}, nil)
		return sessionCookie(t, resp)
	}
	for _, tc := range []struct {
		name   string
		cookie *http.Cookie
		see    []string
		hidden []string
	}{
		{"scoped key pair", signIn(scopedKey), []string{"team-a", "acme/a-repo", "a-pipeline", "/connections/" + a + "/setup"},
			[]string{"team-b", "acme/b-repo", "b-pipeline", "ghes-b", "/connections/" + b + "/setup"}},
		{"scoped key's login link", sessionCookie(t, viaLink), []string{"team-a", "acme/a-repo", "a-pipeline"},
			[]string{"team-b", "acme/b-repo", "b-pipeline", "ghes-b"}},
		{"root key", signIn(testKeyID), []string{"team-a", "team-b", "acme/b-repo", "b-pipeline", "ghes-b", "/connections/" + b + "/setup"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, csrf := f.overview(t, tc.cookie)
			for _, want := range tc.see {
				if !strings.Contains(page, want) {
					t.Errorf("the page lacks %q", want)
				}
			}
			for _, banned := range tc.hidden {
				if strings.Contains(page, banned) {
					t.Errorf("the page shows %q", banned)
				}
			}
			if len(tc.hidden) == 0 {
				return
			}
			// Setting up B by hand is refused, and asks nothing of the set-up.
			calls := f.setup.callCount()
			resp := f.do(http.MethodPost, "/console/connections/"+b+"/setup", url.Values{"csrf": {csrf}}, nil, tc.cookie)
			if body := readBody(t, resp); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "GetInstallationUrl") {
				t.Errorf("set up B: status %d:\n%s", resp.StatusCode, body)
			}
			if f.setup.callCount() != calls {
				t.Error("a refused set-up reached the set-up service")
			}
			resp = f.do(http.MethodPost, "/console/connections/"+a+"/setup", url.Values{"csrf": {csrf}}, nil, tc.cookie)
			if resp.StatusCode != http.StatusSeeOther || f.setup.lastCaller() != scopedKey {
				t.Errorf("set up A: status %d, made for %q", resp.StatusCode, f.setup.lastCaller())
			}
		})
	}

	// A link whose key was swapped names no nonce.
	link, _, _ = f.c.LoginLink(policy.WithCaller(context.Background(), scopedKey))
	swapped := strings.Replace(strings.TrimPrefix(link, "https://forgelink.example"), scopedKey, testKeyID, 1)
	if resp := f.do(http.MethodGet, swapped, nil, nil); resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
		t.Errorf("a link with another key: status %d", resp.StatusCode)
	}
}
