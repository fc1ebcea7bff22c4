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

// Resend: GitLab 17.4 added the project hook events' resend endpoint
// (older servers answer 404); GitLab allows 5 resends a minute per user
// and project by default.
const (
	resendMajor, resendMinor = 17, 4
	// ResendGap spaces resends to stay within GitLab's 5 a minute.
	ResendGap         = 12 * time.Second
	hookEventsPerPage = 100
	maxHookEventPages = 100
)

// SupportsResend reports whether the GitLab at apiBaseURL has the hook
// events' resend API (GET /version: 17.4 or later).
func SupportsResend(ctx context.Context, client *http.Client, apiBaseURL string, tok providers.Token) (bool, error) {
	c, err := newTokenClient(client, apiBaseURL, tok)
	if err != nil {
		return false, err
	}
	v, resp, err := c.Version.GetVersion(gitlab.WithContext(ctx))
	if err != nil {
		return false, fmt.Errorf("gitlab version: %w", headError(resp, err))
	}
	return versionAtLeast(v.Version, resendMajor, resendMinor), nil
}

// versionAtLeast reads "17.4.1-ee" and the like; what it cannot read is
// older.
func versionAtLeast(version string, major, minor int) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts[:2] {
		if p == "" || p[0] < '0' || p[0] > '9' {
			return false // Atoi would take a sign
		}
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// HookLog reads and resends one project hook's events (GET and POST
// /projects/:id/hooks/:hook_id/events[/:event_id/resend]), the events
// named by their Idempotency-Key, forgelink's de-duplication key.
type HookLog struct {
	c       *gitlab.Client
	project string
	hookID  int64
}

// NewHookLog returns the event log of hook hookID of project (its full
// path) at the API at apiBaseURL, read with tok.
func NewHookLog(client *http.Client, apiBaseURL string, tok providers.Token, project, hookID string) (*HookLog, error) {
	id, err := strconv.ParseInt(hookID, 10, 64)
	if err != nil || id <= 0 {
		return nil, fmt.Errorf("gitlab hook events: %w: %q is not a hook id", providers.ErrNotFound, hookID)
	}
	c, err := newTokenClient(client, apiBaseURL, tok)
	if err != nil {
		return nil, err
	}
	return &HookLog{c: c, project: project, hookID: id}, nil
}

// hookEvent is one entry of a hook's events, as GitLab lists them.
type hookEvent struct {
	ID             int64             `json:"id"`
	RequestHeaders map[string]string `json:"request_headers"`
	ResponseStatus string            `json:"response_status"`
	CreatedAt      time.Time         `json:"created_at"`
}

// Deliveries lists the hook's events created after since, reading pages
// of 100 until one holds nothing newer. Errors: 403/404 (an older GitLab,
// no maintainer rights, the hook gone) wrap providers.ErrHookLogRefused;
// 401 providers.ErrTokenRejected; 429 a *providers.RateLimitError.
func (l *HookLog) Deliveries(ctx context.Context, since time.Time) ([]providers.HookDelivery, error) {
	var out []providers.HookDelivery
	for page := 1; page <= maxHookEventPages; page++ {
		var events []hookEvent
		path := fmt.Sprintf("projects/%s/hooks/%d/events", gitlab.PathEscape(l.project), l.hookID)
		req, err := l.c.NewRequest(http.MethodGet, path, &gitlab.ListOptions{Page: int64(page), PerPage: hookEventsPerPage}, []gitlab.RequestOptionFunc{gitlab.WithContext(ctx)})
		if err != nil {
			return nil, fmt.Errorf("gitlab hook events: %w", err)
		}
		resp, err := l.c.Do(req, &events)
		if err != nil {
			return nil, fmt.Errorf("gitlab hook events: %w", logError(resp, err))
		}
		newer := 0
		for _, e := range events {
			if !e.CreatedAt.After(since) {
				continue
			}
			newer++
			out = append(out, providers.HookDelivery{ID: strconv.FormatInt(e.ID, 10), GUID: eventKey(e.RequestHeaders),
				DeliveredAt: e.CreatedAt, OK: strings.HasPrefix(e.ResponseStatus, "2")})
		}
		if newer == 0 || resp.NextPage == 0 {
			return out, nil
		}
	}
	return nil, fmt.Errorf("gitlab hook events: %w: cannot follow the listing past page %d", providers.ErrProviderUnavailable, maxHookEventPages)
}

// eventKey is the event's Idempotency-Key (X-Gitlab-Event-UUID on servers
// without it), as the ingress de-duplicates on, whatever the header's case.
func eventKey(headers map[string]string) string {
	var uuid string
	for k, v := range headers {
		switch {
		case strings.EqualFold(k, headerIdempotencyKey):
			return v
		case strings.EqualFold(k, headerEventUUID):
			uuid = v
		}
	}
	return uuid
}

// Redeliver asks GitLab to resend event id.
func (l *HookLog) Redeliver(ctx context.Context, id string) error {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return fmt.Errorf("gitlab resend: %w: %q is not an event id", providers.ErrNotFound, id)
	}
	path := fmt.Sprintf("projects/%s/hooks/%d/events/%d/resend", gitlab.PathEscape(l.project), l.hookID, n)
	req, err := l.c.NewRequest(http.MethodPost, path, nil, []gitlab.RequestOptionFunc{gitlab.WithContext(ctx)})
	if err != nil {
		return fmt.Errorf("gitlab resend: %w", err)
	}
	if resp, err := l.c.Do(req, nil); err != nil {
		return fmt.Errorf("gitlab resend: %w", logError(resp, err))
	}
	return nil
}

func logError(resp *gitlab.Response, err error) error {
	switch status := statusOf(resp); status {
	case http.StatusForbidden, http.StatusNotFound:
		return fmt.Errorf("%w: HTTP %d", providers.ErrHookLogRefused, status)
	default:
		return headError(resp, err)
	}
}
