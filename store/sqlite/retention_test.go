package sqlite_test

import (
	"testing"

	"github.com/forgelink/forgelink/store/storetest"
)

func TestRetentionConformance(t *testing.T) {
	storetest.RunRetention(t, func(t *testing.T) storetest.RetentionStore {
		return mustOpen(t, tempPath(t))
	})
}
