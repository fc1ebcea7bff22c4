package github

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/providers/github/githubtest"
)

// outcome renders a result for comparison: "ok", or the error's class
// ("not found", "rejected", "unavailable", "invalid"), followed by the
// HTTP status of a *providers.StatusError. It fails t if the error shows
// any of secrets or is of no single class.
func outcome(t *testing.T, err error, secrets ...string) string {
	t.Helper()
	if err == nil {
		return "ok"
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q shows a secret", err)
		}
	}
	var classes []string
	for _, c := range []struct {
		name string
		err  error
	}{
		{"not found", providers.ErrNotFound},
		{"rejected", providers.ErrTokenRejected},
		{"unavailable", providers.ErrProviderUnavailable},
		{"invalid", ErrInvalidParameter},
		{"invalid", ErrInvalidPrivateKey},
	} {
		if errors.Is(err, c.err) {
			classes = append(classes, c.name)
		}
	}
	if len(classes) != 1 {
		t.Errorf("error %v is of classes %v, want exactly one", err, classes)
		return err.Error()
	}
	var se *providers.StatusError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s %d", classes[0], se.StatusCode)
	}
	return classes[0]
}

// fakeApp starts a fake GitHub with an App installed on octo-org (which
// has repositories api and web) and on the user octocat (repository
// dotfiles), plus a suspended installation.
type fakeApp struct {
	srv                       *githubtest.Server
	app                       githubtest.App
	org, user, suspended, oth int64 // installation ids; oth is another App's
}

// testKeys are the App keys of all tests (generating RSA keys is slow):
// the fake's Apps use the first; the second is a wrong one.
var testKeys = sync.OnceValue(func() [2]*rsa.PrivateKey {
	var keys [2]*rsa.PrivateKey
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys[i] = k
	}
	return keys
})

func keyPEM(k *rsa.PrivateKey) []byte {
	return githubtest.App{Key: k}.PrivateKeyPEM()
}

func newFakeApp(t *testing.T, opts githubtest.Options) fakeApp {
	t.Helper()
	srv := githubtest.New(t, opts)
	for _, r := range []string{"octo-org/api", "octo-org/web", "octocat/dotfiles", "other/api"} {
		srv.AddRepo(r)
	}
	app := srv.AddApp(githubtest.App{Name: "forgelink-test", Key: testKeys()[0]})
	other := srv.AddApp(githubtest.App{Name: "someone-else", Key: testKeys()[0]})
	return fakeApp{
		srv: srv, app: app,
		org:       srv.AddInstallation(githubtest.Installation{AppID: app.ID, Account: "octo-org", Repositories: []string{"octo-org/api"}}).ID,
		user:      srv.AddInstallation(githubtest.Installation{AppID: app.ID, Account: "octocat", AccountType: "User"}).ID,
		suspended: srv.AddInstallation(githubtest.Installation{AppID: app.ID, Account: "octo-org", Suspended: true}).ID,
		oth:       srv.AddInstallation(githubtest.Installation{AppID: other.ID, Account: "octo-org"}).ID,
	}
}

func (f fakeApp) newApp(t *testing.T) *App {
	t.Helper()
	a, err := NewApp(nil, f.srv.APIURL, f.app.ID, f.app.PrivateKeyPEM())
	if err != nil {
		t.Fatalf("NewApp: %v", err)
	}
	return a
}

func TestNewAppRefusesBadInput(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalECPrivateKey(ecKey)
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	good := keyPEM(testKeys()[0])
	tests := []struct {
		name  string
		api   string
		id    int64
		key   []byte
		wants string
	}{
		{"garbage key", "https://api.github.com/", 1, []byte("not a key"), "invalid"},
		{"EC key", "https://api.github.com/", 1, ecPEM, "invalid"},
		{"truncated key", "https://api.github.com/", 1, good[:len(good)/2], "invalid"},
		{"no app id", "https://api.github.com/", 0, good, "invalid"},
		{"relative api url", "/api/v3", 1, good, "invalid"},
		{"good", "https://ghe.example.com/api/v3", 1, good, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewApp(nil, tt.api, tt.id, tt.key)
			if got := outcome(t, err, string(tt.key)); got != tt.wants {
				t.Errorf("NewApp = %s, want %s", got, tt.wants)
			}
			if err != nil && strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("error %q quotes the key", err)
			}
		})
	}
}
