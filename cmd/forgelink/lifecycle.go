package main

import (
	"context"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/store"
)

// installationLifecycle acts on GitHub App installation events: a deleted
// or suspended installation puts its connection in ERROR, with the reason
// kept for GetConnection; completing the set-up again brings it back.
type installationLifecycle struct {
	store interface {
		SetConnectionStatus(ctx context.Context, id, status, reason string) error
	}
	changed func(connID string) // drops the ingress's cached connection
	log     *zap.Logger
}

func (l installationLifecycle) InstallationChanged(ctx context.Context, conn store.Connection, inst providers.Installation) {
	var reason string
	switch inst.Action {
	case providers.InstallDeleted:
		reason = "the GitHub App installation was deleted; complete the connection set-up again"
	case providers.InstallSuspended:
		reason = "the GitHub App installation was suspended; unsuspend it and complete the connection set-up again"
	default:
		return
	}
	if err := l.store.SetConnectionStatus(context.WithoutCancel(ctx), conn.ID, store.StatusError, reason); err != nil {
		l.log.Error("set connection status", zap.String("connection_id", conn.ID), zap.Error(err))
		return
	}
	l.changed(conn.ID)
	l.log.Warn("connection in ERROR", zap.String("connection_id", conn.ID), zap.Int64("installation_id", inst.ID), zap.String("reason", reason))
}
