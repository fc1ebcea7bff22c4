package setup

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/providers/github/githubtest"
	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/store"
)

func allowHTTP(o *Options) { o.AllowHTTPEndpoints = true }

var hiddenState = regexp.MustCompile(`name="state" value="([^"]+)"`)

func TestGitLabHostForm(t *testing.T) {
	gl := newGitLabFake(t)
	f := newFixture(t, allowHTTP)
	ctx := t.Context()
	host := f.host(t, store.ProviderGitLabSelfManaged, gl.srv.URL+"/", store.StatusPending)
	link, err := f.svc.HostSetupURL(ctx, host.ID)
	if err != nil {
		t.Fatal(err)
	}
	r := get(t, stepper, link)
	checkPage(t, r, http.StatusOK, f.srv.URL+"/setup/callback/oauth")
	m := hiddenState.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no state field in the form:\n%s", r.body)
	}
	state := m[1]
	action := f.srv.URL + "/setup/hosts/gitlab"

	// Credentials GitLab refuses bring the form back; nothing changes.
	before := f.snapshot(t)
	for _, form := range []url.Values{
		{"state": {state}, "client_id": {"app-id"}, "client_secret": {"wrong"}},
		{"state": {state}, "admin_token": {"glpat-not-admin"}},
		{"state": {state}, "client_id": {"app-id"}},
		{"state": {state}, "client_id": {"app-id"}, "client_secret": {"app-secret"}, "admin_token": {"glpat-ADMIN"}},
	} {
		r := postForm(t, stepper, action, form)
		checkPage(t, r, http.StatusBadRequest, `id="error"`)
		if strings.Contains(r.body, "wrong") || strings.Contains(r.body, "glpat-") {
			t.Errorf("the form shows a secret back:\n%s", r.body)
		}
	}
	f.checkUnchanged(t, before, "refused application credentials")
	// A forged state is no CSRF token.
	checkPage(t, postForm(t, stepper, action, url.Values{"state": {state[:len(state)-4] + "AAAA"},
		"client_id": {"app-id"}, "client_secret": {"app-secret"}}), http.StatusBadRequest, "not valid")
	f.checkUnchanged(t, before, "a forged form")

	r = postForm(t, stepper, action, url.Values{"state": {state}, "client_id": {"app-id"}, "client_secret": {"app-secret"}})
	checkPage(t, r, http.StatusOK, "Host AVAILABLE")
	h, err := f.store.GetHost(ctx, host.ID)
	if err != nil || h.Status != store.StatusAvailable {
		t.Fatalf("host %+v, %v; want AVAILABLE", h, err)
	}
	rec, err := f.store.GetProviderApp(ctx, host.ID)
	if err != nil || rec.Kind != store.AppGitLabOAuth || rec.ClientID != "app-id" || strings.Contains(string(rec.Sealed), "app-secret") {
		t.Fatalf("provider app %+v, %v", rec, err)
	}
	checkPage(t, postForm(t, stepper, action, url.Values{"state": {state}, "client_id": {"app-id"}, "client_secret": {"app-secret"}}),
		http.StatusBadRequest, "already used")

	// A connection on the host completes through the host's application.
	conn := f.connection(t, store.ProviderGitLabSelfManaged, host.ID)
	callback, auth := authorize(t, f, conn.ID)
	if !strings.HasPrefix(auth.String(), gl.srv.URL+"/oauth/authorize?") || auth.Query().Get("code_challenge") == "" {
		t.Errorf("authorization at %s, want the host's, with PKCE", auth)
	}
	checkPage(t, complete(t, callback), http.StatusOK, "Connection AVAILABLE")
	if c := f.conn(t, conn.ID); c.Status != store.StatusAvailable {
		t.Errorf("connection %s", c.Status)
	}
	tok, err := f.svc.RepositoryToken(ctx, conn, "group/app")
	if err != nil || tok.Username != "oauth2" || !strings.HasPrefix(tok.Token, "access-") {
		t.Errorf("RepositoryToken = %+v, %v", tok, err)
	}

	// A host sent back to PENDING (its endpoint moved) sets nothing up
	// until it is set up again.
	if err := f.store.SetHostStatus(ctx, host.ID, store.StatusPending, "provider endpoint changed"); err != nil {
		t.Fatal(err)
	}
	var input *InputError
	if _, err := f.svc.ConnectionSetupURL(ctx, conn.ID); !errors.As(err, &input) || !strings.Contains(err.Error(), "PENDING") {
		t.Errorf("ConnectionSetupURL on a PENDING host: %v", err)
	}
}

func TestConfigureHostApp(t *testing.T) {
	gl := newGitLabFake(t)
	f := newFixture(t, allowHTTP)
	ctx := t.Context()
	host := f.host(t, store.ProviderGitLabSelfManaged, gl.srv.URL, store.StatusPending)

	before := f.snapshot(t)
	var input *InputError
	for _, in := range []gitlabAppInput{
		{clientID: "app-id", clientSecret: "wrong"},
		{adminToken: "glpat-not-admin"},
		{},
	} {
		if err := f.svc.ConfigureHostApp(ctx, host.ID, in.clientID, in.clientSecret, in.adminToken); !errors.As(err, &input) {
			t.Errorf("ConfigureHostApp(%+v): %v, want an InputError", in, err)
		} else if strings.Contains(err.Error(), "wrong") || strings.Contains(err.Error(), "glpat") {
			t.Errorf("error %q quotes a secret", err)
		}
	}
	f.checkUnchanged(t, before, "refused credentials")

	// An admin token creates the application.
	if err := f.svc.ConfigureHostApp(ctx, host.ID, "", "", "glpat-ADMIN"); err != nil {
		t.Fatalf("ConfigureHostApp with an admin token: %v", err)
	}
	rec, err := f.store.GetProviderApp(ctx, host.ID)
	if err != nil || !strings.HasPrefix(rec.ClientID, "created-") {
		t.Fatalf("provider app %+v, %v", rec, err)
	}
	if h, _ := f.store.GetHost(ctx, host.ID); h.Status != store.StatusAvailable {
		t.Errorf("host %s", h.Status)
	}

	// Unreachable GitLab: not the caller's input.
	down := f.host(t, store.ProviderGitLabSelfManaged, "http://127.0.0.1:1", store.StatusPending)
	if err := f.svc.ConfigureHostApp(ctx, down.ID, "app-id", "app-secret", ""); !errors.Is(err, providers.ErrProviderUnavailable) {
		t.Errorf("unreachable host: %v", err)
	}
	ghes := f.host(t, store.ProviderGitHubEnterpriseServer, gl.srv.URL, store.StatusPending)
	if err := f.svc.ConfigureHostApp(ctx, ghes.ID, "app-id", "app-secret", ""); !errors.As(err, &input) {
		t.Errorf("GHES host: %v, want an InputError", err)
	}
	// Plain HTTP is refused unless allowed.
	strict := newFixture(t)
	plain := strict.host(t, store.ProviderGitLabSelfManaged, gl.srv.URL, store.StatusPending)
	if err := strict.svc.ConfigureHostApp(ctx, plain.ID, "app-id", "app-secret", ""); !errors.As(err, &input) ||
		!strings.Contains(err.Error(), "allowHTTPProviderEndpoints") {
		t.Errorf("plain-HTTP host: %v", err)
	}
	if _, err := strict.svc.HostSetupURL(ctx, plain.ID); !errors.As(err, &input) {
		t.Errorf("HostSetupURL of a plain-HTTP host: %v", err)
	}
}

// hostKeys are the access keys of TestHostSetupAuthorization: a key that
// may make a host's set-up link but not register the app, keys allowed
// RegisterAppCode only where codeconnections:HostArn is one host, and a
// key allowed to register forgelink's github.com App, and a key denied on
// hosts tagged team=prod.
func hostKeys(hostARN string) *policy.Authorizer {
	allow := func(action, resource string, c policy.Conditions) policy.Policy {
		return policy.Policy{Statements: []policy.Statement{{Effect: policy.Allow, Actions: []string{action}, Resources: []string{resource}, Conditions: c}}}
	}
	return policy.NewAuthorizer("AKIDROOT", map[string]policy.Policy{
		"AKIDLINKONLY": allow("codeconnections:StartAppRegistrationHandshake", "*", nil),
		"AKIDTHISHOST": allow(ActionRegisterAppCode, "*", policy.Conditions{"StringEquals": {policy.KeyHostArn: {hostARN}}}),
		"AKIDNOTTHISHOST": allow(ActionRegisterAppCode, "*",
			policy.Conditions{"StringNotEquals": {policy.KeyHostArn: {hostARN}}}),
		"AKIDGHAPP": allow(ActionStartGitHubAppSetup, "*", nil),
		// Every host but those tagged team=prod.
		"AKIDNOTPROD": {Statements: append(allow(ActionRegisterAppCode, "*", nil).Statements, policy.Statement{
			Effect: policy.Deny, Actions: []string{ActionRegisterAppCode}, Resources: []string{"*"},
			Conditions: policy.Conditions{"StringEquals": {"aws:ResourceTag/team": {"prod"}}}})},
	})
}

// hostARN names a fixture's host as the control plane does.
func hostARN(h store.Host) string {
	return "arn:aws:codeconnections:" + h.Region + ":111122223333:host/" + h.ID
}

// TestHostSetupAuthorization: a host's set-up (the GHES manifest callback,
// the GitLab host form) and the github.com App registration complete only
// if the key that made the link may RegisterAppCode on the host (with
// codeconnections:HostArn), or StartGitHubAppSetup; a refusal stores
// nothing and the host stays PENDING.
func TestHostSetupAuthorization(t *testing.T) {
	const hostID = "hfixed-0123abcd"
	withKeys := func(o *Options) {
		o.Authorizer = hostKeys("arn:aws:codeconnections:us-east-1:111122223333:host/" + hostID)
		o.AccountID = "111122223333"
	}
	as := func(key string) context.Context { return policy.WithCaller(t.Context(), key) }
	gh := githubtest.New(t, githubtest.Options{APIPrefix: "/api/v3"})
	gl := newGitLabFake(t)

	// ghesSetup follows a GHES host's link through the manifest flow.
	ghesSetup := func(t *testing.T, f *fixture, ctx context.Context, h store.Host) response {
		link, err := f.svc.HostSetupURL(ctx, h.ID)
		if err != nil {
			t.Fatalf("HostSetupURL: %v", err)
		}
		return submitManifest(t, link)
	}
	// gitlabSetup follows a GitLab host's link and posts its form.
	gitlabSetup := func(t *testing.T, f *fixture, ctx context.Context, h store.Host) response {
		link, err := f.svc.HostSetupURL(ctx, h.ID)
		if err != nil {
			t.Fatalf("HostSetupURL: %v", err)
		}
		r := get(t, stepper, link)
		checkPage(t, r, http.StatusOK, "client_id")
		m := hiddenState.FindStringSubmatch(r.body)
		if m == nil {
			t.Fatalf("no state field in the form:\n%s", r.body)
		}
		return postForm(t, stepper, f.srv.URL+"/setup/hosts/gitlab",
			url.Values{"state": {m[1]}, "client_id": {"app-id"}, "client_secret": {"app-secret"}})
	}
	hostKinds := []struct {
		name     string
		typ      string
		endpoint string
		setup    func(*testing.T, *fixture, context.Context, store.Host) response
		done     string
	}{
		{"GHES", store.ProviderGitHubEnterpriseServer, gh.URL + "/", ghesSetup, "The host is AVAILABLE"},
		{"GitLab", store.ProviderGitLabSelfManaged, gl.srv.URL, gitlabSetup, "Host AVAILABLE"},
	}
	tests := []struct {
		name    string
		keys    bool // the daemon has access keys
		ctx     context.Context
		fixed   bool // the host is hostID (tagged team=prod), the one AKIDTHISHOST's condition names
		allowed bool
	}{
		{"link only", true, as("AKIDLINKONLY"), true, false},
		{"HostArn condition holds", true, as("AKIDTHISHOST"), true, true},
		{"HostArn condition on another host", true, as("AKIDTHISHOST"), false, false},
		{"StringNotEquals HostArn on this host", true, as("AKIDNOTTHISHOST"), true, false},
		{"StringNotEquals HostArn on another host", true, as("AKIDNOTTHISHOST"), false, true},
		{"github.com App key", true, as("AKIDGHAPP"), true, false},
		{"Deny on the host's tag", true, as("AKIDNOTPROD"), true, false},
		{"Deny on a tag the host has not", true, as("AKIDNOTPROD"), false, true},
		{"root", true, as("AKIDROOT"), true, true},
		{"a link no key made", true, t.Context(), true, false},
		{"no access keys", false, t.Context(), true, true},
	}
	for _, p := range hostKinds {
		for _, tc := range tests {
			t.Run(p.name+"/"+tc.name, func(t *testing.T) {
				opts := []func(*Options){allowHTTP}
				if tc.keys {
					opts = append(opts, withKeys)
				}
				f := newFixture(t, opts...)
				h := store.Host{ID: hostID, Name: "hfixed", ProviderType: p.typ, ProviderEndpoint: p.endpoint,
					Region: "us-east-1", Status: store.StatusPending}
				if tc.fixed {
					if err := f.store.CreateHost(t.Context(), h, []store.Tag{{Key: "team", Value: "prod"}}, 0); err != nil {
						t.Fatal(err)
					}
				} else {
					h = f.host(t, p.typ, p.endpoint, store.StatusPending)
				}
				before := f.snapshot(t)
				r := p.setup(t, f, tc.ctx, h)
				got, err := f.store.GetHost(t.Context(), h.ID)
				if err != nil {
					t.Fatal(err)
				}
				if !tc.allowed {
					checkPage(t, r, http.StatusForbidden, ActionRegisterAppCode)
					f.checkUnchanged(t, before, "a refused host set-up")
					if got.Status != store.StatusPending {
						t.Errorf("host %s after a refused set-up", got.Status)
					}
					return
				}
				checkPage(t, r, http.StatusOK, p.done)
				if got.Status != store.StatusAvailable {
					t.Errorf("host %s, want AVAILABLE", got.Status)
				}
			})
		}
	}

	// The github.com App registration: forgelink:StartGitHubAppSetup.
	for _, tc := range []struct {
		key     string
		allowed bool
	}{{"AKIDGHAPP", true}, {"AKIDROOT", true}, {"AKIDTHISHOST", false}, {"AKIDNONE", false}} {
		t.Run("github.com App/"+tc.key, func(t *testing.T) {
			cloud := githubtest.New(t, githubtest.Options{})
			f := newFixture(t, withGitHub(cloud), withKeys)
			link, err := f.svc.GitHubAppSetupURL(as(tc.key), "")
			if err != nil {
				t.Fatal(err)
			}
			before := f.snapshot(t)
			r := submitManifest(t, link)
			if !tc.allowed {
				checkPage(t, r, http.StatusForbidden, ActionStartGitHubAppSetup)
				f.checkUnchanged(t, before, "a refused App registration")
				return
			}
			checkPage(t, r, http.StatusOK, "github.com connections are now set up with it")
		})
	}
}
