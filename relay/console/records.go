package console

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/route"
	"github.com/forgelink/forgelink/store"
)

// connIndex looks connections up once per request: their names for the
// tables and their ARNs for the policy. A deleted connection's records are
// named by an ARN without a region, which no scoped policy matches: only
// a key allowed everywhere sees them.
type connIndex struct {
	c    *Console
	ctx  context.Context
	byID map[string]store.Connection
}

func (c *Console) connIndex(ctx context.Context) *connIndex {
	return &connIndex{c: c, ctx: ctx, byID: map[string]store.Connection{}}
}

// get returns the connection (zero but its id once deleted) and its ARN.
func (x *connIndex) get(id string) (store.Connection, string, error) {
	conn, ok := x.byID[id]
	if !ok {
		var err error
		conn, err = x.c.opts.Store.GetConnection(x.ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			conn = store.Connection{ID: id}
		case err != nil:
			return conn, "", fmt.Errorf("connection %s: %w", id, err)
		}
		x.byID[id] = conn
	}
	return conn, conn.ARN(x.c.opts.AccountID), nil
}

// allowed reports whether s may do action on the connection of a record;
// a lookup failure refuses and is kept for the caller.
func (x *connIndex) allowed(s session, action, connID string, failed *error) bool {
	_, arn, err := x.get(connID)
	if err != nil {
		*failed = cmp.Or(*failed, err)
		return false
	}
	return x.c.allowed(s, action, arn)
}

func (x *connIndex) name(id string) string {
	return cmp.Or(x.byID[id].Name, id)
}

// listView is a page of events or deliveries, newest first, with its
// filters and the cursor of the next, older page.
type listView struct {
	frame
	Connections []store.Connection // those the filter may pick
	Connection  string
	Pipeline    string
	State       string
	States      []string
	Events      []eventRow
	Deliveries  []store.Delivery
	Older       string // query of the next page; empty on the last
}

var deliveryStates = []string{store.DeliveryPending, store.DeliveryLeased, store.DeliverySucceeded, store.DeliveryDead,
	store.DeliverySuperseded, store.DeliveryDiscarded, store.DeliveryFiltered}

// maxFilter bounds a filter value from the query string.
const maxFilter = 256

// listQuery reads a list page's filters; before is the id the page ends
// before (the previous page's oldest record).
func listQuery(r *http.Request) (v listView, before string) {
	q := r.URL.Query()
	get := func(k string) string {
		if s := q.Get(k); len(s) <= maxFilter {
			return s
		}
		return ""
	}
	return listView{Connection: get("connection"), Pipeline: get("pipeline"), State: get("state"), States: deliveryStates}, get("before")
}

// olderQuery is the query of the page that starts before next; empty when
// there is none.
func olderQuery(v listView, next string) string {
	if next == "" {
		return ""
	}
	q := url.Values{"before": {next}}
	for k, val := range map[string]string{"connection": v.Connection, "pipeline": v.Pipeline, "state": v.State} {
		if val != "" {
			q.Set(k, val)
		}
	}
	return "?" + q.Encode()
}

// visibleConnections are the connections the filter offers: those the key
// may Get.
func (c *Console) visibleConnections(ctx context.Context, s session) ([]store.Connection, error) {
	conns, err := all(ctx, func(ctx context.Context, p store.Page) ([]store.Connection, error) {
		return c.opts.Store.ListConnections(ctx, store.ConnectionFilter{}, p)
	}, func(c store.Connection) string { return c.ID })
	if err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	return slices.DeleteFunc(conns, func(conn store.Connection) bool {
		return !c.allowed(s, actionGetConnection, conn.ARN(c.opts.AccountID))
	}), nil
}

func (c *Console) eventList(w http.ResponseWriter, r *http.Request, s session) {
	v, before := listQuery(r)
	ctx := r.Context()
	idx := c.connIndex(ctx)
	var failed error
	events, next, err := recent(ctx, before, func(ctx context.Context, before string, limit int) ([]store.Event, error) {
		return c.opts.Store.ListEvents(ctx, store.EventFilter{ConnectionID: v.Connection}, store.Page{After: before, Limit: limit, Descending: true})
	}, func(e store.Event) string { return e.ID }, func(e store.Event) bool {
		return idx.allowed(s, actionListEvents, e.ConnectionID, &failed)
	})
	if err == nil {
		v.Connections, err = c.visibleConnections(ctx, s)
	}
	if err = cmp.Or(err, failed); err != nil {
		c.unavailable(w, "events", err)
		return
	}
	for _, e := range events {
		v.Events = append(v.Events, eventRow{Event: e, Connection: idx.name(e.ConnectionID)})
	}
	v.Older = olderQuery(v, next)
	v.frame = c.frame("Events", s)
	c.render(w, http.StatusOK, "events.html", v)
}

func (c *Console) deliveryList(w http.ResponseWriter, r *http.Request, s session) {
	v, before := listQuery(r)
	ctx := r.Context()
	idx := c.connIndex(ctx)
	var failed error
	ds, next, err := recent(ctx, before, func(ctx context.Context, before string, limit int) ([]store.Delivery, error) {
		return c.opts.Store.ListDeliveries(ctx, store.DeliveryFilter{Pipeline: v.Pipeline, State: v.State}, store.Page{After: before, Limit: limit, Descending: true})
	}, func(d store.Delivery) string { return d.ID }, func(d store.Delivery) bool {
		return (v.Connection == "" || d.ConnectionID == v.Connection) && idx.allowed(s, actionListDeliveries, d.ConnectionID, &failed)
	})
	if err == nil {
		v.Connections, err = c.visibleConnections(ctx, s)
	}
	if err = cmp.Or(err, failed); err != nil {
		c.unavailable(w, "deliveries", err)
		return
	}
	v.Deliveries = ds
	v.Older = olderQuery(v, next)
	v.frame = c.frame("Deliveries", s)
	c.render(w, http.StatusOK, "deliveries.html", v)
}

// unavailable answers a store failure; the log has the error.
func (c *Console) unavailable(w http.ResponseWriter, what string, err error) {
	c.opts.Log.Error("console "+what, zap.Error(err))
	c.message(w, http.StatusInternalServerError, "Unavailable", "The records could not be read; see the daemon's log.", "")
}

// refuse answers a record the key may not see or change, or one that does
// not exist, alike: what exists is none of a refused key's business.
func (c *Console) refuse(w http.ResponseWriter, s session, kind, id, action string) {
	c.opts.Log.Info("console request refused", zap.String("kind", kind), zap.String("id", id),
		zap.String("access_key_id", s.Key), zap.String("action", action))
	c.message(w, http.StatusNotFound, "Not found", "There is no such "+kind+", or your access key may not "+action+" on it.", "")
}

// lookup reads one record of kind and checks action on its connection;
// ok is false when an answer was already sent.
func lookup[T any](c *Console, w http.ResponseWriter, r *http.Request, s session, kind, action string,
	get func(context.Context, string) (T, error), connOf func(T) string) (rec T, arn string, ok bool) {
	id := r.PathValue("id")
	rec, err := get(r.Context(), id)
	if err == nil {
		_, arn, err = c.connIndex(r.Context()).get(connOf(rec))
	}
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && !c.allowed(s, action, arn)):
		c.refuse(w, s, kind, id, action)
		return rec, "", false
	case err != nil:
		c.unavailable(w, kind, err)
		return rec, "", false
	}
	return rec, arn, true
}

type eventView struct {
	frame
	Event         store.Event
	ConnectionARN string
	Headers       string
	Body          string
	Normalized    string
	Deliveries    []store.Delivery
	ListsThem     bool // the key may list the event's deliveries
	CanExplain    bool
}

func (c *Console) eventPage(w http.ResponseWriter, r *http.Request, s session) {
	e, arn, ok := lookup(c, w, r, s, "event", actionGetEvent, c.opts.Store.GetEvent, func(e store.Event) string { return e.ConnectionID })
	if !ok {
		return
	}
	v := eventView{Event: e, ConnectionARN: arn, Headers: indented(e.Headers), Body: strings.ToValidUTF8(string(e.Body), "\uFFFD"),
		Normalized: indented(e.Normalized), ListsThem: c.allowed(s, actionListDeliveries, arn),
		CanExplain: c.opts.Pipelines != nil && c.allowed(s, actionExplainEvent, arn)}
	if v.ListsThem {
		var err error
		if v.Deliveries, err = c.opts.Store.ListDeliveries(r.Context(), store.DeliveryFilter{EventID: e.ID}, store.Page{}); err != nil {
			c.unavailable(w, "event", err)
			return
		}
	}
	v.frame = c.frame("Event "+e.ID, s)
	c.render(w, http.StatusOK, "event.html", v)
}

// indented is a stored JSON document for reading.
func indented(doc []byte) string {
	var buf bytes.Buffer
	if json.Indent(&buf, doc, "", "  ") != nil {
		return strings.ToValidUTF8(string(doc), "\uFFFD")
	}
	return buf.String()
}

type explainView struct {
	frame
	Event    store.Event
	Verdicts []route.PipelineVerdict
}

// explainPage evaluates the event against the pipelines configured now, as
// ExplainEvent does.
func (c *Console) explainPage(w http.ResponseWriter, r *http.Request, s session) {
	e, _, ok := lookup(c, w, r, s, "event", actionExplainEvent, c.opts.Store.GetEvent, func(e store.Event) string { return e.ConnectionID })
	if !ok {
		return
	}
	var ev providers.Event
	if err := json.Unmarshal(e.Normalized, &ev); err != nil {
		c.unavailable(w, "explain", fmt.Errorf("decode event %s: %w", e.ID, err))
		return
	}
	v := explainView{Event: e, Verdicts: c.opts.Pipelines.Explain(e.ConnectionID, &ev)}
	v.frame = c.frame("Why event "+e.ID+" did or did not trigger", s)
	c.render(w, http.StatusOK, "explain.html", v)
}

type deliveryRecord struct {
	store.Delivery
	attempts []store.Attempt
}

func (c *Console) getDelivery(ctx context.Context, id string) (deliveryRecord, error) {
	d, as, err := c.opts.Store.GetDelivery(ctx, id)
	return deliveryRecord{d, as}, err
}

type deliveryView struct {
	frame
	Delivery      store.Delivery
	ConnectionARN string
	Attempts      []attemptRow
	CanRedeliver  bool
	CanDiscard    bool
}

type attemptRow struct {
	store.Attempt
	Tail string // the end of the output, the part that says what failed
}

// outputTail bounds the output shown per attempt.
const outputTail = 4096

func (c *Console) deliveryPage(w http.ResponseWriter, r *http.Request, s session) {
	d, arn, ok := lookup(c, w, r, s, "delivery", actionGetDelivery, c.getDelivery, func(d deliveryRecord) string { return d.ConnectionID })
	if !ok {
		return
	}
	v := deliveryView{Delivery: d.Delivery, ConnectionARN: arn,
		CanRedeliver: redeliverable(d.State) && c.allowed(s, actionRedeliver, arn),
		CanDiscard:   discardable(d.State) && c.allowed(s, actionDiscard, arn)}
	for _, a := range d.attempts {
		v.Attempts = append(v.Attempts, attemptRow{Attempt: a, Tail: outputEnd(a.Output)})
	}
	v.frame = c.frame("Delivery "+d.ID, s)
	c.render(w, http.StatusOK, "delivery.html", v)
}

// outputEnd is the last outputTail bytes of s.
func outputEnd(s string) string {
	if len(s) <= outputTail {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	return "…" + strings.ToValidUTF8(s[len(s)-outputTail:], "")
}

// The states the stores allow each change from.
func redeliverable(state string) bool {
	return state != store.DeliveryPending && state != store.DeliveryLeased
}

func discardable(state string) bool {
	return state == store.DeliveryPending || state == store.DeliveryDead
}

func (c *Console) redeliver(w http.ResponseWriter, r *http.Request, s session) {
	c.changeDelivery(w, r, s, actionRedeliver, c.opts.Store.Redeliver, "redelivered", c.opts.DeliveriesChanged)
}

func (c *Console) discard(w http.ResponseWriter, r *http.Request, s session) {
	c.changeDelivery(w, r, s, actionDiscard, c.opts.Store.Discard, "discarded", func() {})
}

// changeDelivery applies a state change the key may make, then returns to
// the delivery's page.
func (c *Console) changeDelivery(w http.ResponseWriter, r *http.Request, s session, action string,
	change func(context.Context, string) error, done string, after func()) {
	d, _, ok := lookup(c, w, r, s, "delivery", action, c.getDelivery, func(d deliveryRecord) string { return d.ConnectionID })
	if !ok {
		return
	}
	err := change(r.Context(), d.ID)
	switch {
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrNotFound):
		c.message(w, http.StatusConflict, "Nothing done", "The delivery could not be "+done+" in its present state; nothing was done.",
			"deliveries/"+url.PathEscape(d.ID))
		return
	case err != nil:
		c.unavailable(w, "delivery", err)
		return
	}
	after()
	c.opts.Log.Info("console delivery "+done, zap.String("delivery_id", d.ID), zap.String("pipeline", d.Pipeline),
		zap.String("access_key_id", s.Key))
	c.redirect(w, r, "deliveries/"+url.PathEscape(d.ID))
}
