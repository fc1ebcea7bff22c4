package providers

import (
	"errors"
	"fmt"
	"time"
)

// HookDelivery is one attempt at delivering an event to a hook, as a
// provider's delivery log lists it (GitHub's hook deliveries).
type HookDelivery struct {
	ID          string // the attempt: what a redelivery names
	GUID        string // the event, shared by all its attempts: X-GitHub-Delivery
	DeliveredAt time.Time
	OK          bool // the receiver took it (GitHub: status "OK")
	Redelivery  bool
}

// ErrHookLogRefused: the provider will not show or redeliver a hook's
// deliveries (HTTP 403 or 404: no admin rights, the hook or repository
// gone). Recovery marks the hook unrecoverable and polls instead.
var ErrHookLogRefused = errors.New("hook delivery log refused")

// RateLimitError: the provider asks to wait Wait before the next call
// (retry-after, or the reset of an exhausted x-ratelimit-remaining).
type RateLimitError struct {
	Wait time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("rate limited: retry in %s", e.Wait.Round(time.Second))
}

// Unwrap makes a rate limit a provider that cannot be asked now.
func (e *RateLimitError) Unwrap() error { return ErrProviderUnavailable }
