package setup

import (
	"context"
	"encoding/json"
	"fmt"

	"golang.org/x/oauth2"

	"github.com/forgelink/forgelink/store"
)

// ConnectionSetupURL returns a set-up link for a connection (valid for
// StateTTL, single use): it leads to the provider's App installation or
// OAuth authorization page, and back to a callback that makes the
// connection AVAILABLE. Each call makes a new link. A provider forgelink
// has no app for is refused with an *InputError saying what to configure.
func (s *Service) ConnectionSetupURL(ctx context.Context, connID string) (string, error) {
	conn, err := s.opts.Store.GetConnection(ctx, connID)
	if err != nil {
		return "", err
	}
	st := state{Purpose: purposeConnection, Resource: conn.ID}
	// Checked now, so that the operator learns what is missing before
	// following the link. A host sent back to PENDING has an app
	// registered for its old endpoint.
	if err := s.requireHostAvailable(ctx, conn); err != nil {
		return "", err
	}
	if isGitHub(conn.ProviderType) {
		_, err = s.installApp(ctx, conn)
	} else {
		var t oauthTarget
		t, err = s.oauthTarget(ctx, conn)
		if t.pkce {
			st.Verifier = oauth2.GenerateVerifier()
		}
	}
	if err != nil {
		return "", err
	}
	return s.newLink(ctx, st)
}

func (s *Service) requireHostAvailable(ctx context.Context, conn store.Connection) error {
	if conn.HostID == "" {
		return nil
	}
	host, err := s.opts.Store.GetHost(ctx, conn.HostID)
	if err != nil {
		return err
	}
	if host.Status != store.StatusAvailable {
		return inputError("host %s is %s: set the host up first (`forgelink hosts setup`)", host.Name, host.Status)
	}
	return nil
}

// sealJSON seals v's JSON under the record id.
func (s *Service) sealJSON(v any, id string) []byte {
	plain, _ := json.Marshal(v) // strings, numbers and bytes: cannot fail
	return s.opts.Keyring.Seal(plain, []byte(id))
}

// openJSON opens a value made by sealJSON into v.
func (s *Service) openJSON(sealed []byte, id string, v any) error {
	plain, err := s.opts.Keyring.Open(sealed, []byte(id))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return fmt.Errorf("sealed value: %w", err)
	}
	return nil
}
