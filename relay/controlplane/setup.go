package controlplane

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/egress"
	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/store"
)

// Setup starts the browser set-up of connections and hosts and configures
// hosts headlessly (relay/setup). Errors that are the caller's to fix
// have an InvalidInput() bool method; store and provider errors wrap their
// sentinels.
type Setup interface {
	ConnectionSetupURL(ctx context.Context, connID string) (string, error)
	HostSetupURL(ctx context.Context, hostID string) (string, error)
	GitHubAppSetupURL(ctx context.Context, org string) (string, error)
	ConfigureHostApp(ctx context.Context, hostID, clientID, clientSecret, adminToken string) error
}

// setupLinkTTL is how long relay/setup's links are valid. ExpiresAt is
// taken before the link is made, so it never promises more than that.
const setupLinkTTL = 10 * time.Minute

type setupLinkOut struct {
	SetupURL  string  `json:"SetupUrl"`
	ExpiresAt float64 // epoch seconds
}

type setupConnectionIn struct {
	ConnectionArn *string
	conn          store.Connection
	err           error // the lookup's, answered by run after authorisation
}

// setupConnectionAccess: AWS's console handshake actions on the
// connection, with its provider type: GetInstallationUrl for GitHub and
// GHES, StartOAuthHandshake for GitLab and Bitbucket. The action depends
// on the record, so it is looked up first; one that does not exist needs
// both, so that a caller allowed only one of them learns nothing.
func (a *API) setupConnectionAccess(ctx context.Context, _ call, in *setupConnectionIn) ([]policy.Request, error) {
	arn, err := a.resolveARN(ctx, "ConnectionArn", in.ConnectionArn, store.KindConnection)
	if err != nil {
		return nil, err
	}
	if err := a.setupOffered(); err != nil {
		return nil, err
	}
	install, oauth := on(actionPrefix+"GetInstallationUrl", arn), on(actionPrefix+"StartOAuthHandshake", arn)
	in.conn, in.err = a.lookupConnection(ctx, "ConnectionArn", *in.ConnectionArn)
	switch {
	case errors.Is(in.err, store.ErrNotFound):
		return []policy.Request{install, oauth}, nil
	case in.err != nil:
		return nil, in.err
	case in.conn.ProviderType == store.ProviderGitHub || in.conn.ProviderType == store.ProviderGitHubEnterpriseServer:
		return []policy.Request{on(install.Action, arn, policy.KeyProviderType, in.conn.ProviderType)}, nil
	}
	return []policy.Request{on(oauth.Action, arn, policy.KeyProviderType, in.conn.ProviderType)}, nil
}

// startConnectionSetup answers a set-up link for a connection: followed in
// a browser, it installs the GitHub App or authorizes the OAuth
// application, and the connection becomes AVAILABLE.
func (a *API) startConnectionSetup(ctx context.Context, _ call, in *setupConnectionIn) (any, error) {
	if in.err != nil {
		return nil, in.err
	}
	// Setting a connection up (again) updates its installation.
	if err := a.inHomeRegion(ctx, "connection "+*in.ConnectionArn, in.conn.Region); err != nil {
		return nil, err
	}
	expires := a.opts.Now().Add(setupLinkTTL)
	link, err := a.opts.Setup.ConnectionSetupURL(ctx, in.conn.ID)
	if err != nil {
		return nil, setupError("connection "+*in.ConnectionArn, err)
	}
	return setupLinkOut{SetupURL: link, ExpiresAt: epochSeconds(expires)}, nil
}

// startHostSetup answers a set-up link for a host: a GitHub Enterprise
// Server host registers forgelink's GitHub App, a GitLab self-managed host
// is given its OAuth application.
func (a *API) startHostSetup(ctx context.Context, _ call, in *hostIn) (any, error) {
	if err := a.setupOffered(); err != nil {
		return nil, err
	}
	host, err := a.lookupHost(ctx, "HostArn", *in.HostArn)
	if err != nil {
		return nil, err
	}
	expires := a.opts.Now().Add(setupLinkTTL)
	link, err := a.opts.Setup.HostSetupURL(ctx, host.ID)
	if err != nil {
		return nil, setupError("host "+*in.HostArn, err)
	}
	return setupLinkOut{SetupURL: link, ExpiresAt: epochSeconds(expires)}, nil
}

type gitHubAppSetupIn struct{ Organization *string }

// startGitHubAppSetup answers a link that registers forgelink's own
// GitHub App on github.com, for a user or an organization.
func (a *API) startGitHubAppSetup(ctx context.Context, _ call, in *gitHubAppSetupIn) (any, error) {
	if err := a.setupOffered(); err != nil {
		return nil, err
	}
	var org string
	if in.Organization != nil {
		org = *in.Organization
	}
	expires := a.opts.Now().Add(setupLinkTTL)
	link, err := a.opts.Setup.GitHubAppSetupURL(ctx, org)
	if err != nil {
		return nil, setupError("github.com", err)
	}
	return setupLinkOut{SetupURL: link, ExpiresAt: epochSeconds(expires)}, nil
}

type configureHostOut struct {
	HostArn    string
	HostStatus string
}

type configureHostIn struct {
	HostArn                            *string
	ClientId, ClientSecret, AdminToken *string
	clientID, secret, admin            string
}

// configureHostAccess: RegisterAppCode on the host, with its HostArn.
func (a *API) configureHostAccess(ctx context.Context, c call, in *configureHostIn) ([]policy.Request, error) {
	arn, err := a.resolveARN(ctx, "HostArn", in.HostArn, store.KindHost)
	if err != nil {
		return nil, err
	}
	if in.clientID, in.secret, in.admin, err = appCredentials(in.ClientId, in.ClientSecret, in.AdminToken); err != nil {
		return nil, err
	}
	return []policy.Request{on(actionPrefix+"RegisterAppCode", arn, policy.KeyHostArn, arn)}, nil
}

// configureHostApp is the headless set-up of a GitLab self-managed host:
// an OAuth application's id and secret, or an admin token with which
// forgelink creates one. Credentials the host refuses change nothing.
func (a *API) configureHostApp(ctx context.Context, _ call, in *configureHostIn) (any, error) {
	if err := a.setupOffered(); err != nil {
		return nil, err
	}
	host, err := a.lookupHost(ctx, "HostArn", *in.HostArn)
	if err != nil {
		return nil, err
	}
	if err := checkEndpoint("ProviderEndpoint", host.ProviderEndpoint, a.opts.Limits.AllowHTTPEndpoints); err != nil {
		return nil, err
	}
	if err := a.opts.Setup.ConfigureHostApp(ctx, host.ID, in.clientID, in.secret, in.admin); err != nil {
		return nil, setupError("host "+*in.HostArn, err)
	}
	return configureHostOut{HostArn: *in.HostArn, HostStatus: "AVAILABLE"}, nil
}

// appCredentials validates ConfigureHostApp's credentials, never quoting
// them: a client id and secret, or an admin token.
func appCredentials(clientID, secret, admin *string) (string, string, string, error) {
	if admin != nil {
		if clientID != nil || secret != nil {
			return "", "", "", validationError("give either ClientId and ClientSecret, or AdminToken, not both")
		}
		return "", "", *admin, checkToken("AdminToken", admin)
	}
	if clientID == nil || secret == nil {
		return "", "", "", validationError("give ClientId and ClientSecret, or AdminToken")
	}
	if err := checkToken("ClientId", clientID); err != nil {
		return "", "", "", err
	}
	return *clientID, *secret, "", checkToken("ClientSecret", secret)
}

func (a *API) setupOffered() error {
	if a.opts.Setup == nil {
		return newError(codeUnsupportedOp, "this forgelink daemon does not run the provider set-up")
	}
	return nil
}

// setupError maps relay/setup's errors: the caller's to fix, the
// provider's unavailability, or store sentinels about the resource.
func setupError(resource string, err error) error {
	var input interface{ InvalidInput() bool }
	switch {
	case errors.As(err, &input) && input.InvalidInput():
		return newError(codeInvalidInput, "%s", err.Error())
	case errors.Is(err, egress.ErrForbiddenAddress):
		return forbiddenEndpoint(err)
	case errors.Is(err, providers.ErrProviderUnavailable):
		return newError(codeUnavailable, "the provider could not be asked: %v", err)
	case errors.Is(err, providers.ErrTokenRejected):
		return newError(codeInvalidInput, "the provider refused the credentials: %v", err)
	}
	return onResource(resource, fmt.Errorf("set-up: %w", err))
}

// forbiddenEndpoint answers a provider call refused at dial time: the
// host's endpoint resolved to this machine, a link-local address or a
// private one. It is the caller's endpoint to fix, not a provider outage.
func forbiddenEndpoint(err error) error {
	return newError(codeInvalidInput, "provider endpoint refused: %v", err)
}

// Revoker revokes what forgelink was issued for a connection: OAuth
// grants, minted installation tokens (relay/setup).
type Revoker interface {
	Revoke(ctx context.Context, conn store.Connection) error
}

// revokeCredentials runs before a connection is deleted (after its
// webhooks are removed, which needs its credential). A provider that
// cannot be asked does not stop the deletion the operator asked for; the
// failure is logged.
func (a *API) revokeCredentials(ctx context.Context, conn store.Connection, arn string) {
	if a.opts.Revoker == nil {
		return
	}
	if err := a.opts.Revoker.Revoke(ctx, conn); err != nil {
		a.opts.Log.Warn("credentials of a deleted connection may remain valid at the provider",
			zap.String("connection", arn), zap.Error(err))
	}
}
