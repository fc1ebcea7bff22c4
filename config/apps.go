package config

import (
	"bytes"
	"cmp"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Default web URLs of the cloud providers, where browsers go.
const (
	DefaultGitHubURL    = "https://github.com"
	DefaultBitbucketURL = "https://bitbucket.org"
)

// OAuthApp is an OAuth application registered for forgelink on gitlab.com,
// with forgelink's callback (<publicURL>/setup/callback/oauth) as its
// redirect URI.
type OAuthApp struct {
	ClientID         string `yaml:"clientId"`
	ClientSecretFile string `yaml:"clientSecretFile"`
	// Regions are the home regions whose connections it sets up; empty:
	// every served region (issue 11: a region such as Europe (Milan) may
	// need an application of its own).
	Regions []string `yaml:"regions"`
}

// ReadClientSecret reads the application's secret, trimmed of surrounding
// whitespace.
func (a OAuthApp) ReadClientSecret() ([]byte, error) {
	return readSecretFile("gitlab oauth application client secret", a.ClientSecretFile)
}

// OAuthConsumer is a Bitbucket Cloud OAuth consumer, with forgelink's
// callback (<publicURL>/setup/callback/oauth) as its callback URL.
type OAuthConsumer struct {
	Key        string `yaml:"key"`
	SecretFile string `yaml:"secretFile"`
	// Regions: as OAuthApp's.
	Regions []string `yaml:"regions"`
}

// ReadSecret reads the consumer's secret, trimmed of surrounding whitespace.
func (c OAuthConsumer) ReadSecret() ([]byte, error) {
	return readSecretFile("bitbucket oauth consumer secret", c.SecretFile)
}

// SetsUp reports whether forgelink can set up github.com connections with
// the App: it knows the App's slug (for its installation page) and private
// key (for its JWT), and validation requires its OAuth client id and
// secret with them. The App must request user authorization (OAuth)
// during installation, with the callback URL
// <publicURL>/setup/callback/github.
func (a GitHubApp) SetsUp() bool { return a.Slug != "" && a.PrivateKeyFile != "" }

// ReadClientSecret reads the App's OAuth client secret, trimmed of
// surrounding whitespace.
func (a GitHubApp) ReadClientSecret() ([]byte, error) {
	return readSecretFile(fmt.Sprintf("github app %d client secret", a.AppID), a.ClientSecretFile)
}

// ReadPrivateKey reads the App's private key (PEM, as GitHub issues it) and
// checks that it is an RSA key.
func (a GitHubApp) ReadPrivateKey() ([]byte, error) {
	data, err := os.ReadFile(a.PrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("github app %d private key: %w", a.AppID, err)
	}
	if err := checkRSAKey(data); err != nil {
		return nil, fmt.Errorf("github app %d private key: %s: %w", a.AppID, a.PrivateKeyFile, err)
	}
	return data, nil
}

func checkRSAKey(data []byte) error {
	block, _ := pem.Decode(data)
	if block == nil {
		return errors.New("not a PEM private key")
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return nil
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return errors.New("not an RSA private key")
	}
	if _, ok := key.(*rsa.PrivateKey); !ok {
		return errors.New("not an RSA private key")
	}
	return nil
}

func readSecretFile(what, path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	secret := bytes.TrimSpace(data)
	if len(secret) == 0 {
		return nil, fmt.Errorf("%s: %s is empty", what, path)
	}
	return secret, nil
}

// GitHubWeb returns github.com's web URL, without a trailing slash.
func (p Providers) GitHubWeb() string {
	return strings.TrimRight(cmp.Or(p.GitHubURL, DefaultGitHubURL), "/")
}

// BitbucketWeb returns Bitbucket Cloud's web URL, without a trailing slash.
func (p Providers) BitbucketWeb() string {
	return strings.TrimRight(cmp.Or(p.BitbucketURL, DefaultBitbucketURL), "/")
}

// GitLabWeb returns gitlab.com's web URL: the API base URL without its
// /api/v4 suffix.
func (p Providers) GitLabWeb() string {
	api := strings.TrimRight(p.GitLabAPI(), "/")
	return strings.TrimSuffix(api, "/api/v4")
}

func (c *Config) resolveAppPaths(resolve func(*string)) {
	for i := range c.GitHubApps {
		resolve(&c.GitHubApps[i].PrivateKeyFile)
		resolve(&c.GitHubApps[i].ClientSecretFile)
	}
	if a := c.Providers.GitLabApp; a != nil {
		resolve(&a.ClientSecretFile)
	}
	if b := c.Providers.BitbucketConsumer; b != nil {
		resolve(&b.SecretFile)
	}
}

// slugPattern is GitHub's spelling of App URL names.
var slugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,99}$`)

func (c *Config) validateApps(bad func(field, format string, args ...any)) {
	for _, f := range []struct{ field, url string }{
		{"providers.githubURL", c.Providers.GitHubURL},
		{"providers.bitbucketURL", c.Providers.BitbucketURL},
	} {
		if f.url != "" {
			validateURL(f.field, f.url, []string{"http", "https"}, bad)
		}
	}
	for i, app := range c.GitHubApps {
		validateGitHubAppSetup(fmt.Sprintf("githubApps[%d]", i), app, bad)
	}
	if a := c.Providers.GitLabApp; a != nil {
		requireField("providers.gitlabApp.clientId", a.ClientID, bad)
		if requireField("providers.gitlabApp.clientSecretFile", a.ClientSecretFile, bad) {
			if _, err := a.ReadClientSecret(); err != nil {
				bad("providers.gitlabApp.clientSecretFile", "%v", errors.Unwrap(err))
			}
		}
	}
	if b := c.Providers.BitbucketConsumer; b != nil {
		requireField("providers.bitbucketConsumer.key", b.Key, bad)
		if requireField("providers.bitbucketConsumer.secretFile", b.SecretFile, bad) {
			if _, err := b.ReadSecret(); err != nil {
				bad("providers.bitbucketConsumer.secretFile", "%v", errors.Unwrap(err))
			}
		}
	}
}

func validateGitHubAppSetup(field string, app GitHubApp, bad func(field, format string, args ...any)) {
	if app.Slug == "" && app.PrivateKeyFile == "" {
		return // an App whose webhooks forgelink only receives
	}
	if app.Slug == "" {
		bad(field+".slug", "must be set with privateKeyFile: the App's URL name, as in https://github.com/apps/<slug>")
	} else if !slugPattern.MatchString(app.Slug) {
		bad(field+".slug", "want the App's URL name (lower-case letters, digits and dashes), got %q", app.Slug)
	}
	if app.PrivateKeyFile == "" {
		bad(field+".privateKeyFile", "must be set with slug: the App's private key (PEM), to authenticate as the App")
	} else if _, err := app.ReadPrivateKey(); err != nil {
		bad(field+".privateKeyFile", "%v", errors.Unwrap(err))
	}
	const why = "must be set with slug: set-up proves an installation with the App's user authorization (OAuth client id and secret)"
	if app.ClientID == "" {
		bad(field+".clientId", why)
	}
	if app.ClientSecretFile == "" {
		bad(field+".clientSecretFile", why)
	} else if _, err := app.ReadClientSecret(); err != nil {
		bad(field+".clientSecretFile", "%v", errors.Unwrap(err))
	}
}

func requireField(field, v string, bad func(field, format string, args ...any)) bool {
	if v == "" {
		bad(field, "must be set")
		return false
	}
	return true
}
