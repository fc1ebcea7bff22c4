package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeKeys(t *testing.T, dir string) {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ek)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"app.pem":          pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}),
		"ec.pem":           pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}),
		"hook":             []byte("hook-secret\n"),
		"gl-secret":        []byte("gloas-secret\n"),
		"bb-secret":        []byte("bb-secret\n"),
		"gh-client-secret": []byte("gh-secret\n"),
		"empty":            []byte("\n"),
		"not-pem.txt":      []byte("hello"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAppsConfig(t *testing.T) {
	path := writeFile(t, strings.Join([]string{
		"providers:",
		"  githubURL: https://github.example.com/",
		"  gitlabURL: https://gitlab.example.com/api/v4/",
		"  gitlabApp:",
		"    clientId: gl-client",
		"    clientSecretFile: gl-secret", // relative to the file
		"  bitbucketConsumer:",
		"    key: bb-key",
		"    secretFile: bb-secret",
		"githubApps:",
		"  - appId: 12",
		"    webhookSecretFile: hook",
		"    slug: forgelink-ci",
		"    clientId: Iv1.abc",
		"    clientSecretFile: gh-client-secret",
		"    privateKeyFile: app.pem",
		"  - appId: 13",
		"    webhookSecretFile: hook",
	}, "\n"))
	writeKeys(t, filepath.Dir(path))
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	p := cfg.Providers
	for _, c := range []struct{ name, got, want string }{
		{"github web", p.GitHubWeb(), "https://github.example.com"},
		{"gitlab web", p.GitLabWeb(), "https://gitlab.example.com"},
		{"bitbucket web (default)", p.BitbucketWeb(), DefaultBitbucketURL},
		{"gitlab client id", p.GitLabApp.ClientID, "gl-client"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if s, err := p.GitLabApp.ReadClientSecret(); err != nil || string(s) != "gloas-secret" {
		t.Errorf("gitlab client secret %q, %v", s, err)
	}
	if s, err := p.BitbucketConsumer.ReadSecret(); err != nil || string(s) != "bb-secret" {
		t.Errorf("bitbucket secret %q, %v", s, err)
	}
	if !cfg.GitHubApps[0].SetsUp() || cfg.GitHubApps[1].SetsUp() {
		t.Errorf("SetsUp: %v %v, want true false", cfg.GitHubApps[0].SetsUp(), cfg.GitHubApps[1].SetsUp())
	}
	if key, err := cfg.GitHubApps[0].ReadPrivateKey(); err != nil || !strings.Contains(string(key), "RSA PRIVATE KEY") {
		t.Errorf("ReadPrivateKey: %v", err)
	}
	if s, err := cfg.GitHubApps[0].ReadClientSecret(); err != nil || string(s) != "gh-secret" {
		t.Errorf("github app client secret %q, %v", s, err)
	}
	if got := Default().Providers.GitLabWeb(); got != "https://gitlab.com" {
		t.Errorf("default gitlab web = %q", got)
	}
	if got := Default().Providers.GitHubWeb(); got != DefaultGitHubURL {
		t.Errorf("default github web = %q", got)
	}
}

func TestAppsConfigValidate(t *testing.T) {
	path := writeFile(t, strings.Join([]string{
		"providers:",
		"  githubURL: github.com",
		"  gitlabApp:",
		"    clientSecretFile: empty",
		"  bitbucketConsumer:",
		"    key: bb-key",
		"githubApps:",
		"  - appId: 12",
		"    webhookSecretFile: hook",
		"    slug: Forgelink_CI",
		"    privateKeyFile: ec.pem",
		"  - appId: 13",
		"    webhookSecretFile: hook",
		"    privateKeyFile: not-pem.txt",
		"  - appId: 14",
		"    webhookSecretFile: hook",
		"    slug: only-slug",
		"    clientId: Iv1.abc",
		"    clientSecretFile: empty",
	}, "\n"))
	writeKeys(t, filepath.Dir(path))
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var verr ValidationError
	if err := cfg.Validate(); !errors.As(err, &verr) {
		t.Fatalf("Validate = %v, want ValidationError", err)
	}
	want := map[string]int{
		"providers.githubURL":                    2,
		"providers.gitlabApp.clientId":           0, // missing: no line of its own
		"providers.gitlabApp.clientSecretFile":   4,
		"providers.bitbucketConsumer.secretFile": 0,
		"githubApps[0].slug":                     10,
		"githubApps[0].privateKeyFile":           11,
		"githubApps[1].slug":                     0,
		"githubApps[1].privateKeyFile":           14,
		"githubApps[2].privateKeyFile":           0,
		"githubApps[0].clientId":                 0,
		"githubApps[0].clientSecretFile":         0,
		"githubApps[1].clientId":                 0,
		"githubApps[1].clientSecretFile":         0,
		"githubApps[2].clientSecretFile":         19,
	}
	got := map[string]int{}
	for _, fe := range verr {
		got[fe.Field] = fe.Line
		if !strings.HasPrefix(fe.Error(), path+":") {
			t.Errorf("%q does not name the file", fe.Error())
		}
	}
	for field, line := range want {
		l, ok := got[field]
		if !ok {
			t.Errorf("no problem reported for %s (all: %v)", field, verr)
			continue
		}
		if line != 0 && l != line {
			t.Errorf("%s: line %d, want %d", field, l, line)
		}
	}
	if len(got) != len(want) {
		t.Errorf("problems %v, want %d of them", verr, len(want))
	}
}
