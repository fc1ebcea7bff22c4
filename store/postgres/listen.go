package postgres

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// deliveriesChannel is notified by migration 0010's trigger when a
// delivery becomes pending.
const deliveriesChannel = "forgelink_deliveries"

// listenRetry is how long a lost listening connection waits before the
// next.
const listenRetry = time.Second

// ListenDeliveries calls wake whenever a delivery becomes pending on any
// replica, once its transaction commits, until ctx ends. It holds one
// connection of the pool while it runs; when that connection is lost it
// wakes (a notification may have been missed) and listens again.
func (s *Store) ListenDeliveries(ctx context.Context, wake func()) {
	for {
		err := s.listen(ctx, wake)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("listen for deliveries; polling meanwhile", zap.Error(err))
		wake()
		select {
		case <-ctx.Done():
			return
		case <-time.After(listenRetry):
		}
	}
}

func (s *Store) listen(ctx context.Context, wake func()) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer func() {
		// A connection back in the pool must not go on listening.
		if !conn.Conn().IsClosed() {
			uctx, cancel := context.WithTimeout(context.Background(), time.Second)
			if _, err := conn.Exec(uctx, "UNLISTEN *"); err != nil {
				conn.Conn().Close(uctx)
			}
			cancel()
		}
		conn.Release()
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+deliveriesChannel); err != nil {
		return err
	}
	for {
		if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
			return err
		}
		wake()
	}
}
