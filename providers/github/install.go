package github

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/forgelink/forgelink/providers"
)

// Installation is one installation of an App, as GitHub reports it.
type Installation struct {
	ID                  int64
	Account             string // the login of the user or organization it is installed on
	AccountType         string // "User" or "Organization"
	Suspended           bool
	RepositorySelection string // "all" or "selected"
}

// Installation looks installation id up with the App's JWT: GET
// /app/installations/{id}. An installation_id brought by a set-up
// callback is to be trusted only once this confirms it. Errors are
// classified as appCallError says.
func (a *App) Installation(ctx context.Context, id int64) (Installation, error) {
	if id <= 0 {
		return Installation{}, fmt.Errorf("github app %d: %w: installation id %d", a.id, providers.ErrNotFound, id)
	}
	inst, resp, err := a.c.Apps.GetInstallation(ctx, id)
	if err != nil {
		return Installation{}, fmt.Errorf("github app %d: installation %d: %w", a.id, id, appCallError(resp, err))
	}
	if inst.GetID() != id || inst.GetAccount().GetLogin() == "" {
		return Installation{}, fmt.Errorf("github app %d: installation %d: %w: the answer names another installation or no account", a.id, id, providers.ErrProviderUnavailable)
	}
	return Installation{
		ID:                  id,
		Account:             inst.GetAccount().GetLogin(),
		AccountType:         inst.GetAccount().GetType(),
		Suspended:           inst.SuspendedAt != nil,
		RepositorySelection: inst.GetRepositorySelection(),
	}, nil
}

// RepositoryToken mints a token of installation installationID that can
// only read repository ("owner/name") over git: POST
// /app/installations/{id}/access_tokens with the repository's name and
// contents:read. GitHub resolves the name within the installation's
// account, so the answer's repository list must name repository itself; a
// token for another owner's namesake is revoked at once and not returned.
// A repository the installation does not cover wraps providers.ErrNotFound;
// other errors are classified as tokenCallError says.
func (a *App) RepositoryToken(ctx context.Context, installationID int64, repository string) (providers.AccessToken, error) {
	owner, name, ok := strings.Cut(repository, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return providers.AccessToken{}, fmt.Errorf("github repository token: %w: repository %q is not owner/name", providers.ErrNotFound, repository)
	}
	tok, err := a.accessToken(ctx, installationID, &gh.InstallationTokenOptions{
		Repositories: []string{name},
		Permissions:  &gh.InstallationPermissions{Contents: gh.String("read")},
	})
	if err != nil {
		return providers.AccessToken{}, fmt.Errorf("github repository token for %s: %w", repository, err)
	}
	if !namesRepository(tok.Repositories, repository) {
		// Best effort: the token is useless to the caller either way, and
		// expires within the hour if revoking fails.
		_ = RevokeInstallationToken(ctx, a.client, a.apiBaseURL, tok.GetToken())
		return providers.AccessToken{}, fmt.Errorf("github repository token for %s: %w: installation %d covers another owner's repository of that name", repository, providers.ErrNotFound, installationID)
	}
	return providers.AccessToken{Token: tok.GetToken(), Username: "x-access-token", ExpiresAt: tok.GetExpiresAt().Time}, nil
}

// InstallationToken mints a token of installation installationID with
// all of the installation's repositories and permissions, for API calls
// on a connection's behalf (compare, pull request files), and returns its
// expiry (an hour). Callers reuse it until shortly before then rather
// than mint one per call.
func (a *App) InstallationToken(ctx context.Context, installationID int64) (providers.Token, time.Time, error) {
	tok, err := a.accessToken(ctx, installationID, nil)
	if err != nil {
		return providers.Token{}, time.Time{}, fmt.Errorf("github installation token: %w", err)
	}
	return providers.Token{Value: tok.GetToken()}, tok.GetExpiresAt().Time, nil
}

func (a *App) accessToken(ctx context.Context, installationID int64, opts *gh.InstallationTokenOptions) (*gh.InstallationToken, error) {
	if installationID <= 0 {
		return nil, fmt.Errorf("%w: installation id %d", providers.ErrNotFound, installationID)
	}
	tok, resp, err := a.c.Apps.CreateInstallationToken(ctx, installationID, opts)
	if err != nil {
		return nil, fmt.Errorf("app %d installation %d: %w", a.id, installationID, tokenCallError(resp, err))
	}
	if tok.GetToken() == "" {
		return nil, fmt.Errorf("app %d installation %d: %w: the answer has no token", a.id, installationID, providers.ErrProviderUnavailable)
	}
	return tok, nil
}

// namesRepository reports whether repos holds fullName (GitHub compares
// names without regard to case).
func namesRepository(repos []*gh.Repository, fullName string) bool {
	for _, r := range repos {
		if strings.EqualFold(r.GetFullName(), fullName) {
			return true
		}
	}
	return false
}

// RevokeInstallationToken revokes an installation token: DELETE
// /installation/token, authenticated with the token itself, answered 204.
// A token GitHub no longer accepts (401: expired or revoked already) is
// as good as revoked, so that is success too. Errors never carry the
// token.
func RevokeInstallationToken(ctx context.Context, client *http.Client, apiBaseURL, token string) error {
	if token == "" {
		return fmt.Errorf("github revoke token: %w: no token", ErrInvalidParameter)
	}
	c, err := newClient(client, apiBaseURL, token)
	if err != nil {
		return err
	}
	resp, err := c.Apps.RevokeInstallationToken(ctx)
	if err != nil && (resp == nil || resp.StatusCode != http.StatusUnauthorized) {
		return fmt.Errorf("github revoke token: %w", classifyError(resp, err, providers.TokenCheckError))
	}
	return nil
}
