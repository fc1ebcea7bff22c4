package controlplane

import (
	"context"
	"fmt"
	"time"
)

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
// a credential: only callers the control plane authenticated get one.
func (a *API) createConsoleLink(ctx context.Context, c call) (any, error) {
	var in struct{}
	if err := decode(c.body, &in); err != nil {
		return nil, err
	}
	if a.opts.ConsoleLinks == nil {
		return nil, newError(codeUnsupportedOp, "this forgelink daemon serves no web console")
	}
	url, expires, err := a.opts.ConsoleLinks.LoginLink(ctx)
	if err != nil {
		return nil, fmt.Errorf("create console link: %w", err)
	}
	return consoleLinkOut{URL: url, ExpiresAt: epochSeconds(expires)}, nil
}
