package controlplane

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/egress"
	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/store"
)

// TokenChecker asks a provider whose token a token is, through the
// provider's own API at apiBaseURL.
type TokenChecker interface {
	// CheckToken returns the provider account the token belongs to. Errors
	// wrap providers.ErrTokenRejected when the provider refused the token,
	// providers.ErrProviderUnavailable when it could not be asked; they
	// never contain the token.
	CheckToken(ctx context.Context, providerType, apiBaseURL, token string) (string, error)
}

// maxToken bounds a token. The providers' own are far shorter (a GitHub
// fine-grained token has 93 characters); this leaves room for a Bitbucket
// "email:api_token" pair.
const maxToken = 4096

type completeOut struct {
	ConnectionArn    string
	ConnectionStatus string
	Account          string // the provider account the token belongs to
}

type completeIn struct {
	ConnectionArn *string
	Token         *string
}

// completeAccess: UpdateConnectionInstallation on the connection, the
// action with which AWS binds a connection to its provider credential.
func (a *API) completeAccess(ctx context.Context, c call, in *completeIn) ([]policy.Request, error) {
	if err := checkToken("Token", in.Token); err != nil {
		return nil, err
	}
	return onConnection(a, func(in *completeIn) *string { return in.ConnectionArn }, actionPrefix+"UpdateConnectionInstallation")(ctx, c, in)
}

// completeConnection is the headless completion of a connection, for build
// hosts with no browser: an access token (or Bitbucket app password) that
// the provider accepts makes the connection AVAILABLE. The token is kept
// sealed; a token the provider refuses changes nothing.
func (a *API) completeConnection(ctx context.Context, _ call, in *completeIn) (any, error) {
	if a.opts.Tokens == nil {
		return nil, newError(codeUnsupportedOp, "this forgelink daemon is not set up to check provider tokens")
	}
	arn := *in.ConnectionArn
	conn, err := a.lookupConnection(ctx, "ConnectionArn", arn)
	if err != nil {
		return nil, err
	}
	if err := a.inHomeRegion(ctx, "connection "+arn, conn.Region); err != nil {
		return nil, err
	}
	apiURL, err := a.providerAPI(ctx, conn, arn)
	if err != nil {
		return nil, err
	}
	account, err := a.opts.Tokens.CheckToken(ctx, conn.ProviderType, apiURL, *in.Token)
	var status *providers.StatusError
	switch {
	case errors.Is(err, providers.ErrTokenRejected) && errors.As(err, &status):
		return nil, newError(codeInvalidInput, "the provider rejected the token (HTTP %d): the connection stays %s", status.StatusCode, conn.Status)
	case errors.Is(err, providers.ErrTokenRejected):
		return nil, newError(codeInvalidInput, "the provider rejected the token: the connection stays %s", conn.Status)
	case errors.Is(err, egress.ErrForbiddenAddress):
		return nil, forbiddenEndpoint(err)
	case errors.Is(err, providers.ErrProviderUnavailable):
		return nil, newError(codeUnavailable, "could not check the token with %s: %v; the connection stays %s", apiURL, err, conn.Status)
	case err != nil:
		return nil, fmt.Errorf("check token of connection %s: %w", conn.ID, err)
	}
	cred := store.Credential{
		Kind:    store.CredentialToken,
		Sealed:  a.opts.Keyring.Seal([]byte(*in.Token), []byte(conn.ID)),
		Account: account,
	}
	if err := a.opts.Store.SetConnectionCredential(ctx, conn.ID, cred); err != nil {
		return nil, onResource("connection "+arn, err)
	}
	a.opts.ConnectionChanged(conn.ID)
	return completeOut{ConnectionArn: arn, ConnectionStatus: store.StatusAvailable, Account: account}, nil
}

// checkToken validates a token without ever quoting it: 1 to maxToken
// visible ASCII characters, as providers issue them. Anything else (a
// stray newline, a space) could not travel in an HTTP header anyway.
func checkToken(field string, v *string) error {
	if err := required(field, v); err != nil {
		return err
	}
	if err := checkLength(field, *v, 1, maxToken); err != nil {
		return err
	}
	for i := range len(*v) {
		if b := (*v)[i]; b <= ' ' || b > '~' {
			return validationError("Value at '%s' failed to satisfy constraint: Member must be visible ASCII characters, without spaces", field)
		}
	}
	return nil
}

// providerAPI returns the API base URL of the connection's provider: the
// configured one for cloud providers, the host's for self-managed ones. The
// host need not be AVAILABLE: a token check needs an endpoint that answers,
// not the provider app whose set-up makes a host AVAILABLE. Its endpoint is
// checked again, since a plain-HTTP endpoint allowed when the host was
// created may no longer be, and the token would cross it in clear text.
func (a *API) providerAPI(ctx context.Context, conn store.Connection, arn string) (string, error) {
	urls := a.opts.ProviderURLs
	switch conn.ProviderType {
	case store.ProviderGitHub:
		return urls.GitHubAPI(), nil
	case store.ProviderGitLab:
		return urls.GitLabAPI(), nil
	case store.ProviderBitbucket:
		return urls.BitbucketAPI(), nil
	}
	host, err := a.opts.Store.GetHost(ctx, conn.HostID)
	if err != nil {
		return "", onResource("host of connection "+arn, err)
	}
	if err := checkEndpoint("ProviderEndpoint", host.ProviderEndpoint, a.opts.Limits.AllowHTTPEndpoints); err != nil {
		return "", err
	}
	endpoint := strings.TrimRight(host.ProviderEndpoint, "/")
	switch conn.ProviderType {
	case store.ProviderGitHubEnterpriseServer:
		return endpoint + "/api/v3/", nil
	case store.ProviderGitLabSelfManaged:
		return endpoint + "/api/v4", nil
	}
	return "", fmt.Errorf("connection %s has unknown provider type %q", conn.ID, conn.ProviderType)
}
