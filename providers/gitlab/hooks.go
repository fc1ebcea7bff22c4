package gitlab

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/forgelink/forgelink/providers"
)

// hookName names forgelink's hooks in GitLab's webhook list.
const hookName = "forgelink"

// Hook listing: GitLab caps per_page at 100; maxHookPages bounds a listing
// whose pages never end.
const (
	hooksPerPage = 100
	maxHookPages = 100
)

// alertExecutable is the alert_status of a hook GitLab still fires; it
// also reports "temporarily_disabled" (after 4 failures in a row, until
// disabled_until) and "disabled" (after 40, or on older versions after 4
// client errors, until someone re-enables it).
const alertExecutable = "executable"

// Hooks manages forgelink's project hooks on one GitLab instance with one
// connection's token. It is safe for concurrent use.
type Hooks struct {
	c *gitlab.Client
}

// NewHooks returns Hooks for the API at apiBaseURL (https://gitlab.com/api/v4
// or <host>/api/v4) that authenticate with tok: an OAuth access token as a
// bearer token, any other in PRIVATE-TOKEN. The token needs the api scope
// and at least the Maintainer role on the projects.
func NewHooks(client *http.Client, apiBaseURL string, tok providers.Token) (*Hooks, error) {
	c, err := newTokenClient(client, apiBaseURL, tok)
	if err != nil {
		return nil, err
	}
	return &Hooks{c: c}, nil
}

// Ensure makes forgelink's hook on repository (the project's full path,
// "group/sub/project") what spec asks for, and reports what it did.
//
// It reads all of the project's hooks and takes those whose URL is
// spec.URL (or a former URL, which it moves to spec.URL) as forgelink's.
// None: it creates one. More than one (two
// daemons raced, or a past run failed half-way): it keeps the oldest (the
// lowest id) and deletes the others. It rewrites the kept hook when its
// events, branch filter or TLS verification drifted, or when spec.Secret
// is not known to be on it.
//
// A hook GitLab disabled after failures is replaced: deleted after a fresh
// one is created. GitLab re-enables a hook only when a delivery to it
// succeeds (WebHooks::AutoDisabling#enable!, called from the hook's
// execution and from "Test"); editing it through the API leaves the
// failure count and disabled_until as they were, so a PUT would not make
// it fire again. A test delivery would, but only if forgelink answers it,
// and it would arrive as a push forgelink must then tell from real ones.
//
// Errors: a refused token wraps providers.ErrTokenRejected, an unknown
// project (or one the token cannot see) providers.ErrNotFound, anything
// else providers.ErrProviderUnavailable. None carries the token or secret.
func (h *Hooks) Ensure(ctx context.Context, repository string, spec providers.HookSpec) (providers.Hook, error) {
	if repository == "" {
		return providers.Hook{}, fmt.Errorf("gitlab hooks: %w: no project path", providers.ErrNotFound)
	}
	mine, err := h.list(ctx, repository, spec)
	if err != nil {
		return providers.Hook{}, err
	}
	if len(mine) == 0 {
		created, err := h.create(ctx, repository, spec)
		if err != nil {
			return providers.Hook{}, err
		}
		return providers.Hook{ID: hookID(created.ID), Created: true}, nil
	}
	keep := mine[0]
	result := providers.Hook{ID: hookID(keep.ID)}
	for _, dup := range mine[1:] {
		if err := h.delete(ctx, repository, dup.ID); err != nil {
			return providers.Hook{}, err
		}
		result.Removed++
	}
	switch {
	case keep.AlertStatus != "" && keep.AlertStatus != alertExecutable:
		fresh, err := h.create(ctx, repository, spec)
		if err != nil {
			return providers.Hook{}, err
		}
		if err := h.delete(ctx, repository, keep.ID); err != nil {
			return providers.Hook{}, err
		}
		result.ID, result.Updated = hookID(fresh.ID), true
	case drifted(keep, spec) || keep.URL != spec.URL || !spec.SecretCurrent:
		if err := h.update(ctx, repository, keep.ID, spec); err != nil {
			return providers.Hook{}, err
		}
		result.Updated = true
	}
	return result, nil
}

// Delete deletes hook id from repository. A hook or project that is
// already gone is success.
func (h *Hooks) Delete(ctx context.Context, repository, id string) error {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return fmt.Errorf("gitlab hooks: %w: %q is not a GitLab hook id", providers.ErrNotFound, id)
	}
	return h.delete(ctx, repository, n)
}

// list returns the project's hooks that spec owns, oldest first, reading
// every page.
func (h *Hooks) list(ctx context.Context, repository string, spec providers.HookSpec) ([]*gitlab.ProjectHook, error) {
	var mine []*gitlab.ProjectHook
	opt := &gitlab.ListProjectHooksOptions{ListOptions: gitlab.ListOptions{PerPage: hooksPerPage, Page: 1}}
	for pages := 1; ; pages++ {
		page, resp, err := h.c.Projects.ListProjectHooks(repository, opt, gitlab.WithContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("gitlab list hooks: %w", hookError(statusOf(resp), err))
		}
		for _, hook := range page {
			if hook != nil && spec.Owns(hook.URL) {
				mine = append(mine, hook)
			}
		}
		if resp.NextPage == 0 {
			break
		}
		if resp.NextPage <= opt.Page || pages >= maxHookPages {
			return nil, fmt.Errorf("gitlab list hooks: %w: cannot follow the listing past page %d", providers.ErrProviderUnavailable, opt.Page)
		}
		opt.Page = resp.NextPage
	}
	slices.SortFunc(mine, func(a, b *gitlab.ProjectHook) int { return cmp.Compare(a.ID, b.ID) })
	return mine, nil
}

// The client library has no signing_token member yet: the hook options
// are sent with it added, through the library's own request path.
type addHookOptions struct {
	*gitlab.AddProjectHookOptions
	SigningToken string `json:"signing_token"`
}

type editHookOptions struct {
	*gitlab.EditProjectHookOptions
	SigningToken string `json:"signing_token"`
}

// create adds the hook with the secret token and the signing token derived
// from the same secret; a GitLab without signing tokens (or with the
// feature flag off) ignores the latter and sends X-Gitlab-Token only.
func (h *Hooks) create(ctx context.Context, repository string, spec providers.HookSpec) (*gitlab.ProjectHook, error) {
	opt := addHookOptions{&gitlab.AddProjectHookOptions{
		Name:                  gitlab.Ptr(hookName),
		URL:                   gitlab.Ptr(spec.URL),
		Token:                 gitlab.Ptr(spec.Secret),
		PushEvents:            gitlab.Ptr(true),
		TagPushEvents:         gitlab.Ptr(true),
		MergeRequestsEvents:   gitlab.Ptr(true),
		EnableSSLVerification: gitlab.Ptr(verifyTLS(spec.URL)),
	}, SigningToken([]byte(spec.Secret))}
	var hook gitlab.ProjectHook
	resp, err := h.do(ctx, http.MethodPost, hooksPath(repository), opt, &hook)
	if err != nil {
		return nil, fmt.Errorf("gitlab create hook: %w", hookError(statusOf(resp), err))
	}
	if hook.ID == 0 {
		return nil, fmt.Errorf("gitlab create hook: %w: the answer has no hook id", providers.ErrProviderUnavailable)
	}
	return &hook, nil
}

// update writes every setting forgelink cares about, the secret and
// signing tokens included: GitLab never shows a hook's tokens, so the
// whole desired state is sent.
func (h *Hooks) update(ctx context.Context, repository string, id int64, spec providers.HookSpec) error {
	opt := editHookOptions{&gitlab.EditProjectHookOptions{
		Name:                   gitlab.Ptr(hookName),
		URL:                    gitlab.Ptr(spec.URL),
		Token:                  gitlab.Ptr(spec.Secret),
		PushEvents:             gitlab.Ptr(true),
		PushEventsBranchFilter: gitlab.Ptr(""),
		BranchFilterStrategy:   gitlab.Ptr("all_branches"),
		TagPushEvents:          gitlab.Ptr(true),
		MergeRequestsEvents:    gitlab.Ptr(true),
		EnableSSLVerification:  gitlab.Ptr(verifyTLS(spec.URL)),
	}, SigningToken([]byte(spec.Secret))}
	resp, err := h.do(ctx, http.MethodPut, hooksPath(repository)+"/"+hookID(id), opt, nil)
	switch {
	case statusOf(resp) == http.StatusNotFound:
		// Deleted since it was listed: the next Ensure creates it again.
		return fmt.Errorf("gitlab update hook: %w: hook %d went away", providers.ErrProviderUnavailable, id)
	case err != nil:
		return fmt.Errorf("gitlab update hook: %w", hookError(statusOf(resp), err))
	}
	return nil
}

func hooksPath(repository string) string {
	return "projects/" + gitlab.PathEscape(repository) + "/hooks"
}

// do sends opt as the JSON body of one API call and decodes the answer
// into out (nil: none).
func (h *Hooks) do(ctx context.Context, method, path string, opt, out any) (*gitlab.Response, error) {
	req, err := h.c.NewRequest(method, path, opt, []gitlab.RequestOptionFunc{gitlab.WithContext(ctx)})
	if err != nil {
		return nil, err
	}
	return h.c.Do(req, out)
}

func (h *Hooks) delete(ctx context.Context, repository string, id int64) error {
	resp, err := h.c.Projects.DeleteProjectHook(repository, id, gitlab.WithContext(ctx))
	if err != nil && statusOf(resp) != http.StatusNotFound {
		return fmt.Errorf("gitlab delete hook: %w", hookError(statusOf(resp), err))
	}
	return nil
}

// drifted reports whether hook would not deliver what forgelink needs:
// pushes of every branch, tag pushes and merge requests, with TLS verified
// unless the URL is plain HTTP.
func drifted(hook *gitlab.ProjectHook, spec providers.HookSpec) bool {
	filtered := hook.PushEventsBranchFilter != "" && hook.BranchFilterStrategy != "all_branches"
	return !hook.PushEvents || !hook.TagPushEvents || !hook.MergeRequestsEvents || filtered ||
		hook.EnableSSLVerification != verifyTLS(spec.URL)
}

// verifyTLS: GitLab verifies the certificate of every https hook URL;
// there is none to verify for http.
func verifyTLS(hookURL string) bool {
	u, err := url.Parse(hookURL)
	return err != nil || u.Scheme != "http"
}

func hookID(id int64) string { return strconv.FormatInt(id, 10) }

// hookError classifies a failed hook call by the status of GitLab's
// answer (0 when none came), without the answer's body: 404, the project
// is unknown or hidden from the token; 401 and 403 rejected; the rest
// unavailable.
func hookError(status int, err error) error {
	if status == http.StatusNotFound {
		return fmt.Errorf("%w: HTTP 404", providers.ErrNotFound)
	}
	return providers.TokenCheckError(status, err)
}
