package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v60/github"

	"github.com/forgelink/forgelink/providers"
)

// CheckToken asks the GitHub API at apiBaseURL (https://api.github.com/,
// or https://<ghes>/api/v3/) whose token this is, and returns the user's
// login. Personal access tokens, classic or fine-grained, are sent as a
// bearer token. A refusal wraps providers.ErrTokenRejected; failing to get
// an answer, providers.ErrProviderUnavailable.
func CheckToken(ctx context.Context, client *http.Client, apiBaseURL, token string) (string, error) {
	base, err := url.Parse(apiBaseURL)
	if err != nil {
		return "", fmt.Errorf("github api url: %w", err)
	}
	// go-github resolves paths against BaseURL and refuses one without the
	// trailing slash.
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	c := gh.NewClient(client).WithAuthToken(token)
	c.BaseURL = base
	user, resp, err := c.Users.Get(ctx, "")
	if err != nil {
		return "", fmt.Errorf("github check token: %w", classify(resp, err))
	}
	return providers.TokenAccount(user.GetLogin())
}

// classify maps go-github's error. A rate limit is a 403 too, but says
// nothing about the token: that one is the provider being unavailable.
func classify(resp *gh.Response, err error) error {
	var rate *gh.RateLimitError
	var abuse *gh.AbuseRateLimitError
	if errors.As(err, &rate) || errors.As(err, &abuse) {
		return fmt.Errorf("%w: rate limited", providers.ErrProviderUnavailable)
	}
	status := 0
	if resp != nil && resp.Response != nil {
		status = resp.StatusCode
	}
	return providers.TokenCheckError(status, err)
}
