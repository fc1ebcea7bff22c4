package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	cctypes "github.com/aws/aws-sdk-go-v2/service/codeconnections/types"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/relay/setup"
	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/sqlite"
)

// fakeSetup answers links naming what it was asked for; a connection id
// in refuse is refused as relay/setup refuses a provider without an app.
type fakeSetup struct {
	mu     sync.Mutex
	asked  []string
	refuse map[string]error
}

type inputErr string

func (e inputErr) Error() string      { return string(e) }
func (e inputErr) InvalidInput() bool { return true }

func (f *fakeSetup) ask(what string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, what)
	if err := f.refuse[what]; err != nil {
		return "", err
	}
	return "https://forgelink.example/setup/start?state=" + what, nil
}

func (f *fakeSetup) ConnectionSetupURL(_ context.Context, id string) (string, error) {
	return f.ask("connection:" + id)
}

func (f *fakeSetup) HostSetupURL(_ context.Context, id string) (string, error) {
	return f.ask("host:" + id)
}

func (f *fakeSetup) GitHubAppSetupURL(_ context.Context, org string) (string, error) {
	return f.ask("github-app:" + org)
}

func (f *fakeSetup) ConfigureHostApp(context.Context, string, string, string, string) error {
	return errors.New("not used")
}

func TestStartSetupLinks(t *testing.T) {
	fs := &fakeSetup{refuse: map[string]error{}}
	f := &completeFixture{}
	f.fixture = newFixture(t, Limits{}, false, func(o *Options) { o.Setup = fs })
	arn, id := f.connection(t, "gl", cctypes.ProviderTypeGitlab, nil)
	hostARN := f.host(t, "ghes", store.ProviderGitHubEnterpriseServer, "https://ghes.example.com")

	before := time.Now()
	var out struct {
		SetupUrl  string
		ExpiresAt float64
	}
	if code, msg := f.call(t, "StartConnectionSetup", fmt.Sprintf(`{"ConnectionArn":%q}`, arn), &out); code != "" {
		t.Fatalf("StartConnectionSetup: %s: %s", code, msg)
	}
	exp := time.UnixMilli(int64(out.ExpiresAt * 1000))
	if out.SetupUrl != "https://forgelink.example/setup/start?state=connection:"+id ||
		exp.Before(before.Add(10*time.Minute-time.Second)) || exp.After(time.Now().Add(10*time.Minute)) {
		t.Errorf("StartConnectionSetup = %+v", out)
	}
	if code, msg := f.call(t, "StartHostSetup", fmt.Sprintf(`{"HostArn":%q}`, hostARN), &out); code != "" ||
		out.SetupUrl != "https://forgelink.example/setup/start?state=host:ghes-0123abcd" {
		t.Errorf("StartHostSetup: %s %s %+v", code, msg, out)
	}
	if code, msg := f.call(t, "StartGitHubAppSetup", `{"Organization":"octo-org"}`, &out); code != "" ||
		!strings.HasSuffix(out.SetupUrl, "github-app:octo-org") {
		t.Errorf("StartGitHubAppSetup: %s %s %+v", code, msg, out)
	}

	fs.refuse["connection:"+id] = inputErr("no gitlab.com OAuth application is configured")
	unknown := arn[:strings.LastIndexByte(arn, '/')+1] + "0190a000-0000-7000-8000-000000000000"
	for _, tc := range []struct{ op, body, code, msg string }{
		{"StartConnectionSetup", fmt.Sprintf(`{"ConnectionArn":%q}`, arn), codeInvalidInput, "no gitlab.com OAuth application is configured"},
		{"StartConnectionSetup", fmt.Sprintf(`{"ConnectionArn":%q}`, unknown), codeNotFound, ""},
		{"StartConnectionSetup", `{}`, codeValidation, ""},
		{"StartHostSetup", fmt.Sprintf(`{"HostArn":%q}`, arn), codeValidation, ""},
	} {
		if code, msg := f.call(t, tc.op, tc.body, nil); code != tc.code || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s %s: %s: %s; want %s: %s", tc.op, tc.body, code, msg, tc.code, tc.msg)
		}
	}

	f = &completeFixture{fixture: newFixture(t, Limits{}, false)}
	arn, _ = f.connection(t, "gh", cctypes.ProviderTypeGithub, nil)
	if code, _ := f.call(t, "StartConnectionSetup", fmt.Sprintf(`{"ConnectionArn":%q}`, arn), nil); code != codeUnsupportedOp {
		t.Errorf("without set-up: %s, want %s", code, codeUnsupportedOp)
	}
}

// TestConfigureHostApp runs the headless GitLab host set-up through the
// real relay/setup against a fake GitLab token endpoint.
func TestConfigureHostApp(t *testing.T) {
	gitlab := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/oauth/token" || r.PostForm.Get("client_id") != "app-id" || r.PostForm.Get("client_secret") != "app-secret" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"invalid_grant"}`))
	}))
	t.Cleanup(gitlab.Close)
	f := &completeFixture{}
	f.fixture = newFixture(t, Limits{AllowHTTPEndpoints: true}, false, func(o *Options) {
		st := o.Store.(*sqlite.Store)
		o.Setup = setup.New(setup.Options{Store: st, Keyring: o.Keyring, Log: zap.NewNop(), PublicURL: "https://forgelink.example",
			AllowHTTPEndpoints: true})
	})
	h := store.Host{ID: "lab-0123abcd", Name: "lab", ProviderType: store.ProviderGitLabSelfManaged, ProviderEndpoint: gitlab.URL,
		Region: testRegion, Status: store.StatusPending}
	if err := f.store.CreateHost(t.Context(), h, nil, 0); err != nil {
		t.Fatal(err)
	}
	hostARN := formatARN(namespaces[0], testRegion, "123456789012", store.KindHost, h.ID)
	status := func() string {
		got, err := f.store.GetHost(t.Context(), h.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Status
	}
	body := func(fields string) string { return fmt.Sprintf(`{"HostArn":%q%s}`, hostARN, fields) }
	for _, tc := range []struct{ name, body, code string }{
		{"wrong secret", body(`,"ClientId":"app-id","ClientSecret":"wrong-s3cret"`), codeInvalidInput},
		{"both", body(`,"ClientId":"app-id","ClientSecret":"app-secret","AdminToken":"glpat-x"`), codeValidation},
		{"neither", body(``), codeValidation},
		{"secret only", body(`,"ClientSecret":"app-secret"`), codeValidation},
		{"space in secret", body(`,"ClientId":"app-id","ClientSecret":"app secret"`), codeValidation},
	} {
		code, msg := f.call(t, "ConfigureHostApp", tc.body, nil)
		if code != tc.code {
			t.Errorf("%s: %s: %s; want %s", tc.name, code, msg, tc.code)
		}
		if strings.Contains(msg, "s3cret") || strings.Contains(msg, "app-secret") {
			t.Errorf("%s: message %q quotes the secret", tc.name, msg)
		}
		if s := status(); s != store.StatusPending {
			t.Fatalf("%s: host %s, want PENDING", tc.name, s)
		}
	}
	out := f.mustCall(t, "ConfigureHostApp", body(`,"ClientId":"app-id","ClientSecret":"app-secret"`))
	if want := fmt.Sprintf(`{"HostArn":%q,"HostStatus":"AVAILABLE"}`, hostARN); out != want {
		t.Errorf("ConfigureHostApp = %s, want %s", out, want)
	}
	if s := status(); s != store.StatusAvailable {
		t.Errorf("host %s, want AVAILABLE", s)
	}
}

type fakeRevoker struct {
	mu      sync.Mutex
	revoked []string
	err     error
}

func (f *fakeRevoker) Revoke(_ context.Context, conn store.Connection) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = append(f.revoked, conn.ID)
	return f.err
}

// TestDeleteConnectionRevokes: deleting a connection revokes its
// credentials first; a revocation that fails does not stop the deletion.
func TestDeleteConnectionRevokes(t *testing.T) {
	rv := &fakeRevoker{err: errors.New("gitlab revoke token: provider unavailable")}
	f := &completeFixture{}
	f.fixture = newFixture(t, Limits{}, false, func(o *Options) { o.Revoker = rv })
	arn, id := f.connection(t, "gl", cctypes.ProviderTypeGitlab, nil)
	if _, err := f.cc.DeleteConnection(t.Context(), &codeconnections.DeleteConnectionInput{ConnectionArn: &arn}); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	if !slices.Equal(rv.revoked, []string{id}) {
		t.Errorf("revoked %v, want [%s]", rv.revoked, id)
	}
	if _, err := f.store.GetConnection(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("connection after delete: %v", err)
	}
}
