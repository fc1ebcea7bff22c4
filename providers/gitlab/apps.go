package gitlab

import (
	"context"
	"fmt"
	"net/http"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/forgelink/forgelink/providers"
)

// oauthScopes is what forgelink's OAuth application may be granted, as
// GitLab's applications API takes it: space-separated.
const oauthScopes = "api read_repository"

// CreateOAuthApp creates forgelink's OAuth application on the GitLab
// instance whose API is at apiBaseURL, with an administrator's personal
// access token (POST /applications: instance-wide applications are
// admin-only). The application is confidential, redirects to redirectURL
// and may be granted "api read_repository". A refused token (401, 403: not
// an admin, or without the api scope) wraps providers.ErrTokenRejected;
// anything else that fails, providers.ErrProviderUnavailable.
func CreateOAuthApp(ctx context.Context, client *http.Client, apiBaseURL, adminToken, name, redirectURL string) (clientID, clientSecret string, err error) {
	c, err := newClient(client, apiBaseURL, adminToken)
	if err != nil {
		return "", "", err
	}
	app, resp, err := c.Applications.CreateApplication(&gitlab.CreateApplicationOptions{
		Name:         gitlab.Ptr(name),
		RedirectURI:  gitlab.Ptr(redirectURL),
		Scopes:       gitlab.Ptr(oauthScopes),
		Confidential: gitlab.Ptr(true),
	}, gitlab.WithContext(ctx))
	if err != nil {
		return "", "", fmt.Errorf("gitlab create oauth app: %w", providers.TokenCheckError(statusOf(resp), err))
	}
	if app == nil || app.ApplicationID == "" || app.Secret == "" {
		return "", "", fmt.Errorf("gitlab create oauth app: %w: the answer has no application id or secret", providers.ErrProviderUnavailable)
	}
	return app.ApplicationID, app.Secret, nil
}
