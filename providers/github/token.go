package github

import (
	"context"
	"fmt"
	"net/http"

	"github.com/forgelink/forgelink/providers"
)

// CheckToken asks the GitHub API at apiBaseURL (https://api.github.com/,
// or https://<ghes>/api/v3/) whose token this is, and returns the user's
// login. Personal access tokens, classic or fine-grained, are sent as a
// bearer token. A refusal wraps providers.ErrTokenRejected; failing to get
// an answer, providers.ErrProviderUnavailable.
func CheckToken(ctx context.Context, client *http.Client, apiBaseURL, token string) (string, error) {
	c, err := newClient(client, apiBaseURL, token)
	if err != nil {
		return "", err
	}
	user, resp, err := c.Users.Get(ctx, "")
	if err != nil {
		return "", fmt.Errorf("github check token: %w", classifyError(resp, err, providers.TokenCheckError))
	}
	return providers.TokenAccount(user.GetLogin())
}
