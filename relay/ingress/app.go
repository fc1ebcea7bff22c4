package ingress

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
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
	done, err := h.admit(w, r)
	defer done()
	var (
		results []appEventResult
		d       delivery
	)
	if err == nil {
		results, d, err = h.receiveApp(w, r)
	}
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

func (h *Handler) receiveApp(w http.ResponseWriter, r *http.Request) ([]appEventResult, delivery, error) {
	d := delivery{provider: h.opts.AppProvider}
	app, err := h.appSecret(r.Context(), r.PathValue("app"))
	if err != nil {
		return nil, d, err
	}
	d.deliveryID = d.provider.DeliveryID(r.Header)
	// An App's deliveries share one share of the budget, as a
	// connection's do.
	res := &reservation{b: h.budget, key: "github-app/" + r.PathValue("app")}
	defer res.release()
	if d.body, err = h.readBody(w, r, res); err != nil {
		return nil, d, err
	}
	if err := d.provider.Verify(r.Header, d.body, [][]byte{app.secret}); err != nil {
		return nil, d, refuse(http.StatusUnauthorized, outcomeBadSignature, "%v", err)
	}
	ev, err := d.provider.Parse(r.Header, d.body)
	if err != nil {
		return nil, d, refuse(http.StatusBadRequest, outcomeMalformed, "%v", err)
	}
	if d.deliveryID == "" {
		return nil, d, refuse(http.StatusBadRequest, outcomeMalformed, "no delivery id header: cannot de-duplicate")
	}
	conns, err := h.appConnections(r.Context(), app, d.body)
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

// githubApp is the App a delivery's URL names.
type githubApp struct {
	id     int64
	secret []byte
	// hostID is the App's host: "" for github.com (every configured App,
	// which completes github.com connections), a GHES host's id for the
	// App registered on it. App and installation ids are unique only on
	// one host.
	hostID string
	// regions: a configured App's home regions; empty: every region.
	regions []string
}

// appSecret finds the App of /webhooks/github-app/{app}: a configured
// App by its numeric id, or one forgelink registered by its key.
func (h *Handler) appSecret(ctx context.Context, key string) (githubApp, error) {
	unknown := refuse(http.StatusNotFound, outcomeUnknownConnection, "no such GitHub App")
	if h.opts.AppProvider == nil {
		return githubApp{}, unknown
	}
	if id, err := strconv.ParseInt(key, 10, 64); err == nil {
		if secret := h.opts.GitHubApps[id]; secret != nil {
			return githubApp{id: id, secret: secret, regions: h.opts.GitHubAppRegions[id]}, nil
		}
		return githubApp{}, unknown
	}
	if h.opts.RegisteredApps == nil {
		return githubApp{}, unknown
	}
	id, hostID, secret, err := h.opts.RegisteredApps.GitHubAppSecret(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return githubApp{}, unknown
	case err != nil:
		return githubApp{}, fmt.Errorf("github app %q: %w", truncate(key, 64), err)
	}
	return githubApp{id: id, secret: secret, hostID: hostID}, nil
}

// appConnections finds the connections of the delivery's installation.
func (h *Handler) appConnections(ctx context.Context, app githubApp, body []byte) ([]store.Connection, error) {
	installationID, err := h.opts.AppProvider.InstallationID(body)
	if errors.Is(err, providers.ErrMalformed) {
		return nil, refuse(http.StatusBadRequest, outcomeMalformed, "%v", err)
	}
	if err != nil || installationID == 0 {
		return nil, err
	}
	conns, err := h.opts.Store.ConnectionsByInstallation(ctx, app.id, installationID)
	if err != nil {
		return nil, err
	}
	// github.com and two GHES hosts can each have an App 1 with an
	// installation 1: a delivery belongs only to its App's host.
	return slices.DeleteFunc(conns, func(c store.Connection) bool { return !app.serves(c) }), nil
}

// serves reports whether conn is of the App's host and, for an App of
// some regions only, homed in one of them: another region's connection
// never receives its deliveries.
func (a githubApp) serves(conn store.Connection) bool {
	if len(a.regions) > 0 && !slices.Contains(a.regions, conn.Region) {
		return false
	}
	if a.hostID == "" {
		return conn.ProviderType == store.ProviderGitHub && conn.HostID == ""
	}
	return conn.ProviderType == store.ProviderGitHubEnterpriseServer && conn.HostID == a.hostID
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
