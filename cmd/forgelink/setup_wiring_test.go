package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/relay/egress"
)

// TestProviderTransport: each cloud URL of the configuration is dialled
// as configured, even on loopback; any other origin that resolves to this
// machine is refused, private endpoints allowed or not.
func TestProviderTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	port := u.Port()
	for _, tc := range []struct {
		field string
		p     config.Providers
	}{
		{"githubAPIURL", config.Providers{GitHubAPIURL: srv.URL + "/"}},
		{"githubURL", config.Providers{GitHubURL: srv.URL}},
		{"gitlabURL", config.Providers{GitLabURL: srv.URL + "/api/v4"}},
		{"bitbucketAPIURL", config.Providers{BitbucketAPIURL: srv.URL + "/2.0"}},
		{"bitbucketURL", config.Providers{BitbucketURL: srv.URL}},
	} {
		for _, allowPrivate := range []bool{false, true} {
			tr, err := providerTransport(&config.Config{Providers: tc.p, AllowPrivateProviderEndpoints: allowPrivate}, noHostRoots)
			if err != nil {
				t.Fatal(err)
			}
			c := &http.Client{Transport: tr}
			resp, err := c.Get(srv.URL + "/x")
			if err != nil {
				t.Errorf("%s at %s: %v", tc.field, srv.URL, err)
			} else {
				resp.Body.Close()
			}
			if _, err := c.Get("http://localhost:" + port + "/x"); !errors.Is(err, egress.ErrForbiddenAddress) {
				t.Errorf("%s configured, private allowed %v: localhost:%s answered %v, want ErrForbiddenAddress", tc.field, allowPrivate, port, err)
			}
			tr.CloseIdleConnections()
		}
	}
}
