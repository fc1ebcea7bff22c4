package providers

import (
	"errors"
	"fmt"
	"net/http"
)

// Errors of token checks (CheckToken in the provider packages). Neither
// ever carries the token: it travels only in request headers, and the
// provider's own error text is dropped.
var (
	// ErrTokenRejected: the provider refused the token (HTTP 401 or 403):
	// wrong, expired, revoked, or without the scope to read its own user.
	ErrTokenRejected = errors.New("token rejected")
	// ErrProviderUnavailable: the provider could not be asked, or answered
	// something other than an account or a refusal.
	ErrProviderUnavailable = errors.New("provider unavailable")
)

// StatusError is a provider's HTTP error answer to a token check. It
// matches ErrTokenRejected for 401 and 403 and ErrProviderUnavailable for
// any other status.
type StatusError struct {
	StatusCode int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d %s", e.StatusCode, http.StatusText(e.StatusCode))
}

// Is classifies the status, so that callers need only errors.Is.
func (e *StatusError) Is(target error) bool {
	if e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden {
		return target == ErrTokenRejected
	}
	return target == ErrProviderUnavailable
}

// TokenCheckError classifies a failed token check. status is the HTTP
// status of the provider's answer, 0 when none came; err is the client
// library's error. An error status becomes a *StatusError, without the
// answer's body, which the library would quote; anything else (network,
// timeout, an undecodable answer) wraps err in ErrProviderUnavailable.
func TokenCheckError(status int, err error) error {
	if status >= 300 {
		return &StatusError{StatusCode: status}
	}
	return fmt.Errorf("%w: %w", ErrProviderUnavailable, err)
}

// TokenAccount is the result of a token check whose answer named account:
// an answer without one is not a check passed.
func TokenAccount(account string) (string, error) {
	if account == "" {
		return "", fmt.Errorf("%w: the answer names no account", ErrProviderUnavailable)
	}
	return account, nil
}
