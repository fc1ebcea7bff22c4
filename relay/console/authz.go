package console

import (
	"context"

	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/store"
)

// Authorizer evaluates an access key's policy (policy.Authorizer).
type Authorizer interface {
	Authorize(accessKeyID string, r policy.Request) policy.Decision
}

// The actions the console checks, as the API names them.
const (
	actionGetConnection    = "codeconnections:GetConnection"
	actionGetHost          = "codeconnections:GetHost"
	actionListEvents       = "forgelink:ListEvents"
	actionListDeliveries   = "forgelink:ListDeliveries"
	actionGetEvent         = "forgelink:GetEvent"
	actionExplainEvent     = "forgelink:ExplainEvent"
	actionGetDelivery      = "forgelink:GetDelivery"
	actionRedeliver        = "forgelink:RedeliverDelivery"
	actionDiscard          = "forgelink:DiscardDelivery"
	actionGetWebhook       = "forgelink:GetConnectionWebhook"
	actionInstallationURL  = "codeconnections:GetInstallationUrl"
	actionOAuthHandshake   = "codeconnections:StartOAuthHandshake"
	actionAppRegistration  = "codeconnections:StartAppRegistrationHandshake"
	connectionResourceKind = "connection"
)

// allowed reports whether the session's access key may do action on
// resource. An open console (a daemon without access keys, loopback only)
// and a console without an Authorizer may do everything; a signed-in
// session only what its key's policy allows.
func (c *Console) allowed(s session, action, resource string) bool {
	if s.Kind == kindOpen || c.opts.Authorizer == nil {
		return true
	}
	return c.opts.Authorizer.Authorize(s.Key, policy.Request{Action: action, Resource: resource}) == policy.Allowed
}

// connectionSetupAction is what setting a connection up asks of the key,
// as the API's set-up operation does: GitHub's App installation, or the
// OAuth handshake of the other providers.
func connectionSetupAction(providerType string) string {
	if providerType == store.ProviderGitHub || providerType == store.ProviderGitHubEnterpriseServer {
		return actionInstallationURL
	}
	return actionOAuthHandshake
}

// asCaller makes set-up links on behalf of the session's key, which the
// set-up then holds them to.
func asCaller(ctx context.Context, s session) context.Context {
	if s.Kind == kindOpen {
		return ctx
	}
	return policy.WithCaller(ctx, s.Key)
}
