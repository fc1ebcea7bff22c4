package ingress

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/store"
)

// outcomeUnattributed: a verified App delivery whose installation completes
// no connection (yet): answered 202, recorded nowhere.
const outcomeUnattributed = "unattributed"

type appEventResult struct {
	ConnectionID string `json:"connectionId"`
	Status       string `json:"status"`
	EventID      string `json:"eventId,omitempty"`
}

// ServeGitHubApp serves POST /webhooks/github-app/{app}: a GitHub App's
// deliveries, which arrive at one URL for all its installations. Each is
// verified with the App's secret and recorded for every connection that the
// delivery's installation completed.
func (h *Handler) ServeGitHubApp(w http.ResponseWriter, r *http.Request) {
	start := h.opts.Now()
	results, d, err := h.receiveApp(r)
	outcome := outcomeOf(err)
	if err == nil {
		outcome = appOutcome(results)
	}
	h.opts.Metrics.observe(store.ProviderGitHub, "github-app", outcome, h.opts.Now().Sub(start))
	if err != nil {
		h.answerError(w, d, err)
		return
	}
	if outcome == outcomeUnattributed {
		h.opts.Log.Info("github app delivery for an installation without connections", zap.String("delivery_id", truncate(d.deliveryID, 128)))
	}
	status := http.StatusAccepted
	if outcome == outcomeDuplicate {
		status = http.StatusOK
	}
	writeJSON(w, status, map[string]any{"status": outcome, "events": results})
}

func (h *Handler) receiveApp(r *http.Request) ([]appEventResult, delivery, error) {
	d := delivery{provider: h.opts.AppProvider}
	appID, secret, err := h.appSecret(r.PathValue("app"))
	if err != nil {
		return nil, d, err
	}
	d.deliveryID = d.provider.DeliveryID(r.Header)
	if d.body, err = h.readBody(r); err != nil {
		return nil, d, err
	}
	if err := d.provider.Verify(r.Header, d.body, [][]byte{secret}); err != nil {
		return nil, d, refuse(http.StatusUnauthorized, outcomeBadSignature, "%v", err)
	}
	ev, err := d.provider.Parse(r.Header, d.body)
	if err != nil {
		return nil, d, refuse(http.StatusBadRequest, outcomeMalformed, "%v", err)
	}
	if d.deliveryID == "" {
		return nil, d, refuse(http.StatusBadRequest, outcomeMalformed, "no delivery id header: cannot de-duplicate")
	}
	conns, err := h.appConnections(r.Context(), appID, d.body)
	if err != nil {
		return nil, d, err
	}
	results := make([]appEventResult, 0, len(conns))
	for _, conn := range conns {
		d.conn = conn
		_, outcome, id, err := h.record(r.Context(), d, r.Header, ev)
		if err != nil {
			return nil, d, err
		}
		results = append(results, appEventResult{ConnectionID: conn.ID, Status: outcome, EventID: id})
	}
	return results, d, nil
}

func (h *Handler) appSecret(app string) (int64, []byte, error) {
	id, err := strconv.ParseInt(app, 10, 64)
	secret := h.opts.GitHubApps[id]
	if err != nil || secret == nil || h.opts.AppProvider == nil {
		return 0, nil, refuse(http.StatusNotFound, outcomeUnknownConnection, "no such GitHub App")
	}
	return id, secret, nil
}

// appConnections finds the connections of the delivery's installation.
func (h *Handler) appConnections(ctx context.Context, appID int64, body []byte) ([]store.Connection, error) {
	installationID, err := h.opts.AppProvider.InstallationID(body)
	if errors.Is(err, providers.ErrMalformed) {
		return nil, refuse(http.StatusBadRequest, outcomeMalformed, "%v", err)
	}
	if err != nil || installationID == 0 {
		return nil, err
	}
	return h.opts.Store.ConnectionsByInstallation(ctx, appID, installationID)
}

// appOutcome sums up per-connection outcomes: duplicate only if every
// connection had the delivery already.
func appOutcome(results []appEventResult) string {
	if len(results) == 0 {
		return outcomeUnattributed
	}
	for _, r := range results {
		if r.Status != outcomeDuplicate {
			return r.Status
		}
	}
	return outcomeDuplicate
}
