package providers

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"golang.org/x/oauth2"
)

// CheckClient checks an OAuth application's client credentials without a
// user: it exchanges a random code the provider never issued. The token
// endpoint authenticates the client before it looks at the grant, so by
// RFC 6749 §5.2 wrong credentials answer one of refusals (the RFC's
// "invalid_client"; some providers say "unauthorized_client") and right
// ones "invalid_grant", the code being unknown. A refusal wraps
// ErrTokenRejected, "invalid_grant" is success, anything else wraps
// ErrProviderUnavailable. The provider's error_description is dropped:
// only the RFC's error code and the status are reported.
func CheckClient(ctx context.Context, client *http.Client, cfg *oauth2.Config, refusals ...string) error {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, client)
	_, err := cfg.Exchange(ctx, "forgelink-check-"+rand.Text())
	if err == nil {
		return fmt.Errorf("%w: the token endpoint accepted a code it never issued", ErrProviderUnavailable)
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return fmt.Errorf("%w: %w", ErrProviderUnavailable, err)
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	switch {
	case re.ErrorCode == "invalid_grant":
		return nil
	case slices.Contains(refusals, re.ErrorCode):
		return fmt.Errorf("%w: the token endpoint refused the client credentials (HTTP %d %s)", ErrTokenRejected, status, re.ErrorCode)
	}
	return fmt.Errorf("%w: the token endpoint answered HTTP %d", ErrProviderUnavailable, status)
}
