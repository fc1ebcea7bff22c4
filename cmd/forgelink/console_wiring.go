package main

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/relay/console"
	"github.com/forgelink/forgelink/relay/controlplane"
	"github.com/forgelink/forgelink/relay/keyring"
	"github.com/forgelink/forgelink/relay/policy"
)

// consoleAction is what a configured access key's policy must allow for the
// key to sign in to the console: the right to mint a console link, which
// signs in anyway. The root key always may.
const consoleAction = "codeconnections:CreateConsoleLink"

// newConsole builds the web console, or returns nil, logging why, when it
// cannot be served. setup starts browser set-ups; nil: none offered.
func newConsole(cfg *config.Config, st daemonStore, kr *keyring.Keyring, setup console.Setup, log *zap.Logger) *console.Console {
	// A store without single-use nonces cannot back login links.
	cs, ok := st.(console.Store)
	if !ok {
		log.Warn("the store keeps no single-use nonces: the web console is not served")
		return nil
	}
	auth := policy.NewAuthorizer(cfg.RootAccessKeyID, cfg.AccessPolicies())
	con, err := console.New(console.Options{
		Store:   cs,
		Keyring: kr,
		Setup:   setup,
		Log:     log,
		Credentials: func(id string) (string, bool) {
			if auth.Authorize(id, consoleAction, "*") != policy.Allowed {
				return "", false
			}
			return cfg.SecretAccessKey(id)
		},
		Open:      cfg.Authless(),
		PublicURL: cfg.PublicURL,
		AccountID: cfg.AccountID,
	})
	if err != nil {
		log.Error("the web console is not served", zap.Error(err))
		return nil
	}
	return con
}

// consoleLinks is what the control plane mints console links with: nil
// (CreateConsoleLink not offered) without a console.
func consoleLinks(con *console.Console) controlplane.ConsoleLinks {
	if con == nil {
		return nil
	}
	return con
}

// mountConsole serves the console under /console/.
func mountConsole(mux *http.ServeMux, con *console.Console) {
	if con != nil {
		mux.Handle("/console/", con)
	}
}
