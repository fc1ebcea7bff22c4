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
	// GitHost is the host name git reaches the connection's
	// repositories at (github.com, a GitLab host's name, ...).
	GitHost(ctx context.Context, conn store.Connection) (string, error)
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

// getConnectionToken vends a token for git to read one repository of an
// AVAILABLE connection (`forgelink git-credential`). Besides
// codeconnections:GetConnectionToken (checked for every operation), the
// caller needs codeconnections:UseConnection on the connection. Every
// token issued is audit-logged, without the token.
func (a *API) getConnectionToken(ctx context.Context, c call) (any, error) {
	var in struct {
		ConnectionArn *string
		Repository    *string
		// Host is the host git asks a credential for ("host[:port]");
		// when given, it must be the connection's provider.
		Host *string
	}
	if err := decode(c.body, &in); err != nil {
		return nil, err
	}
	if err := required("ConnectionArn", in.ConnectionArn); err != nil {
		return nil, err
	}
	if err := checkRepositoryPath("Repository", in.Repository); err != nil {
		return nil, err
	}
	if in.Host != nil {
		if err := checkLength("Host", *in.Host, 1, 255); err != nil {
			return nil, err
		}
	}
	if a.opts.RepositoryTokens == nil {
		return nil, newError(codeUnsupportedOp, "this forgelink daemon is not set up to vend repository tokens")
	}
	arn, repo := *in.ConnectionArn, *in.Repository
	// Authorized before the lookup, so that a caller without the right
	// cannot learn which connections exist.
	if err := a.authorize(ctx, actionUseConnection, canonicalARN(arn)); err != nil {
		return nil, err
	}
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
	if in.Host != nil {
		if err := a.checkGitHost(ctx, conn, arn, *in.Host); err != nil {
			return nil, err
		}
	}
	tok, err := a.opts.RepositoryTokens.RepositoryToken(ctx, conn, repo)
	if err != nil {
		return nil, a.repositoryTokenError(arn, repo, err)
	}
	if tok.Token == "" {
		return nil, fmt.Errorf("repository token of connection %s for %s: the provider gave an empty token", conn.ID, repo)
	}
	a.auditToken(ctx, arn, repo, conn, tok)
	out := connectionTokenOut{Username: tok.Username, Token: tok.Token}
	if !tok.ExpiresAt.IsZero() {
		at := epochSeconds(tok.ExpiresAt)
		out.ExpiresAt = &at
	}
	return out, nil
}

// checkGitHost refuses a token for a host other than the connection's
// provider: a credential helper configured for every host would otherwise
// hand the connection's token to whichever server git was pointed at.
// Ports are not compared (the same machine either way).
func (a *API) checkGitHost(ctx context.Context, conn store.Connection, arn, asked string) error {
	want, err := a.opts.RepositoryTokens.GitHost(ctx, conn)
	if err != nil {
		return fmt.Errorf("git host of connection %s: %w", conn.ID, err)
	}
	host := asked
	if h, _, err := net.SplitHostPort(asked); err == nil {
		host = h
	}
	if !strings.EqualFold(strings.Trim(host, "[]"), want) {
		return validationError("connection %s reaches its repositories at %s; refusing to give its token for %s", arn, want, asked)
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
func (a *API) auditToken(ctx context.Context, arn, repo string, conn store.Connection, tok providers.AccessToken) {
	caller := callerOf(ctx)
	if caller == "" {
		caller = "(unauthenticated)"
	}
	fields := []zap.Field{
		zap.String("access_key_id", caller),
		zap.String("connection_arn", canonicalARN(arn)),
		zap.String("provider_type", conn.ProviderType),
		zap.String("repository", repo),
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
