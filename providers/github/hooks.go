package github

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	gh "github.com/google/go-github/v60/github"

	"github.com/forgelink/forgelink/providers"
)

// Hook listing: GitHub caps per_page at 100; maxHookPages bounds a listing
// whose pages never end.
const (
	hooksPerPage = 100
	maxHookPages = 100
)

// hookEvents are the events forgelink's repository hooks deliver.
var hookEvents = []string{"push", "pull_request"}

// errHookRefused: GitHub refused to create a hook (422), which it does
// when the repository has a hook with that URL already.
var errHookRefused = errors.New("github refused the hook")

// Hooks manages forgelink's repository webhooks on one GitHub API with one
// connection's token (a connection without an App). The token needs admin
// rights on the repositories' hooks (classic: admin:repo_hook; fine
// grained: webhooks write). It is safe for concurrent use.
type Hooks struct {
	c *gh.Client
}

// NewHooks returns Hooks for the API at apiBaseURL (https://api.github.com/
// or https://<ghes>/api/v3/) that send tok as a bearer token.
func NewHooks(client *http.Client, apiBaseURL string, tok providers.Token) (*Hooks, error) {
	if tok.Value == "" {
		return nil, fmt.Errorf("github hooks: %w: no token", ErrInvalidParameter)
	}
	if err := checkAPIURL(apiBaseURL); err != nil {
		return nil, fmt.Errorf("github hooks: %w", err)
	}
	c, err := newClient(client, apiBaseURL, tok.Value)
	if err != nil {
		return nil, err
	}
	return &Hooks{c: c}, nil
}

// Ensure makes forgelink's hook on repository ("owner/name") what spec
// asks for, and reports what it did.
//
// It reads every page of the repository's hooks and takes those whose
// config.url is spec.URL (or a former URL, which it moves to spec.URL) as
// forgelink's. None: it creates one (active,
// push and pull_request, JSON, the secret, TLS verified). More than one
// (two daemons raced, or a past run failed half-way): it keeps the lowest
// id and deletes the others, so racing daemons agree on the survivor. It
// rewrites the kept hook when it is inactive, its events differ, it is
// not JSON, skips TLS verification, has no secret, or spec.Secret is not
// known to be on it.
//
// Errors: a refused token (401, or 403 that is not a rate limit: no admin
// rights on hooks) wraps providers.ErrTokenRejected through a
// *providers.StatusError; an unknown repository (or one the token cannot
// see) providers.ErrNotFound; anything else providers.ErrProviderUnavailable.
// None carries the token or secret.
func (h *Hooks) Ensure(ctx context.Context, repository string, spec providers.HookSpec) (providers.Hook, error) {
	if _, err := webURL("hook url", spec.URL); err != nil {
		return providers.Hook{}, fmt.Errorf("github hooks: %w", err)
	}
	if spec.Secret == "" {
		return providers.Hook{}, fmt.Errorf("github hooks: %w: no secret", ErrInvalidParameter)
	}
	owner, repo, err := hookRepo(repository)
	if err != nil {
		return providers.Hook{}, err
	}
	mine, err := h.list(ctx, owner, repo, spec)
	if err != nil {
		return providers.Hook{}, err
	}
	if len(mine) == 0 {
		created, err := h.create(ctx, owner, repo, spec)
		if err == nil {
			return providers.Hook{ID: hookID(created.GetID()), Created: true}, nil
		}
		if !errors.Is(err, errHookRefused) {
			return providers.Hook{}, err
		}
		// Another daemon created it since the listing: take theirs.
		if mine, _ = h.list(ctx, owner, repo, spec); len(mine) == 0 {
			return providers.Hook{}, err
		}
	}
	return h.repair(ctx, owner, repo, mine, spec)
}

// repair keeps the first of mine, deletes the others and rewrites the
// kept one if it drifted.
func (h *Hooks) repair(ctx context.Context, owner, repo string, mine []*gh.Hook, spec providers.HookSpec) (providers.Hook, error) {
	keep := mine[0]
	result := providers.Hook{ID: hookID(keep.GetID())}
	for _, dup := range mine[1:] {
		if err := h.delete(ctx, owner, repo, dup.GetID()); err != nil {
			return providers.Hook{}, err
		}
		result.Removed++
	}
	if drifted(keep) || keep.GetConfig().GetURL() != spec.URL || !spec.SecretCurrent {
		if err := h.update(ctx, owner, repo, keep.GetID(), spec); err != nil {
			return providers.Hook{}, err
		}
		result.Updated = true
	}
	return result, nil
}

// Delete deletes hook id from repository. A hook already gone (404,
// which GitHub also answers for a repository gone) is success.
func (h *Hooks) Delete(ctx context.Context, repository, id string) error {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return fmt.Errorf("github hooks: %w: %q is not a GitHub hook id", providers.ErrNotFound, id)
	}
	owner, repo, err := hookRepo(repository)
	if err != nil {
		return err
	}
	return h.delete(ctx, owner, repo, n)
}

// list returns the repository's hooks that spec owns, lowest id first,
// reading every page.
func (h *Hooks) list(ctx context.Context, owner, repo string, spec providers.HookSpec) ([]*gh.Hook, error) {
	var mine []*gh.Hook
	opt := &gh.ListOptions{PerPage: hooksPerPage, Page: 1}
	for pages := 1; ; pages++ {
		page, resp, err := h.c.Repositories.ListHooks(ctx, owner, repo, opt)
		if err != nil {
			return nil, fmt.Errorf("github list hooks: %w", classifyError(resp, err, hookError))
		}
		for _, hook := range page {
			if spec.Owns(hook.GetConfig().GetURL()) {
				mine = append(mine, hook)
			}
		}
		if resp.NextPage == 0 {
			break
		}
		if resp.NextPage <= opt.Page || pages >= maxHookPages {
			return nil, fmt.Errorf("github list hooks: %w: cannot follow the listing past page %d", providers.ErrProviderUnavailable, opt.Page)
		}
		opt.Page = resp.NextPage
	}
	slices.SortFunc(mine, func(a, b *gh.Hook) int { return cmp.Compare(a.GetID(), b.GetID()) })
	return mine, nil
}

// desired is the whole hook forgelink wants. The config is always sent
// whole, secret included: GitHub never shows a secret back, and a config
// written without one would drop it.
func desired(spec providers.HookSpec) *gh.Hook {
	return &gh.Hook{
		Name:   gh.String("web"),
		Active: gh.Bool(true),
		Events: slices.Clone(hookEvents),
		Config: &gh.HookConfig{
			URL:         gh.String(spec.URL),
			ContentType: gh.String("json"),
			Secret:      gh.String(spec.Secret),
			InsecureSSL: gh.String("0"),
		},
	}
}

func (h *Hooks) create(ctx context.Context, owner, repo string, spec providers.HookSpec) (*gh.Hook, error) {
	hook, resp, err := h.c.Repositories.CreateHook(ctx, owner, repo, desired(spec))
	switch {
	case err != nil && resp != nil && resp.StatusCode == http.StatusUnprocessableEntity:
		return nil, fmt.Errorf("github create hook: %w (HTTP 422): %w", errHookRefused, providers.ErrProviderUnavailable)
	case err != nil:
		return nil, fmt.Errorf("github create hook: %w", classifyError(resp, err, hookError))
	case hook.GetID() == 0:
		return nil, fmt.Errorf("github create hook: %w: the answer has no hook id", providers.ErrProviderUnavailable)
	}
	return hook, nil
}

func (h *Hooks) update(ctx context.Context, owner, repo string, id int64, spec providers.HookSpec) error {
	hook := desired(spec)
	hook.Name = nil // a hook's name cannot be changed
	_, resp, err := h.c.Repositories.EditHook(ctx, owner, repo, id, hook)
	switch {
	case err != nil && resp != nil && resp.StatusCode == http.StatusNotFound:
		// Deleted since it was listed: the next Ensure creates it again.
		return fmt.Errorf("github update hook: %w: hook %d went away", providers.ErrProviderUnavailable, id)
	case err != nil:
		return fmt.Errorf("github update hook: %w", classifyError(resp, err, hookError))
	}
	return nil
}

func (h *Hooks) delete(ctx context.Context, owner, repo string, id int64) error {
	resp, err := h.c.Repositories.DeleteHook(ctx, owner, repo, id)
	if err != nil && (resp == nil || resp.StatusCode != http.StatusNotFound) {
		return fmt.Errorf("github delete hook: %w", classifyError(resp, err, hookError))
	}
	return nil
}

// drifted reports whether hook would not deliver what forgelink needs, as
// forgelink needs it. Its secret cannot be read back; GitHub shows only
// whether there is one.
func drifted(hook *gh.Hook) bool {
	cfg := hook.GetConfig()
	return !hook.GetActive() || !sameSet(hook.Events, hookEvents) || cfg.GetContentType() != "json" ||
		cfg.GetInsecureSSL() == "1" || cfg.GetSecret() == ""
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// hookRepo splits repository for the hooks API.
func hookRepo(repository string) (owner, repo string, err error) {
	owner, repo, err = splitRepo(repository)
	if err != nil {
		return "", "", fmt.Errorf("github hooks: %w: repository %q is not owner/name", providers.ErrNotFound, repository)
	}
	return owner, repo, nil
}

func hookID(id int64) string { return strconv.FormatInt(id, 10) }

// hookError classifies a failed hook call by the status of GitHub's
// answer (0 when none came), without the answer's body: 404, the
// repository is unknown or hidden from the token; 401 and 403 rejected
// (classifyError has taken rate limits out already); the rest unavailable.
func hookError(status int, err error) error {
	if status == http.StatusNotFound {
		return fmt.Errorf("%w: HTTP 404", providers.ErrNotFound)
	}
	return providers.TokenCheckError(status, err)
}
