package postgres_test

import (
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/forgelink/forgelink/store/storetest"
)

func TestRetentionConformance(t *testing.T) {
	storetest.RunRetention(t, func(t *testing.T) storetest.RetentionStore {
		return mustOpen(t, newSchema(t), zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	})
}
