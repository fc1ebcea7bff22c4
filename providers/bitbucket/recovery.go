package bitbucket

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	bb "github.com/ktrysmt/go-bitbucket"

	"github.com/forgelink/forgelink/providers"
)

// rateWait is how long a 429 waits: Bitbucket Cloud counts requests in a
// rolling hour and names no reset time.
const rateWait = time.Minute

// Heads reads branch heads of repositories for the polling fallback of
// recovery (Bitbucket Cloud has no delivery log): GET
// /2.0/repositories/{workspace}/{slug}/refs/branches/{name}.
type Heads struct {
	client     *http.Client
	apiBaseURL string
	tok        providers.Token
}

// NewHeads returns Heads for the API at apiBaseURL read with tok.
func NewHeads(client *http.Client, apiBaseURL string, tok providers.Token) (*Heads, error) {
	if tok.Value == "" {
		return nil, fmt.Errorf("bitbucket heads: %w: no token", providers.ErrTokenRejected)
	}
	if _, err := url.Parse(apiBaseURL); err != nil {
		return nil, fmt.Errorf("bitbucket heads: api url: %w", err)
	}
	if client == nil {
		client = &http.Client{}
	}
	return &Heads{client: client, apiBaseURL: apiBaseURL, tok: tok}, nil
}

// Head returns the commit ref ("refs/heads/<branch>") of repository
// ("workspace/slug") points at; last is not used (Bitbucket answers no
// conditional requests). Errors: a tag or an unknown branch
// providers.ErrNotFound; 401/403 providers.ErrTokenRejected; 429 a
// *providers.RateLimitError; anything else providers.ErrProviderUnavailable.
func (h *Heads) Head(ctx context.Context, repository, ref, _ string) (string, error) {
	branch, ok := strings.CutPrefix(ref, "refs/heads/")
	if !ok || branch == "" {
		return "", fmt.Errorf("bitbucket head: %w: only branches are polled, not %q", providers.ErrNotFound, ref)
	}
	workspace, slug, err := splitRepo(repository)
	if err != nil {
		return "", fmt.Errorf("bitbucket head: %w: %q is not workspace/repo_slug", providers.ErrNotFound, repository)
	}
	c, cancel, err := newTokenClient(ctx, h.client, h.apiBaseURL, h.tok)
	if err != nil {
		return "", err
	}
	defer cancel()
	b, err := c.Repositories.Repository.GetBranch(&bb.RepositoryBranchOptions{
		Owner: url.PathEscape(workspace), RepoSlug: url.PathEscape(slug), BranchName: url.PathEscape(branch),
	})
	if err != nil {
		return "", fmt.Errorf("bitbucket head: %w", headError(err))
	}
	hash, _ := b.Target["hash"].(string)
	if hash == "" {
		return "", fmt.Errorf("bitbucket head: %w: the answer names no commit", providers.ErrProviderUnavailable)
	}
	return hash, nil
}

func headError(err error) error {
	var unexpected *bb.UnexpectedResponseStatusError
	if !errors.As(err, &unexpected) {
		return fmt.Errorf("%w: %w", providers.ErrProviderUnavailable, err)
	}
	switch unexpected.StatusCode {
	case http.StatusNotFound:
		return fmt.Errorf("%w: HTTP 404", providers.ErrNotFound)
	case http.StatusTooManyRequests:
		return &providers.RateLimitError{Wait: rateWait}
	}
	return &providers.StatusError{StatusCode: unexpected.StatusCode}
}
