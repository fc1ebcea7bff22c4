package hookreg

import (
	"context"
	"fmt"
	"time"

	"github.com/forgelink/forgelink/store"
)

// SecretStore reads a connection's sealed webhook secrets.
type SecretStore interface {
	WebhookSecrets(ctx context.Context, connID string, now time.Time) ([]store.WebhookSecret, error)
}

// Opener opens sealed secrets (relay/keyring); the connection id is the
// associated data.
type Opener interface {
	Open(sealed, associated []byte) ([]byte, error)
}

// CurrentSecret returns an Options.Secret that reads the connection's
// current webhook secret from s and opens it with kr.
func CurrentSecret(s SecretStore, kr Opener, now func() time.Time) func(ctx context.Context, connID string) (string, time.Time, error) {
	return func(ctx context.Context, connID string) (string, time.Time, error) {
		secrets, err := s.WebhookSecrets(ctx, connID, now())
		if err != nil {
			return "", time.Time{}, err
		}
		if len(secrets) == 0 {
			return "", time.Time{}, fmt.Errorf("connection %s has no valid webhook secret", connID)
		}
		plain, err := kr.Open(secrets[0].Sealed, []byte(connID))
		if err != nil {
			return "", time.Time{}, fmt.Errorf("open webhook secret of %s: %w", connID, err)
		}
		return string(plain), secrets[0].CreatedAt, nil
	}
}
