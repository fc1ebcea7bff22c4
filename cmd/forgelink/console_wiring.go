package main

import (
	"fmt"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/relay/console"
	"github.com/forgelink/forgelink/relay/keyring"
	"github.com/forgelink/forgelink/relay/policy"
)

// consoleAction is what a configured access key's policy must allow for the
// key to sign in to the console: the right to mint a console link, which
// signs in anyway. The root key always may. Signed in, the console shows
// and does only what the key's policy allows.
const consoleAction = "forgelink:CreateConsoleLink"

// newConsole builds the web console. setup starts browser set-ups; pl
// explains events and is woken by redeliveries. Webhook secret reveals
// go to the "audit" logger.
func newConsole(cfg *config.Config, st console.Store, kr *keyring.Keyring, setup console.Setup, auth *policy.Authorizer, pl *pipelines, log *zap.Logger) (*console.Console, error) {
	var sessions console.Authorizer
	if !cfg.Authless() {
		sessions = auth
	}
	con, err := console.New(console.Options{
		Store:   st,
		Keyring: kr,
		Setup:   setup,
		Log:     log,
		Audit:   log.Named("audit"),
		// The configuration a reload installs is explained, as by the API.
		Pipelines:         pl,
		DeliveriesChanged: pl.engine.Wake,
		Credentials: func(id string) (string, bool) {
			if auth.Authorize(id, policy.Request{Action: consoleAction, Resource: "*"}) != policy.Allowed {
				return "", false
			}
			return cfg.SecretAccessKey(id)
		},
		Authorizer: sessions,
		Open:       cfg.Authless(),
		PublicURL:  cfg.PublicURL,
		AccountID:  cfg.AccountID,
	})
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	return con, nil
}
