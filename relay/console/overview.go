package console

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/store"
)

// listPage is the page size for reading all connections and hosts (at most
// a few hundred, by quota).
const listPage = 100

type connectionRow struct {
	store.Connection
	ARN string
	// SetupAction is the set-up form's URL, for one waiting for set-up or
	// broken and worth setting up again; empty otherwise.
	SetupAction string
}

type hostRow struct {
	store.Host
	ARN         string
	SetupAction string
}

type eventRow struct {
	store.Event
	Connection string // its name, or its id once deleted
}

type overviewView struct {
	frame
	CanSetup    bool // a set-up service is wired
	Connections []connectionRow
	Hosts       []hostRow
	Events      []eventRow
	Deliveries  []store.Delivery
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, s session) {
	v, err := c.overviewData(r.Context(), s)
	if err != nil {
		c.opts.Log.Error("console overview", zap.Error(err))
		c.message(w, http.StatusInternalServerError, "Unavailable", "The records could not be read; see the daemon's log.", "")
		return
	}
	v.frame = c.frame("Overview", s)
	c.render(w, http.StatusOK, "overview.html", v)
}

// overviewData reads what the session's key may read: connections and
// hosts it may Get, and the events and deliveries of connections it may
// list them for.
func (c *Console) overviewData(ctx context.Context, s session) (overviewView, error) {
	v := overviewView{CanSetup: c.opts.Setup != nil}
	conns, err := all(ctx, func(ctx context.Context, p store.Page) ([]store.Connection, error) {
		return c.opts.Store.ListConnections(ctx, store.ConnectionFilter{}, p)
	}, func(c store.Connection) string { return c.ID })
	if err != nil {
		return v, fmt.Errorf("list connections: %w", err)
	}
	names := make(map[string]string, len(conns))
	arns := make(map[string]string, len(conns))
	for _, conn := range conns {
		arn := conn.ARN(c.opts.AccountID)
		arns[conn.ID] = arn
		if !c.allowed(s, actionGetConnection, arn) {
			continue
		}
		names[conn.ID] = conn.Name
		v.Connections = append(v.Connections, connectionRow{Connection: conn, ARN: arn,
			SetupAction: c.setupAction(v.CanSetup && c.allowed(s, connectionSetupAction(conn.ProviderType), arn), "connections", conn.ID, conn.Status)})
	}
	// A deleted connection's records are named by an ARN no scoped
	// policy matches: only a key allowed everywhere sees them.
	arnOf := func(connID string) string { return cmp.Or(arns[connID], c.arn("", connectionResourceKind, connID)) }
	hosts, err := all(ctx, func(ctx context.Context, p store.Page) ([]store.Host, error) {
		return c.opts.Store.ListHosts(ctx, store.HostFilter{}, p)
	}, func(h store.Host) string { return h.ID })
	if err != nil {
		return v, fmt.Errorf("list hosts: %w", err)
	}
	for _, h := range hosts {
		arn := h.ARN(c.opts.AccountID)
		if !c.allowed(s, actionGetHost, arn) {
			continue
		}
		v.Hosts = append(v.Hosts, hostRow{Host: h, ARN: arn,
			SetupAction: c.setupAction(v.CanSetup && c.allowed(s, actionAppRegistration, arn), "hosts", h.ID, h.Status)})
	}
	events, _, err := recent(ctx, "", func(ctx context.Context, before string, limit int) ([]store.Event, error) {
		return c.opts.Store.ListEvents(ctx, store.EventFilter{}, store.Page{After: before, Limit: limit, Descending: true})
	}, func(e store.Event) string { return e.ID }, func(e store.Event) bool {
		return c.allowed(s, actionListEvents, arnOf(e.ConnectionID))
	})
	if err != nil {
		return v, fmt.Errorf("list events: %w", err)
	}
	for _, e := range events {
		v.Events = append(v.Events, eventRow{Event: e, Connection: cmp.Or(names[e.ConnectionID], e.ConnectionID)})
	}
	v.Deliveries, _, err = recent(ctx, "", func(ctx context.Context, before string, limit int) ([]store.Delivery, error) {
		return c.opts.Store.ListDeliveries(ctx, store.DeliveryFilter{}, store.Page{After: before, Limit: limit, Descending: true})
	}, func(d store.Delivery) string { return d.ID }, func(d store.Delivery) bool {
		return c.allowed(s, actionListDeliveries, arnOf(d.ConnectionID))
	})
	if err != nil {
		return v, fmt.Errorf("list deliveries: %w", err)
	}
	return v, nil
}

// all reads every page of a listing.
func all[T any](ctx context.Context, list func(context.Context, store.Page) ([]T, error), id func(T) string) ([]T, error) {
	var out []T
	p := store.Page{Limit: listPage}
	for {
		page, err := list(ctx, p)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < listPage {
			return out, nil
		}
		p.After = id(page[len(page)-1])
	}
}

func (c *Console) arn(region, kind, id string) string {
	return "arn:aws:codeconnections:" + region + ":" + c.opts.AccountID + ":" + kind + "/" + id
}

// setupAction is the set-up form's URL for a record that is not
// AVAILABLE, when set-up is offered.
func (c *Console) setupAction(offered bool, kind, id, status string) string {
	if !offered || status == store.StatusAvailable {
		return ""
	}
	return c.base + kind + "/" + url.PathEscape(id) + "/setup"
}

func (c *Console) setupConnection(w http.ResponseWriter, r *http.Request, s session) {
	conn, err := c.opts.Store.GetConnection(r.Context(), r.PathValue("id"))
	arn := conn.ARN(c.opts.AccountID)
	c.startSetup(w, r, s, "connection", err, connectionSetupAction(conn.ProviderType), arn, c.opts.Setup.ConnectionSetupURL)
}

func (c *Console) setupHost(w http.ResponseWriter, r *http.Request, s session) {
	host, err := c.opts.Store.GetHost(r.Context(), r.PathValue("id"))
	arn := host.ARN(c.opts.AccountID)
	c.startSetup(w, r, s, "host", err, actionAppRegistration, arn, c.opts.Setup.HostSetupURL)
}

// startSetup sends the browser on to where the set-up of a connection or
// host continues (a provider's page), if the session's key may start it;
// the link is made on the key's behalf, so the set-up holds it to that
// key too. Its routes exist only when Options.Setup is set.
func (c *Console) startSetup(w http.ResponseWriter, r *http.Request, s session, kind string, lookup error, action, arn string,
	setupURL func(context.Context, string) (string, error)) {
	id := r.PathValue("id")
	err := lookup
	switch {
	case err == nil && !c.allowed(s, action, arn):
		c.opts.Log.Info("console set-up refused", zap.String("kind", kind), zap.String("id", id), zap.String("access_key_id", s.Key),
			zap.String("action", action))
		c.message(w, http.StatusForbidden, "Not allowed", "Your access key may not "+action+" on "+arn+"; nothing was done.", "")
		return
	case err == nil:
		var to string
		to, err = setupURL(asCaller(r.Context(), s), id)
		if err == nil {
			c.opts.Log.Info("console set-up started", zap.String("kind", kind), zap.String("id", id))
			http.Redirect(w, r, to, http.StatusSeeOther)
			return
		}
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.message(w, http.StatusNotFound, "Not found", "There is no such "+kind+" (it may have been deleted).", "")
	case errors.Is(err, store.ErrUnavailable):
		c.message(w, http.StatusConflict, "Set-up not possible", err.Error(), "")
	default:
		c.opts.Log.Error("console set-up", zap.String("kind", kind), zap.String("id", id), zap.Error(err))
		c.message(w, http.StatusBadGateway, "Set-up failed", "The set-up of this "+kind+" could not start; see the daemon's log.", "")
	}
}
