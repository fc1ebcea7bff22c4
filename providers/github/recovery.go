package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/forgelink/forgelink/providers"
)

// Delivery log paging: GitHub caps per_page at 100; maxDeliveryPages
// bounds a listing whose cursor never ends (3 days of a busy hook is far
// below 100 pages of 100).
const (
	deliveriesPerPage = 100
	maxDeliveryPages  = 100
	// minRateWait is GitHub's "wait at least a minute" for a secondary
	// limit that names no time.
	minRateWait = time.Minute
)

// DeliveryLog reads and redelivers one hook's deliveries: an App's hook
// (GET /app/hook/deliveries, App JWT) or a repository hook (GET
// /repos/{o}/{r}/hooks/{id}/deliveries, the connection's token, admin).
// It is safe for concurrent use.
type DeliveryLog struct {
	c           *gh.Client
	owner, repo string
	hookID      int64 // 0 for the App's hook
	now         func() time.Time
}

// NewRepoDeliveryLog returns the delivery log of hook hookID on repository
// ("owner/name") of the API at apiBaseURL, read with tok.
func NewRepoDeliveryLog(client *http.Client, apiBaseURL string, tok providers.Token, repository, hookID string, now func() time.Time) (*DeliveryLog, error) {
	if tok.Value == "" {
		return nil, fmt.Errorf("github deliveries: %w: no token", ErrInvalidParameter)
	}
	id, err := strconv.ParseInt(hookID, 10, 64)
	if err != nil || id <= 0 {
		return nil, fmt.Errorf("github deliveries: %w: %q is not a GitHub hook id", ErrInvalidParameter, hookID)
	}
	owner, repo, err := hookRepo(repository)
	if err != nil {
		return nil, err
	}
	if err := checkAPIURL(apiBaseURL); err != nil {
		return nil, fmt.Errorf("github deliveries: %w", err)
	}
	c, err := newClient(client, apiBaseURL, tok.Value)
	if err != nil {
		return nil, err
	}
	return &DeliveryLog{c: c, owner: owner, repo: repo, hookID: id, now: now}, nil
}

// DeliveryLog returns the delivery log of the App's own hook, read with
// the App JWT.
func (a *App) DeliveryLog(now func() time.Time) *DeliveryLog {
	return &DeliveryLog{c: a.c, now: now}
}

// Deliveries lists the hook's deliveries newer than since, newest first,
// following the Link cursor 100 at a time and stopping at the first page
// that reaches since (GitHub's recommended recovery loop).
//
// Errors: 403/404 wrap providers.ErrHookLogRefused; 401
// providers.ErrTokenRejected; a rate limit is a *providers.RateLimitError;
// anything else providers.ErrProviderUnavailable.
func (l *DeliveryLog) Deliveries(ctx context.Context, since time.Time) ([]providers.HookDelivery, error) {
	var out []providers.HookDelivery
	opt := &gh.ListCursorOptions{PerPage: deliveriesPerPage}
	for pages := 1; ; pages++ {
		page, resp, err := l.list(ctx, opt)
		if err != nil {
			return nil, fmt.Errorf("github list deliveries: %w", l.classify(resp, err))
		}
		for _, d := range page {
			at := d.GetDeliveredAt().Time
			if !at.After(since) {
				return out, nil
			}
			out = append(out, providers.HookDelivery{
				ID: strconv.FormatInt(d.GetID(), 10), GUID: d.GetGUID(), DeliveredAt: at,
				OK: d.GetStatus() == "OK", Redelivery: d.GetRedelivery(),
			})
		}
		if resp.Cursor == "" || len(page) == 0 {
			return out, nil
		}
		if pages >= maxDeliveryPages || resp.Cursor == opt.Cursor {
			return nil, fmt.Errorf("github list deliveries: %w: cannot follow the listing past page %d", providers.ErrProviderUnavailable, pages)
		}
		opt.Cursor = resp.Cursor
	}
}

func (l *DeliveryLog) list(ctx context.Context, opt *gh.ListCursorOptions) ([]*gh.HookDelivery, *gh.Response, error) {
	if l.hookID == 0 {
		return l.c.Apps.ListHookDeliveries(ctx, opt)
	}
	return l.c.Repositories.ListHookDeliveries(ctx, l.owner, l.repo, l.hookID, opt)
}

// Redeliver asks GitHub to deliver attempt id again. GitHub answers 202,
// which go-github reports as *gh.AcceptedError: that is success.
func (l *DeliveryLog) Redeliver(ctx context.Context, id string) error {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return fmt.Errorf("github redeliver: %w: %q is not a delivery id", ErrInvalidParameter, id)
	}
	var resp *gh.Response
	if l.hookID == 0 {
		_, resp, err = l.c.Apps.RedeliverHookDelivery(ctx, n)
	} else {
		_, resp, err = l.c.Repositories.RedeliverHookDelivery(ctx, l.owner, l.repo, l.hookID, n)
	}
	var accepted *gh.AcceptedError
	if err == nil || errors.As(err, &accepted) {
		return nil
	}
	return fmt.Errorf("github redeliver: %w", l.classify(resp, err))
}

// classify maps a failed delivery-log call to the recovery's errors,
// without the answer's body.
func (l *DeliveryLog) classify(resp *gh.Response, err error) error {
	if wait, ok := rateWait(resp, err, l.now()); ok {
		return &providers.RateLimitError{Wait: wait}
	}
	status := 0
	if resp != nil && resp.Response != nil {
		status = resp.StatusCode
	}
	switch status {
	case http.StatusForbidden, http.StatusNotFound:
		return fmt.Errorf("%w: HTTP %d", providers.ErrHookLogRefused, status)
	case 0:
		return fmt.Errorf("%w: %w", providers.ErrProviderUnavailable, err)
	}
	return &providers.StatusError{StatusCode: status}
}

// rateWait reads how long GitHub asks to wait, as its docs order:
// retry-after, then the reset of an exhausted x-ratelimit-remaining,
// then at least a minute for any other 429 or secondary limit.
// go-github's own RateLimitError (a limit it already knew of, before
// sending) carries the reset too.
func rateWait(resp *gh.Response, err error, now time.Time) (time.Duration, bool) {
	var rate *gh.RateLimitError
	if errors.As(err, &rate) {
		return max(rate.Rate.Reset.Sub(now), time.Second), true
	}
	var abuse *gh.AbuseRateLimitError
	if resp == nil || resp.Response == nil {
		return 0, false
	}
	h := resp.Header
	if s, perr := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After"))); perr == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if h.Get("X-RateLimit-Remaining") == "0" {
		if reset, perr := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); perr == nil {
			return max(time.Unix(reset, 0).Sub(now), time.Second), true
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests || errors.As(err, &abuse) {
		return minRateWait, true
	}
	return 0, false
}

// Heads reads branch and tag heads of one repository for the polling
// fallback: GET /repos/{o}/{r}/commits/{ref} with Accept
// application/vnd.github.sha and If-None-Match "<last SHA>", so an
// unchanged head is a 304 that costs no rate limit.
type Heads struct {
	c   *gh.Client
	now func() time.Time
}

// NewHeads returns Heads for the API at apiBaseURL read with tok.
func NewHeads(client *http.Client, apiBaseURL string, tok providers.Token, now func() time.Time) (*Heads, error) {
	if tok.Value == "" {
		return nil, fmt.Errorf("github heads: %w: no token", ErrInvalidParameter)
	}
	if err := checkAPIURL(apiBaseURL); err != nil {
		return nil, fmt.Errorf("github heads: %w", err)
	}
	c, err := newClient(client, apiBaseURL, tok.Value)
	if err != nil {
		return nil, err
	}
	return &Heads{c: c, now: now}, nil
}

// Head returns the SHA ref ("refs/heads/main", "refs/tags/v1" or a bare
// name) of repository points at; last is the SHA seen before, and an
// unchanged head returns it. Errors: 401 providers.ErrTokenRejected, 404
// or 422 (no such ref) providers.ErrNotFound, a rate limit a
// *providers.RateLimitError, anything else providers.ErrProviderUnavailable.
func (h *Heads) Head(ctx context.Context, repository, ref, last string) (string, error) {
	owner, repo, err := hookRepo(repository)
	if err != nil {
		return "", err
	}
	sha, resp, err := h.c.Repositories.GetCommitSHA1(ctx, owner, repo, ref, last)
	if resp != nil && resp.StatusCode == http.StatusNotModified && last != "" {
		return last, nil
	}
	if err != nil {
		if wait, ok := rateWait(resp, err, h.now()); ok {
			return "", fmt.Errorf("github head: %w", &providers.RateLimitError{Wait: wait})
		}
		return "", fmt.Errorf("github head: %w", headError(resp, err))
	}
	sha = strings.TrimSpace(sha)
	if !isSHA(sha) {
		return "", fmt.Errorf("github head: %w: the answer is not a commit SHA", providers.ErrProviderUnavailable)
	}
	return sha, nil
}

func headError(resp *gh.Response, err error) error {
	status := 0
	if resp != nil && resp.Response != nil {
		status = resp.StatusCode
	}
	if status == http.StatusNotFound || status == http.StatusUnprocessableEntity {
		return fmt.Errorf("%w: HTTP %d", providers.ErrNotFound, status)
	}
	return providers.TokenCheckError(status, err)
}

// isSHA reports whether s is a full hexadecimal object name (SHA-1 or
// SHA-256).
func isSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
