// Package console is the daemon's small web console: connections and hosts
// with their status and a set-up button for each one still waiting; pages
// of events (headers, raw body, normalised form, the pipelines' explain
// verdicts), of deliveries (attempts with status and exit codes, output,
// timings; Redeliver and Discard) and of connections (webhook URL, the
// secret revealed on a click, the health of the hooks on their
// repositories); events and deliveries listed newest first, filtered and
// paged. Pages are rendered on the server with html/template and use plain
// HTML forms; there is no JavaScript. Every record is shown and every
// button offered and obeyed only as the API would allow the session's key.
//
// Sign-in is with an access key pair or a one-time link (LoginLink, from
// `forgelink console-link`). The session lives in a cookie sealed by the
// keyring, so the daemon keeps no session table; every form carries the
// session's CSRF token.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/route"
	"github.com/forgelink/forgelink/store"
)

// Store is what the console reads, and the single-use nonces of its login
// links.
type Store interface {
	ListConnections(ctx context.Context, f store.ConnectionFilter, p store.Page) ([]store.Connection, error)
	ListHosts(ctx context.Context, f store.HostFilter, p store.Page) ([]store.Host, error)
	ListEvents(ctx context.Context, f store.EventFilter, p store.Page) ([]store.Event, error)
	ListDeliveries(ctx context.Context, f store.DeliveryFilter, p store.Page) ([]store.Delivery, error)
	GetConnection(ctx context.Context, id string) (store.Connection, error)
	GetHost(ctx context.Context, id string) (store.Host, error)
	GetEvent(ctx context.Context, id string) (store.Event, error)
	GetDelivery(ctx context.Context, id string) (store.Delivery, []store.Attempt, error)
	// Redeliver and Discard report a delivery in the wrong state as
	// store.ErrUnavailable.
	Redeliver(ctx context.Context, id string) error
	Discard(ctx context.Context, id string) error
	WebhookSecrets(ctx context.Context, connID string, now time.Time) ([]store.WebhookSecret, error)
	// RegisteredHooks are the hooks the hook registry keeps on a
	// connection's linked repositories, with their health.
	RegisteredHooks(ctx context.Context, connID string) ([]store.RegisteredHook, error)
	CreateNonce(ctx context.Context, id, purpose string, expiresAt time.Time) error
	// ConsumeNonce uses a nonce up; store.ErrNotFound when it is unknown,
	// already used or expired.
	ConsumeNonce(ctx context.Context, id, purpose string, now time.Time) error
}

// Setup starts the provider set-up of a connection or host: the URL the
// operator's browser goes to next (a provider's installation or
// authorisation page).
type Setup interface {
	ConnectionSetupURL(ctx context.Context, connID string) (string, error)
	HostSetupURL(ctx context.Context, hostID string) (string, error)
}

// Keyring seals the session cookie, opens webhook secrets and tags
// webhook URLs (relay/keyring).
type Keyring interface {
	Seal(plaintext, associated []byte) []byte
	Open(sealed, associated []byte) ([]byte, error)
	Tag(purpose string, data []byte) []byte
}

// Explainer says why each pipeline did or did not trigger on an event, as
// the control plane's ExplainEvent does.
type Explainer interface {
	Explain(connID string, ev *providers.Event) []route.PipelineVerdict
}

// Options configure a Console.
type Options struct {
	Store   Store
	Keyring Keyring
	// Setup starts set-ups; nil: the console shows no set-up buttons.
	Setup Setup
	Log   *zap.Logger // nil: no logging
	// Audit records who revealed a webhook secret; nil: Log.
	Audit *zap.Logger
	// Pipelines explains events; nil: the console offers no explain page.
	Pipelines Explainer
	// DeliveriesChanged is told that a delivery became due again
	// (redelivered), so the delivery engine looks before its next poll.
	DeliveriesChanged func()
	// Credentials returns the secret access key of an access key id allowed
	// to sign in; nil: only login links sign in.
	Credentials func(accessKeyID string) (secret string, ok bool)
	// Authorizer decides what a signed-in session may see and do: the
	// policy of its access key, as the API would. nil: everything.
	Authorizer Authorizer
	// Open serves the console without sign-in, as the control plane does
	// when no credentials are configured (loopback-only daemons).
	Open bool
	// PublicURL is the daemon's externally reachable base URL: login links
	// start with it, cookies are Secure when it is https, and a path in it
	// (a reverse proxy's prefix) prefixes every console link.
	PublicURL string
	// AccountID renders ARNs.
	AccountID string
	// Now is the clock; time.Now if nil.
	Now func() time.Time
}

// Console is the http.Handler for everything under /console/.
type Console struct {
	opts   Options
	base   string // path of the console as the browser sees it: "<prefix>/console/"
	public string // PublicURL without its trailing slash
	secure bool
	pages  *template.Template
	mux    *http.ServeMux
}

//go:embed templates/*.html static/console.css
var files embed.FS

// New returns a console. PublicURL must be an absolute http(s) URL.
func New(opts Options) (*Console, error) {
	if opts.Store == nil || opts.Keyring == nil {
		return nil, errors.New("console: a store and a keyring are required")
	}
	u, err := url.Parse(opts.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("console: public URL %q is not an absolute http(s) URL", opts.PublicURL)
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.Audit == nil {
		opts.Audit = opts.Log
	}
	if opts.DeliveriesChanged == nil {
		opts.DeliveriesChanged = func() {}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	pages, err := template.New("").Funcs(templateFuncs).ParseFS(files, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("console: templates: %w", err)
	}
	c := &Console{
		opts:   opts,
		base:   strings.TrimRight(u.Path, "/") + "/console/",
		public: strings.TrimRight(opts.PublicURL, "/"),
		secure: u.Scheme == "https",
		pages:  pages,
	}
	c.mux, err = c.routes(u.Scheme + "://" + u.Host)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Console) routes(origin string) (*http.ServeMux, error) {
	static, err := fs.Sub(files, "static")
	if err != nil {
		return nil, fmt.Errorf("console: static files: %w", err)
	}
	// Cross-origin POSTs are refused before any handler runs: Sec-Fetch-Site,
	// else Origin against Host. The public origin is trusted as well, for a
	// reverse proxy that rewrites Host.
	cop := http.NewCrossOriginProtection()
	if err := cop.AddTrustedOrigin(origin); err != nil {
		return nil, fmt.Errorf("console: public origin: %w", err)
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.message(w, http.StatusForbidden, "Request refused", "This form was sent from another site.", "")
	}))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /console/{$}", c.page(c.overview))
	mux.HandleFunc("GET /console/events", c.page(c.eventList))
	mux.HandleFunc("GET /console/events/{id}", c.page(c.eventPage))
	if c.opts.Pipelines != nil {
		mux.HandleFunc("GET /console/events/{id}/explain", c.page(c.explainPage))
	}
	mux.HandleFunc("GET /console/deliveries", c.page(c.deliveryList))
	mux.HandleFunc("GET /console/deliveries/{id}", c.page(c.deliveryPage))
	mux.Handle("POST /console/deliveries/{id}/redeliver", cop.Handler(c.action(c.redeliver)))
	mux.Handle("POST /console/deliveries/{id}/discard", cop.Handler(c.action(c.discard)))
	mux.HandleFunc("GET /console/connections/{id}", c.page(c.connectionPage))
	mux.Handle("POST /console/connections/{id}/webhook-secret", cop.Handler(c.action(c.revealSecret)))
	mux.HandleFunc("GET /console/login", c.loginForm)
	mux.Handle("POST /console/login", cop.Handler(http.HandlerFunc(c.login)))
	mux.HandleFunc("GET /console/login/{token}", c.loginWithLink)
	mux.Handle("POST /console/logout", cop.Handler(c.action(c.logout)))
	if c.opts.Setup != nil {
		mux.Handle("POST /console/connections/{id}/setup", cop.Handler(c.action(c.setupConnection)))
		mux.Handle("POST /console/hosts/{id}/setup", cop.Handler(c.action(c.setupHost)))
	}
	mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	return mux, nil
}

func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// No script runs anywhere in the console; forms may post to the
	// console only, but a set-up answers with a redirect to the provider,
	// which form-action would block, so it is not set.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// A login link's token must not leave in a Referer.
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	c.mux.ServeHTTP(w, r)
}

// redirect answers 303 to a console page (path relative to the console).
func (c *Console) redirect(w http.ResponseWriter, r *http.Request, page string) {
	http.Redirect(w, r, c.base+page, http.StatusSeeOther)
}
