package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/egress"
	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/store"
)

// RepositoryTokens vends short-lived tokens for reading one repository of
// a connection over git: a GitHub installation token limited to that
// repository, the GitLab or Bitbucket OAuth access token. Errors wrap
// providers.ErrNotFound (no such repository, or not visible to the
// connection), providers.ErrTokenRejected (the provider refused the
// connection's credential) or providers.ErrProviderUnavailable (the
// provider could not be asked); they never contain a token.
type RepositoryTokens interface {
	RepositoryToken(ctx context.Context, conn store.Connection, repository string) (providers.AccessToken, error)
	// GitOrigin is where git reaches the connection's repositories: the
	// scheme and "host[:port]" of the provider's web endpoint.
	GitOrigin(ctx context.Context, conn store.Connection) (scheme, hostport string, err error)
}

type connectionTokenOut struct {
	Username string
	Token    string
	// ExpiresAt is in epoch seconds; absent when the provider gives none.
	ExpiresAt *float64 `json:",omitempty"`
}

// repositoryPattern is a provider's repository path: owner/name, or for
// GitLab group/subgroup/.../project, in the characters the providers allow
// in paths.
var repositoryPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$`)

const maxRepository = 1024

// The values of GetConnectionToken's Permissions, as IAM's
// codeconnections:ProviderPermissionsRequired has them.
const (
	readOnly  = "read_only"
	readWrite = "read_write"
)

type connectionTokenIn struct {
	ConnectionArn *string
	Repository    *string
	// Protocol and Host are what git asks a credential for: "https" and
	// "host[:port]". The token goes only to the provider's own origin.
	Protocol *string
	Host     *string
	// Permissions is read_only (the default) or read_write.
	Permissions *string
	permissions string
}

// connectionTokenAccess: GetConnectionToken and UseConnection on the
// connection, the latter with the repository, the permissions and the git
// action (GitPull for read_only, GitPush for read_write).
func (a *API) connectionTokenAccess(ctx context.Context, _ call, in *connectionTokenIn) ([]policy.Request, error) {
	arn, err := a.resolveARN(ctx, "ConnectionArn", in.ConnectionArn, store.KindConnection)
	if err != nil {
		return nil, err
	}
	if err := checkRepositoryPath("Repository", in.Repository); err != nil {
		return nil, err
	}
	if err := checkGitRequest(in); err != nil {
		return nil, err
	}
	if a.opts.RepositoryTokens == nil {
		return nil, newError(codeUnsupportedOp, "this forgelink daemon is not set up to vend repository tokens")
	}
	repo := *in.Repository
	i := strings.LastIndexByte(repo, '/')
	gitAction := "GitPull"
	if in.permissions == readWrite {
		gitAction = "GitPush"
	}
	return []policy.Request{
		on(actionGetConnectionToken, arn),
		on(actionUseConnection, arn, policy.KeyFullRepositoryID, repo, policy.KeyOwnerID, repo[:i], policy.KeyRepositoryName, repo[i+1:],
			policy.KeyProviderPermissionsRequired, in.permissions, policy.KeyProviderAction, gitAction),
	}, nil
}

// checkGitRequest validates Protocol, Host and Permissions.
func checkGitRequest(in *connectionTokenIn) error {
	if err := required("Protocol", in.Protocol); err != nil {
		return err
	}
	if p := *in.Protocol; p != "https" && p != "http" {
		return newError(codeInvalidInput, "a connection token is only given for https (or an http endpoint the operator allowed), not for protocol %q", p)
	}
	if err := required("Host", in.Host); err != nil {
		return err
	}
	if err := checkLength("Host", *in.Host, 1, 255); err != nil {
		return err
	}
	in.permissions = readOnly
	if in.Permissions != nil {
		in.permissions = *in.Permissions
	}
	if in.permissions != readOnly && in.permissions != readWrite {
		return validationError("Value '%s' at 'Permissions' failed to satisfy constraint: Member must satisfy enum value set: [%s, %s]", in.permissions, readOnly, readWrite)
	}
	return nil
}

// getConnectionToken vends a token for git to read one repository of an
// AVAILABLE connection (`forgelink git-credential`), only for the
// provider's own origin. Every token issued is audit-logged, without the
// token.
func (a *API) getConnectionToken(ctx context.Context, _ call, in *connectionTokenIn) (any, error) {
	arn, repo := *in.ConnectionArn, *in.Repository
	conn, err := a.lookupConnection(ctx, "ConnectionArn", arn)
	if err != nil {
		return nil, err
	}
	if conn.Status != store.StatusAvailable {
		reason := ""
		if conn.StatusReason != "" {
			reason = " (" + conn.StatusReason + ")"
		}
		return nil, newError(codeUnavailable, "connection %s is %s%s: it vends tokens once AVAILABLE", arn, conn.Status, reason)
	}
	if err := a.checkGitOrigin(ctx, conn, arn, *in.Protocol, *in.Host); err != nil {
		return nil, err
	}
	if err := a.checkNarrowable(ctx, conn, arn, in.permissions); err != nil {
		return nil, err
	}
	tok, err := a.opts.RepositoryTokens.RepositoryToken(ctx, conn, repo)
	if err != nil {
		return nil, a.repositoryTokenError(arn, repo, err)
	}
	if tok.Token == "" {
		return nil, fmt.Errorf("repository token of connection %s for %s: the provider gave an empty token", conn.ID, repo)
	}
	a.auditToken(ctx, arn, repo, in.permissions, conn, tok)
	out := connectionTokenOut{Username: tok.Username, Token: tok.Token}
	if !tok.ExpiresAt.IsZero() {
		at := epochSeconds(tok.ExpiresAt)
		out.ExpiresAt = &at
	}
	return out, nil
}

// checkGitOrigin refuses a token for any origin but the provider's own:
// the same scheme (http only when the operator allowed plain-HTTP
// endpoints), host and port (443 or 80 when absent). A credential helper
// configured for every host would otherwise hand the connection's token to
// whichever server git was pointed at, or send it in clear text.
func (a *API) checkGitOrigin(ctx context.Context, conn store.Connection, arn, protocol, asked string) error {
	scheme, want, err := a.opts.RepositoryTokens.GitOrigin(ctx, conn)
	if err != nil {
		return fmt.Errorf("git origin of connection %s: %w", conn.ID, err)
	}
	if protocol != scheme || (scheme == "http" && !a.opts.Limits.AllowHTTPEndpoints) {
		return newError(codeInvalidInput, "connection %s reaches its repositories over %s; refusing to give its token for protocol %s", arn, scheme, protocol)
	}
	if !strings.EqualFold(withPort(scheme, want), withPort(scheme, asked)) {
		return newError(codeInvalidInput, "connection %s reaches its repositories at %s; refusing to give its token for %s", arn, want, asked)
	}
	return nil
}

// withPort spells host[:port] with the scheme's default port filled in.
func withPort(scheme, hostport string) string {
	if _, _, err := net.SplitHostPort(hostport); err == nil {
		return hostport
	}
	port := "443"
	if scheme == "http" {
		port = "80"
	}
	return net.JoinHostPort(strings.Trim(hostport, "[]"), port)
}

// checkNarrowable refuses read_only where the token handed out could do
// more: only a GitHub App installation token is narrowed (to the one
// repository, contents: read). OAuth access tokens (GitLab, Bitbucket)
// and stored personal tokens carry whatever the provider granted them.
func (a *API) checkNarrowable(ctx context.Context, conn store.Connection, arn, permissions string) error {
	if permissions != readOnly {
		return nil
	}
	cred, err := a.opts.Store.GetConnectionCredential(ctx, conn.ID)
	if err != nil {
		return onResource("credential of connection "+arn, err)
	}
	if cred.Kind != store.CredentialGitHubApp {
		return newError(codeInvalidInput, "connection %s cannot hand out a read-only token: its %s credential cannot be narrowed; "+
			"ask for read_write (git-credential --read-write), which the key's policy must allow", arn, conn.ProviderType)
	}
	return nil
}

// repositoryTokenError maps the provider errors: a repository the
// provider does not show is ResourceNotFoundException; a refused
// credential ResourceUnavailableException (the connection needs setting up
// again); a provider that could not be asked InternalServerException with
// HTTP 500, which clients retry, its cause logged rather than sent.
func (a *API) repositoryTokenError(arn, repo string, err error) error {
	switch {
	case errors.Is(err, providers.ErrNotFound):
		return newError(codeNotFound, "repository %s is not found through connection %s: the provider does not have it, or does not show it to the connection", repo, arn)
	case errors.Is(err, providers.ErrTokenRejected):
		return newError(codeUnavailable, "the provider rejected the credential of connection %s: complete the connection again", arn)
	case errors.Is(err, egress.ErrUntrustedCertificate), errors.Is(err, egress.ErrBadCertificate):
		// Not retryable: the host's TlsCertificate must change first.
		return newError(codeUnavailable, "the TLS certificate of the provider of connection %s is not trusted: "+
			"set its host's VpcConfiguration.TlsCertificate to the CA that signed it (UpdateHost)", arn)
	case errors.Is(err, providers.ErrProviderUnavailable):
		a.opts.Log.Warn("repository token: provider unavailable", zap.String("connection_arn", arn), zap.String("repository", repo), zap.Error(err))
		return &apiError{code: codeInternal, status: http.StatusInternalServerError,
			msg: fmt.Sprintf("could not get a token for %s from the provider of connection %s; try again later", repo, arn)}
	}
	return fmt.Errorf("repository token of %s for %s: %w", arn, repo, err)
}

// auditToken records who was given a token for what, and until when, on
// the logger "audit" (under the API's own name: "api.audit" in the
// daemon). Never the token.
func (a *API) auditToken(ctx context.Context, arn, repo, permissions string, conn store.Connection, tok providers.AccessToken) {
	caller := callerOf(ctx)
	if caller == "" {
		caller = "(unauthenticated)"
	}
	fields := []zap.Field{
		zap.String("access_key_id", caller),
		zap.String("connection_arn", a.connectionARNOf(conn)),
		zap.String("region", a.region(ctx)),
		zap.String("provider_type", conn.ProviderType),
		zap.String("repository", repo),
		zap.String("permissions", permissions),
	}
	if !tok.ExpiresAt.IsZero() {
		fields = append(fields, zap.Time("expires_at", tok.ExpiresAt.UTC()))
	}
	a.opts.Log.Named("audit").Info("issued a connection token", fields...)
}

// checkRepositoryPath validates a repository path; "." and ".." segments
// could walk the provider API URLs the path is put into.
func checkRepositoryPath(field string, v *string) error {
	if err := required(field, v); err != nil {
		return err
	}
	if err := checkLength(field, *v, 3, maxRepository); err != nil {
		return err
	}
	if !repositoryPattern.MatchString(*v) || slices.ContainsFunc(strings.Split(*v, "/"), func(s string) bool { return s == "." || s == ".." }) {
		return validationError("Value '%s' at '%s' failed to satisfy constraint: Member must be a repository path such as owner/name (GitLab: group/subgroup/project)", *v, field)
	}
	return nil
}
