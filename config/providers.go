package config

import "cmp"

// Default API base URLs of the cloud providers.
const (
	DefaultGitHubAPIURL    = "https://api.github.com/"
	DefaultGitLabURL       = "https://gitlab.com/api/v4"
	DefaultBitbucketAPIURL = "https://api.bitbucket.org/2.0"
)

// Providers locates the APIs of the cloud providers (github.com, gitlab.com,
// Bitbucket Cloud); self-managed ones are found through their hosts. An
// empty field means the public service. Overrides serve tests and GitHub
// Enterprise Cloud with data residency (https://api.<subdomain>.ghe.com/).
type Providers struct {
	GitHubAPIURL    string `yaml:"githubAPIURL"`
	GitLabURL       string `yaml:"gitlabURL"` // the API base, .../api/v4
	BitbucketAPIURL string `yaml:"bitbucketAPIURL"`
	// Web URLs and the cloud providers' OAuth applications (apps.go).
	GitHubURL         string         `yaml:"githubURL"`
	BitbucketURL      string         `yaml:"bitbucketURL"`
	GitLabApp         *OAuthApp      `yaml:"gitlabApp"`
	BitbucketConsumer *OAuthConsumer `yaml:"bitbucketConsumer"`
	// AllowSharedInstallations lets one GitHub App installation (on
	// github.com or a GHES host) complete several connections. By default
	// an installation that completes a live connection is refused to
	// any other.
	AllowSharedInstallations bool `yaml:"allowSharedInstallations"`
}

// GitHubAPI returns the github.com API base URL.
func (p Providers) GitHubAPI() string { return cmp.Or(p.GitHubAPIURL, DefaultGitHubAPIURL) }

// GitLabAPI returns the gitlab.com API base URL.
func (p Providers) GitLabAPI() string { return cmp.Or(p.GitLabURL, DefaultGitLabURL) }

// BitbucketAPI returns the Bitbucket Cloud API base URL.
func (p Providers) BitbucketAPI() string { return cmp.Or(p.BitbucketAPIURL, DefaultBitbucketAPIURL) }

func (c *Config) validateProviders(bad func(field, format string, args ...any)) {
	for _, f := range []struct{ field, url string }{
		{"providers.githubAPIURL", c.Providers.GitHubAPIURL},
		{"providers.gitlabURL", c.Providers.GitLabURL},
		{"providers.bitbucketAPIURL", c.Providers.BitbucketAPIURL},
	} {
		if f.url != "" {
			validateURL(f.field, f.url, []string{"http", "https"}, bad)
		}
	}
}
