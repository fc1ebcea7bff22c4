package controlplane

import (
	"context"

	"fmt"
	"github.com/forgelink/forgelink/relay/policy"
	"time"
)

// onNothing is the access of an operation on no single resource: action
// on "*".
func onNothing[In any](action string) func(context.Context, call, *In) ([]policy.Request, error) {
	return func(context.Context, call, *In) ([]policy.Request, error) {
		return []policy.Request{on(action, "*")}, nil
	}
}

// ConsoleLinks mints one-time sign-in links to the web console
// (relay/console).
type ConsoleLinks interface {
	LoginLink(ctx context.Context) (url string, expires time.Time, err error)
}

type consoleLinkOut struct {
	URL       string  `json:"Url"`
	ExpiresAt float64 // epoch seconds
}

// createConsoleLink answers a single-use console sign-in link. The link is
// a credential: only callers the control plane authenticated get one, and
// ctx carries the caller's key id (policy.CallerOf), to which LoginLink
// binds the session.
func (a *API) createConsoleLink(ctx context.Context, _ call, _ *struct{}) (any, error) {
	if a.opts.ConsoleLinks == nil {
		return nil, newError(codeUnsupportedOp, "this forgelink daemon serves no web console")
	}
	url, expires, err := a.opts.ConsoleLinks.LoginLink(ctx)
	if err != nil {
		return nil, fmt.Errorf("create console link: %w", err)
	}
	return consoleLinkOut{URL: url, ExpiresAt: epochSeconds(expires)}, nil
}
