package sqlite_test

import (
	"testing"

	"github.com/forgelink/forgelink/store/sqlite/sqlitetest"
	"github.com/forgelink/forgelink/store/storetest"
)

func TestRecoveryConformance(t *testing.T) {
	storetest.RunRecovery(t, func(t *testing.T) storetest.RecoveryStore { return sqlitetest.Open(t) })
}
