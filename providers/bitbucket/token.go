package bitbucket

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	bb "github.com/ktrysmt/go-bitbucket"

	"github.com/forgelink/forgelink/providers"
)

// CheckToken asks the Bitbucket Cloud API at apiBaseURL
// (https://api.bitbucket.org/2.0) whose token this is, and returns the
// user's username. A token of the form "username:app_password" (or an
// Atlassian account email and API token) is sent with Basic auth; any
// other is sent as a bearer token (an OAuth or access token). A refusal
// wraps providers.ErrTokenRejected; failing to get an answer,
// providers.ErrProviderUnavailable.
func CheckToken(ctx context.Context, client *http.Client, apiBaseURL, token string) (account string, err error) {
	c, cancel, err := newClient(ctx, client, apiBaseURL, token)
	if err != nil {
		return "", err
	}
	defer cancel()
	// go-bitbucket asserts that the answer is a JSON object and panics on
	// anything else (an empty 204, an array).
	defer func() {
		if recover() != nil {
			account, err = "", fmt.Errorf("bitbucket check token: %w: the answer is not a user", providers.ErrProviderUnavailable)
		}
	}()
	user, err := c.User.Profile()
	if err != nil {
		status := 0
		var unexpected *bb.UnexpectedResponseStatusError
		if errors.As(err, &unexpected) {
			status = unexpected.StatusCode
		}
		return "", fmt.Errorf("bitbucket check token: %w", providers.TokenCheckError(status, err))
	}
	return providers.TokenAccount(user.Username)
}

// contextTransport runs every request under ctx.
type contextTransport struct {
	ctx  context.Context
	next http.RoundTripper
}

func (t contextTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.next.RoundTrip(r.WithContext(t.ctx))
}
