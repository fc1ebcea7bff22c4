package setup

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/forgelink/forgelink/providers"
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
