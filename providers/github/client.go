package github

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v60/github"

	"github.com/forgelink/forgelink/providers"
)

// newClient returns a go-github client for the API at apiBaseURL
// (https://api.github.com/, or https://<ghes>/api/v3/) that sends token.
func newClient(client *http.Client, apiBaseURL, token string) (*gh.Client, error) {
	c, err := newBaseClient(client, apiBaseURL)
	if err != nil {
		return nil, err
	}
	return c.WithAuthToken(token), nil
}

// newBaseClient returns a go-github client for the API at apiBaseURL that
// authenticates only as client's transport does.
func newBaseClient(client *http.Client, apiBaseURL string) (*gh.Client, error) {
	base, err := url.Parse(apiBaseURL)
	if err != nil {
		return nil, fmt.Errorf("github api url: %w", err)
	}
	// go-github resolves paths against BaseURL and refuses one without the
	// trailing slash.
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	c := gh.NewClient(client)
	c.BaseURL = base
	return c, nil
}

// splitRepo splits "owner/repo"; anything else names no repository.
func splitRepo(fullName string) (owner, repo string, err error) {
	owner, repo, ok := strings.Cut(fullName, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return "", "", fmt.Errorf("%w: repository %q is not owner/name", providers.ErrNoFileList, fullName)
	}
	return url.PathEscape(owner), url.PathEscape(repo), nil
}

// addFile records one file of a comparison or pull request, a rename as
// its old and new paths.
func addFile(files *providers.FileCollector, f *gh.CommitFile) {
	if f.GetFilename() == "" {
		return
	}
	switch status := f.GetStatus(); status {
	case "added", "copied":
		files.Add(providers.FileAdded, "", f.GetFilename())
	case "removed":
		files.Add(providers.FileRemoved, f.GetFilename(), "")
	case "renamed":
		files.Add(providers.FileRenamed, f.GetPreviousFilename(), f.GetFilename())
	default: // modified, changed
		files.Add(status, f.GetFilename(), f.GetFilename())
	}
}

// classifyError maps go-github's error. A rate limit is a 403 or 429 too,
// but says nothing about the token or the request: the provider is
// unavailable for now. Any other status is left to byStatus.
func classifyError(resp *gh.Response, err error, byStatus func(status int, err error) error) error {
	var rate *gh.RateLimitError
	var abuse *gh.AbuseRateLimitError
	if errors.As(err, &rate) || errors.As(err, &abuse) {
		return fmt.Errorf("%w: rate limited", providers.ErrProviderUnavailable)
	}
	status := 0
	if resp != nil && resp.Response != nil {
		status = resp.StatusCode
	}
	return byStatus(status, err)
}
