package main

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/store"
)

// connectionReader is what connectionARNs needs from the store.
type connectionReader interface {
	GetConnection(ctx context.Context, id string) (store.Connection, error)
}

// arnLookupTimeout bounds the one store read per connection of
// connectionARNs.
const arnLookupTimeout = 5 * time.Second

// connectionARNs names connections by id for logs and deliveries: each
// its own ARN, in its home region and with the service prefix it was
// created with. Neither ever changes, so each connection is read once. A
// connection that cannot be read is named in the codeconnections form of
// the default region, as before regions were kept.
func connectionARNs(cfg *config.Config, st connectionReader, log *zap.Logger) func(id string) string {
	var known sync.Map
	fallback := "arn:aws:" + store.ServiceCodeConnections + ":" + cfg.Region + ":" + cfg.AccountID + ":connection/"
	return func(id string) string {
		if arn, ok := known.Load(id); ok {
			return arn.(string)
		}
		// The callers (routing, ingress log lines) carry no context.
		ctx, cancel := context.WithTimeout(context.Background(), arnLookupTimeout)
		defer cancel()
		c, err := st.GetConnection(ctx, id)
		if err != nil {
			log.Debug("connection ARN in the default form", zap.String("connection_id", id), zap.Error(err))
			return fallback + id
		}
		service := c.Service
		if service == "" {
			service = store.ServiceCodeConnections
		}
		arn := "arn:aws:" + service + ":" + c.Region + ":" + cfg.AccountID + ":connection/" + c.ID
		known.Store(id, arn)
		return arn
	}
}
