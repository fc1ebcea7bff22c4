//go:build unix

package main_test

// A host's set-up through the real daemon completes only if the access
// key that made its link may codeconnections:RegisterAppCode on the host
// (with codeconnections:HostArn); StartAppRegistrationHandshake only
// makes the link.

import (
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
)

const (
	linkOnlyKeyID    = "AKIDFORGELINKLINKONLY"
	registerKeyID    = "AKIDFORGELINKREGISTER"
	hostSetupSecrets = "host-setup-secret-0123456789"
)

var hostFormState = regexp.MustCompile(`name="state" value="([^"]+)"`)

// TestE2ESecurityHostSetupAuthorized: a key allowed only
// StartAppRegistrationHandshake gets a GitLab host's set-up link, but its
// form is refused (403) and the host stays PENDING; a key allowed
// RegisterAppCode where the HostArn is like host/lab-* gets past the
// authorisation on lab-x (to GitLab's credentials check) and not on
// another host.
func TestE2ESecurityHostSetupAuthorized(t *testing.T) {
	e2e(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "key.secret"), hostSetupSecrets)
	cfgPath := filepath.Join(dir, "forgelink.yaml")
	key := func(id, statements string) string {
		return "  - id: " + id + "\n    secretFile: key.secret\n    policy:\n      statements:\n" + statements
	}
	allow := func(action string) string {
		return "        - effect: Allow\n          actions: [codeconnections:" + action + "]\n          resources: [\"*\"]\n"
	}
	writeFile(t, cfgPath, "accessKeys:\n"+key(linkOnlyKeyID, allow("StartAppRegistrationHandshake"))+
		key(registerKeyID, allow("StartAppRegistrationHandshake")+allow("RegisterAppCode")+
			"          conditions:\n            ArnLike:\n              codeconnections:HostArn: arn:aws:codeconnections:*:*:host/lab-*\n"))
	d := startDaemon(t, daemonOptions{env: []string{"FORGELINK_CONFIG=" + cfgPath}})
	lab := createHost(t, d.cc(), "lab-x", "GitLabSelfManaged", "https://gitlab.example.com")
	other := createHost(t, d.cc(), "other", "GitLabSelfManaged", "https://gitlab.example.com")

	tests := []struct {
		name, key, host string
		status          int
		want            string
	}{
		{"link only", linkOnlyKeyID, lab, http.StatusForbidden, "codeconnections:RegisterAppCode"},
		{"HostArn not like lab-*", registerKeyID, other, http.StatusForbidden, "codeconnections:RegisterAppCode"},
		// Past the authorisation: the form lacks the secret.
		{"HostArn like lab-*", registerKeyID, lab, http.StatusBadRequest, "give the OAuth application"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cli := forgelinkCLI{url: d.url, env: append(clientEnv(t), "AWS_ACCESS_KEY_ID="+tc.key, "AWS_SECRET_ACCESS_KEY="+hostSetupSecrets)}
			var out struct{ SetupUrl string }
			cli.decode(t, &out, "hosts", "setup", tc.host)
			link := out.SetupUrl
			if !strings.HasPrefix(link, d.url+"/setup/start?state=") {
				t.Fatalf("hosts setup as %s: link %q", tc.key, link)
			}
			browser := setupBrowser(t, false)
			form := browse(t, browser, http.MethodGet, link, nil)
			state := hostFormState.FindStringSubmatch(form.body)
			if form.status != http.StatusOK || state == nil {
				t.Fatalf("set-up form: %d\n%s", form.status, form.body)
			}
			got := browse(t, browser, http.MethodPost, d.url+"/setup/hosts/gitlab", url.Values{"state": {state[1]}, "client_id": {"app-id"}})
			if got.status != tc.status || !strings.Contains(got.body, tc.want) {
				t.Errorf("form posted: %d, want %d with %q\n%s", got.status, tc.status, tc.want, got.body)
			}
			h, err := d.cc().GetHost(t.Context(), &codeconnections.GetHostInput{HostArn: aws.String(tc.host)})
			if err != nil || aws.ToString(h.Status) != "PENDING" {
				t.Errorf("host %s: %v, %v; want PENDING", tc.host, aws.ToString(h.Status), err)
			}
		})
	}
}
