package bitbucket

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	bb "github.com/ktrysmt/go-bitbucket"

	"github.com/forgelink/forgelink/providers"
)

// hookDescription names forgelink's hooks in Bitbucket's webhook list.
const hookDescription = "forgelink"

// Hook listing: Bitbucket serves at most 100 hooks a page; maxHookPages
// bounds a listing whose pages never end.
const (
	hooksPageLen = 100
	maxHookPages = 50
)

// hookEvents are the events forgelink's hooks subscribe to.
var hookEvents = []string{
	"repo:push",
	"pullrequest:created",
	"pullrequest:updated",
	"pullrequest:fulfilled",
	"pullrequest:rejected",
}

// Hooks manages forgelink's repository hooks on Bitbucket Cloud with one
// connection's token. It is safe for concurrent use.
type Hooks struct {
	client     *http.Client
	apiBaseURL string
	tok        providers.Token
}

// NewHooks returns Hooks for the API at apiBaseURL
// (https://api.bitbucket.org/2.0) that authenticate with tok: an OAuth
// access token as a bearer token, otherwise as CheckToken describes. The
// token needs the webhook scope and admin rights on the repositories.
func NewHooks(client *http.Client, apiBaseURL string, tok providers.Token) (*Hooks, error) {
	if _, err := url.Parse(apiBaseURL); err != nil {
		return nil, fmt.Errorf("bitbucket api url: %w", err)
	}
	return &Hooks{client: client, apiBaseURL: apiBaseURL, tok: tok}, nil
}

// hook is a repository webhook as Bitbucket lists it. go-bitbucket's
// Webhook lacks created_at and secret_set.
type hook struct {
	UUID      string   `json:"uuid"`
	URL       string   `json:"url"`
	Active    bool     `json:"active"`
	Events    []string `json:"events"`
	CreatedAt string   `json:"created_at"`
	SecretSet bool     `json:"secret_set"`
}

// hookPage is go-bitbucket's listing: every page's values together, with
// the last page's size and next link.
type hookPage struct {
	Size   int    `json:"size"`
	Next   string `json:"next"`
	Values []hook `json:"values"`
}

// Ensure makes forgelink's hook on repository ("workspace/repo_slug") what
// spec asks for, and reports what it did.
//
// It reads all of the repository's hooks and takes those whose URL is
// spec.URL (or a former URL, which it moves to spec.URL) as forgelink's.
// None: it creates one. More than one (two
// daemons raced, or a past run failed half-way): it keeps the first
// created and deletes the others. It rewrites the kept hook (PUT, the
// whole desired hook) when it is inactive, its events differ, Bitbucket
// says it has no secret, or spec.Secret is not known to be on it.
//
// Errors: a refused token wraps providers.ErrTokenRejected, an unknown
// repository (or one the token cannot see) providers.ErrNotFound, anything
// else providers.ErrProviderUnavailable. None carries the token or secret.
func (h *Hooks) Ensure(ctx context.Context, repository string, spec providers.HookSpec) (result providers.Hook, err error) {
	opts, err := repoOptions(repository)
	if err != nil {
		return providers.Hook{}, err
	}
	c, cancel, err := newTokenClient(ctx, h.client, h.apiBaseURL, h.tok)
	if err != nil {
		return providers.Hook{}, err
	}
	defer cancel()
	defer recoverDecode("bitbucket ensure hook", &err)
	mine, err := list(c, opts, spec)
	if err != nil {
		return providers.Hook{}, err
	}
	if len(mine) == 0 {
		created, err := c.Repositories.Webhooks.Create(desired(opts, "", spec))
		if err != nil {
			return providers.Hook{}, fmt.Errorf("bitbucket create hook: %w", hookError(err))
		}
		if created.Uuid == "" {
			return providers.Hook{}, fmt.Errorf("bitbucket create hook: %w: the answer has no uuid", providers.ErrProviderUnavailable)
		}
		return providers.Hook{ID: created.Uuid, Created: true}, nil
	}
	keep := mine[0]
	result = providers.Hook{ID: keep.UUID}
	for _, dup := range mine[1:] {
		if err := deleteHook(c, opts, dup.UUID); err != nil {
			return providers.Hook{}, err
		}
		result.Removed++
	}
	if drifted(keep, spec) || keep.URL != spec.URL || !spec.SecretCurrent {
		if _, err := c.Repositories.Webhooks.Update(desired(opts, keep.UUID, spec)); err != nil {
			return providers.Hook{}, fmt.Errorf("bitbucket update hook: %w", updateError(err))
		}
		result.Updated = true
	}
	return result, nil
}

// Delete deletes hook id (its "{uuid}") from repository. A hook or
// repository that is already gone is success.
func (h *Hooks) Delete(ctx context.Context, repository, id string) (err error) {
	opts, err := repoOptions(repository)
	if err != nil {
		return err
	}
	c, cancel, err := newTokenClient(ctx, h.client, h.apiBaseURL, h.tok)
	if err != nil {
		return err
	}
	defer cancel()
	defer recoverDecode("bitbucket delete hook", &err)
	return deleteHook(c, opts, id)
}

// list returns the repository's hooks that spec owns, first created
// first. go-bitbucket follows the next links; a listing that still has a
// next link, or holds fewer hooks than the size Bitbucket announced, was
// cut short, and deciding on it could create a duplicate.
func list(c *bb.Client, opts bb.WebhooksOptions, spec providers.HookSpec) ([]hook, error) {
	c.Pagelen, c.LimitPages = hooksPageLen, maxHookPages
	raw, err := c.Repositories.Webhooks.Gets(&opts)
	if err != nil {
		return nil, fmt.Errorf("bitbucket list hooks: %w", hookError(err))
	}
	var all hookPage
	if err := remarshal(raw, &all); err != nil {
		return nil, fmt.Errorf("bitbucket list hooks: %w: %w", providers.ErrProviderUnavailable, err)
	}
	if all.Next != "" || all.Size > len(all.Values) {
		return nil, fmt.Errorf("bitbucket list hooks: %w: read %d of the repository's hooks", providers.ErrProviderUnavailable, len(all.Values))
	}
	var mine []hook
	for _, v := range all.Values {
		if spec.Owns(v.URL) {
			mine = append(mine, v)
		}
	}
	slices.SortFunc(mine, func(a, b hook) int {
		return cmp.Or(createdAt(a).Compare(createdAt(b)), cmp.Compare(a.UUID, b.UUID))
	})
	return mine, nil
}

// remarshal decodes go-bitbucket's generic JSON value into v.
func remarshal(raw any, v any) error {
	b, err := json.Marshal(raw)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// createdAt is when Bitbucket created h; the zero time when it does not
// say, which sorts it first.
func createdAt(h hook) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, h.CreatedAt)
	return t
}

func deleteHook(c *bb.Client, opts bb.WebhooksOptions, id string) error {
	opts.Uuid = id
	if _, err := c.Repositories.Webhooks.Delete(&opts); err != nil && statusOf(err) != http.StatusNotFound {
		return fmt.Errorf("bitbucket delete hook: %w", hookError(err))
	}
	return nil
}

// desired is forgelink's hook as spec asks for it, with uuid to update one.
func desired(opts bb.WebhooksOptions, uuid string, spec providers.HookSpec) *bb.WebhooksOptions {
	opts.Uuid = uuid
	opts.Description = hookDescription
	opts.Url = spec.URL
	opts.Active = true
	opts.Secret = spec.Secret
	opts.Events = slices.Clone(hookEvents)
	return &opts
}

// drifted reports whether h would not deliver what forgelink needs, signed.
func drifted(h hook, spec providers.HookSpec) bool {
	have := slices.Sorted(slices.Values(h.Events))
	want := slices.Sorted(slices.Values(hookEvents))
	return !h.Active || !slices.Equal(slices.Compact(have), want) || (spec.Secret != "" && !h.SecretSet)
}

// repoOptions splits "workspace/repo_slug" into go-bitbucket's options,
// path-escaped (go-bitbucket formats them into the path as they are).
func repoOptions(repository string) (bb.WebhooksOptions, error) {
	workspace, slug, ok := strings.Cut(repository, "/")
	if !ok || workspace == "" || slug == "" || strings.Contains(slug, "/") {
		return bb.WebhooksOptions{}, fmt.Errorf("bitbucket hooks: %w: repository %q is not workspace/repo_slug", providers.ErrNotFound, repository)
	}
	return bb.WebhooksOptions{Owner: url.PathEscape(workspace), RepoSlug: url.PathEscape(slug)}, nil
}

// statusOf is the HTTP status of go-bitbucket's error, 0 when the error
// is not an answer.
func statusOf(err error) int {
	var unexpected *bb.UnexpectedResponseStatusError
	if errors.As(err, &unexpected) {
		return unexpected.StatusCode
	}
	return 0
}

// hookError classifies go-bitbucket's error by the status of Bitbucket's
// answer, without the body the error carries: 404, the repository is
// unknown or hidden from the token; 401 and 403 rejected; the rest
// unavailable.
func hookError(err error) error {
	status := statusOf(err)
	if status == http.StatusNotFound {
		return fmt.Errorf("%w: HTTP 404", providers.ErrNotFound)
	}
	return providers.TokenCheckError(status, err)
}

// updateError is hookError for a PUT of a listed hook: its 404 means the
// hook was deleted since, and the next Ensure creates it again.
func updateError(err error) error {
	if statusOf(err) == http.StatusNotFound {
		return fmt.Errorf("%w: the hook went away", providers.ErrProviderUnavailable)
	}
	return hookError(err)
}

// recoverDecode turns go-bitbucket's panic on an answer that is not a
// JSON object (it asserts the type) into an error.
func recoverDecode(op string, err *error) {
	if recover() != nil {
		*err = fmt.Errorf("%s: %w: the answer is not a JSON object", op, providers.ErrProviderUnavailable)
	}
}
