package postgres_test

import (
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/forgelink/forgelink/store/storetest"
)

func TestRecoveryConformance(t *testing.T) {
	storetest.RunRecovery(t, func(t *testing.T) storetest.RecoveryStore {
		s := mustOpen(t, newSchema(t), zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
		t.Cleanup(func() { mustClose(t, s) })
		return s
	})
}
