package sqlite_test

import (
	"database/sql"
	"testing"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/storetest"
)

func TestRetentionConformance(t *testing.T) {
	storetest.RunRetention(t, func(t *testing.T) storetest.RetentionStore {
		return mustOpen(t, tempPath(t))
	})
}

func autoVacuum(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode int
	if err := db.QueryRow("PRAGMA auto_vacuum").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	return mode
}

// TestEnableIncrementalVacuum converts a database with records only when
// it is no larger than asked, and keeps every record.
func TestEnableIncrementalVacuum(t *testing.T) {
	path := tempPath(t)
	s := mustOpen(t, path)
	defer mustClose(t, s)
	ctx := t.Context()
	c := store.Connection{ID: uuid.NewString(), Name: "ci", ProviderType: store.ProviderGitHub, Region: "us-east-1", Status: store.StatusPending}
	if err := s.CreateConnection(ctx, c, nil, 0); err != nil {
		t.Fatal(err)
	}
	u, err := s.StoreUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if converted, err := s.EnableIncrementalVacuum(ctx, u.Bytes-1); err != nil || converted || autoVacuum(t, path) != 0 {
		t.Fatalf("EnableIncrementalVacuum below the database's size = %v, %v (mode %d); want it left alone", converted, err, autoVacuum(t, path))
	}
	for range 2 { // the second call finds it converted
		if converted, err := s.EnableIncrementalVacuum(ctx, u.Bytes); err != nil || !converted || autoVacuum(t, path) != 2 {
			t.Fatalf("EnableIncrementalVacuum = %v, %v (mode %d); want converted to incremental (2)", converted, err, autoVacuum(t, path))
		}
	}
	if got, err := s.GetConnection(ctx, c.ID); err != nil || got.Name != "ci" {
		t.Errorf("connection after the conversion: %+v, %v", got, err)
	}
	if free, err := s.ReclaimSpace(ctx); err != nil || free != 0 {
		t.Errorf("ReclaimSpace = %d, %v; want 0 free pages left", free, err)
	}
}
