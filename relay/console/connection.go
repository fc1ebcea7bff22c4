package console

import (
	"errors"
	"fmt"
	"net/http"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/relay/ingress"
	"github.com/forgelink/forgelink/store"
)

type connectionView struct {
	frame
	connectionRow
	CanSetup   bool
	WebhookURL string // only for a key that may GetConnectionWebhook
	Secret     string // only in the answer to the reveal button
	Hooks      []store.RegisteredHook
}

func (c *Console) connectionPage(w http.ResponseWriter, r *http.Request, s session) {
	if v, ok := c.connectionData(w, r, s, actionGetConnection); ok {
		c.render(w, http.StatusOK, "connection.html", v)
	}
}

// revealSecret shows the connection's current webhook secret, to a key
// that may GetConnectionWebhook, once per click: the answer is not cached
// and each reveal is audited (never the secret itself).
func (c *Console) revealSecret(w http.ResponseWriter, r *http.Request, s session) {
	v, ok := c.connectionData(w, r, s, actionGetWebhook)
	if !ok {
		return
	}
	secret, err := c.webhookSecret(r, v.Connection)
	if err != nil {
		c.unavailable(w, "webhook secret", err)
		return
	}
	c.opts.Audit.Info("console webhook secret revealed", zap.String("access_key_id", s.Key), zap.String("subject", s.Subject),
		zap.String("connection_arn", v.ARN))
	v.Secret = secret
	c.render(w, http.StatusOK, "connection.html", v)
}

func (c *Console) webhookSecret(r *http.Request, conn store.Connection) (string, error) {
	secrets, err := c.opts.Store.WebhookSecrets(r.Context(), conn.ID, c.opts.Now())
	if err != nil {
		return "", err
	}
	if len(secrets) == 0 {
		return "", errors.New("no valid webhook secret")
	}
	secret, err := c.opts.Keyring.Open(secrets[0].Sealed, []byte(conn.ID))
	if err != nil {
		return "", fmt.Errorf("open webhook secret of %s: %w", conn.ID, err)
	}
	return string(secret), nil
}

// connectionData reads a connection the key may do action on (and may
// Get), with what else its key may see of it.
func (c *Console) connectionData(w http.ResponseWriter, r *http.Request, s session, action string) (connectionView, bool) {
	conn, arn, ok := lookup(c, w, r, s, "connection", actionGetConnection, c.opts.Store.GetConnection, func(c store.Connection) string { return c.ID })
	if !ok {
		return connectionView{}, false
	}
	if !c.allowed(s, action, arn) {
		c.refuse(w, s, "connection", conn.ID, action)
		return connectionView{}, false
	}
	v := connectionView{CanSetup: c.opts.Setup != nil}
	v.connectionRow = connectionRow{Connection: conn, ARN: arn,
		SetupAction: c.setupAction(v.CanSetup && c.allowed(s, connectionSetupAction(conn.ProviderType), arn), "connections", conn.ID, conn.Status)}
	if c.allowed(s, actionGetWebhook, arn) {
		v.WebhookURL = c.public + ingress.WebhookPath(c.opts.Keyring, conn.ID)
	}
	hooks, err := c.opts.Store.RegisteredHooks(r.Context(), conn.ID)
	if err != nil {
		c.unavailable(w, "connection", err)
		return v, false
	}
	v.Hooks = hooks
	v.frame = c.frame("Connection "+conn.Name, s)
	return v, true
}
