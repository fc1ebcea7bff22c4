package setup

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/forgelink/forgelink/relay/egress"
	"github.com/forgelink/forgelink/relay/tlstest"
	"github.com/forgelink/forgelink/store"
)

// TestGitLabHostPrivateCA: a GitLab self-managed host behind a private CA.
// Until the provider transport trusts the CA, the host's set-up page says
// the certificate is not trusted (not "try again") and nothing changes;
// once it does, the same form completes the host.
func TestGitLabHostPrivateCA(t *testing.T) {
	gl := newGitLabFake(t)
	ca := tlstest.NewCA(t)
	srv := ca.Serve(t, gl.srv.Config.Handler)
	var trusted atomic.Bool
	roots := func(context.Context, string) ([]byte, error) {
		if trusted.Load() {
			return ca.PEM, nil
		}
		return nil, nil
	}
	g, err := egress.New(egress.Options{Trusted: []string{srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(o *Options) { o.Client.Transport = g.HostTransport(roots) })
	host := f.host(t, store.ProviderGitLabSelfManaged, srv.URL+"/", store.StatusPending)
	link, err := f.svc.HostSetupURL(t.Context(), host.ID)
	if err != nil {
		t.Fatal(err)
	}
	m := hiddenState.FindStringSubmatch(get(t, stepper, link).body)
	if m == nil {
		t.Fatal("no state field in the host's form")
	}
	action := f.srv.URL + "/setup/hosts/gitlab"
	form := url.Values{"state": {m[1]}, "client_id": {"app-id"}, "client_secret": {"app-secret"}}

	before := f.snapshot(t)
	r := postForm(t, stepper, action, form)
	checkPage(t, r, http.StatusBadGateway, "certificate signed by unknown authority")
	if !strings.Contains(r.body, "TlsCertificate") || strings.Contains(r.body, "app-secret") {
		t.Errorf("page without the CA: want the fix named and no secret:\n%s", r.body)
	}
	f.checkUnchanged(t, before, "an untrusted certificate")

	trusted.Store(true)
	checkPage(t, postForm(t, stepper, action, form), http.StatusOK, "Host AVAILABLE")
}
