package gitlab

import (
	"context"
	"fmt"
	"net/http"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/forgelink/forgelink/providers"
)

// CheckToken asks the GitLab API at apiBaseURL (https://gitlab.com/api/v4,
// or <self-managed>/api/v4) whose token this is, and returns the user's
// username. Personal, project and group access tokens all go in the
// PRIVATE-TOKEN header; a project or group token answers with its bot
// user. A refusal wraps providers.ErrTokenRejected; failing to get an
// answer, providers.ErrProviderUnavailable.
func CheckToken(ctx context.Context, client *http.Client, apiBaseURL, token string) (string, error) {
	c, err := newClient(client, apiBaseURL, token)
	if err != nil {
		return "", err
	}
	user, resp, err := c.Users.CurrentUser(gitlab.WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("gitlab check token: %w", providers.TokenCheckError(statusOf(resp), err))
	}
	var account string
	if user != nil { // a "null" answer decodes to no user and no error
		account = user.Username
	}
	return providers.TokenAccount(account)
}
