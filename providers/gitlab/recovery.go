package gitlab

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/forgelink/forgelink/providers"
)

// defaultRateWait is how long a 429 without Retry-After waits.
const defaultRateWait = time.Minute

// Heads reads branch and tag heads of projects for the polling fallback
// of recovery: GET /projects/:id/repository/branches/:branch and
// .../tags/:tag.
type Heads struct {
	c *gitlab.Client
}

// NewHeads returns Heads for the API at apiBaseURL read with tok.
func NewHeads(client *http.Client, apiBaseURL string, tok providers.Token) (*Heads, error) {
	if tok.Value == "" {
		return nil, fmt.Errorf("gitlab heads: %w: no token", providers.ErrTokenRejected)
	}
	c, err := newTokenClient(client, apiBaseURL, tok)
	if err != nil {
		return nil, err
	}
	return &Heads{c: c}, nil
}

// Head returns the commit ref ("refs/heads/<branch>" or
// "refs/tags/<tag>") of project repository (its full path) points at.
// Errors: an unknown ref or project providers.ErrNotFound; 401/403
// providers.ErrTokenRejected; 429 a *providers.RateLimitError (its
// Retry-After); anything else providers.ErrProviderUnavailable.
func (h *Heads) Head(ctx context.Context, repository, ref, _ string) (string, error) {
	var (
		sha  string
		resp *gitlab.Response
		err  error
	)
	if branch, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
		var b *gitlab.Branch
		if b, resp, err = h.c.Branches.GetBranch(repository, branch, gitlab.WithContext(ctx)); err == nil && b.Commit != nil {
			sha = b.Commit.ID
		}
	} else if tag, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
		var t *gitlab.Tag
		if t, resp, err = h.c.Tags.GetTag(repository, tag, gitlab.WithContext(ctx)); err == nil && t.Commit != nil {
			sha = t.Commit.ID
		}
	} else {
		return "", fmt.Errorf("gitlab head: %w: %q is not a branch or tag ref", providers.ErrNotFound, ref)
	}
	if err != nil {
		return "", fmt.Errorf("gitlab head: %w", headError(resp, err))
	}
	if sha == "" {
		return "", fmt.Errorf("gitlab head: %w: the answer names no commit", providers.ErrProviderUnavailable)
	}
	return sha, nil
}

func headError(resp *gitlab.Response, err error) error {
	switch status := statusOf(resp); status {
	case http.StatusNotFound:
		return fmt.Errorf("%w: HTTP 404", providers.ErrNotFound)
	case http.StatusTooManyRequests:
		wait := defaultRateWait
		if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && s >= 0 {
			wait = time.Duration(s) * time.Second
		}
		return &providers.RateLimitError{Wait: wait}
	default:
		return providers.TokenCheckError(status, err)
	}
}
