package postgres_test

import (
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/store"
)

func TestZZProbe(t *testing.T) {
	dsn := withSearchPath(t, serverDSN(), "t_probe")
	s := mustOpen(t, dsn, zap.NewNop())
	defer mustClose(t, s)
	f := &replicaFixture{}
	c := store.Connection{ID: uuid.NewString(), Name: "bench", ProviderType: store.ProviderGitHub, Region: "us-east-1", Status: store.StatusAvailable}
	if err := s.CreateConnection(t.Context(), c, nil, 0); err != nil {
		t.Fatal(err)
	}
	f.conn = c.ID
	for range 80 {
		f.push(t, s, "build", "PARALLEL", "main", 100)
	}
	start := time.Now()
	for done := 0; done < 4000; {
		t0 := time.Now()
		ds, err := s.ClaimDeliveries(t.Context(), store.ClaimRequest{Owner: "bench", Now: received.Add(time.Hour),
			Lease: time.Hour, Limits: map[string]int{"ci": 32}})
		if err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		if err := s.CompleteAttempts(t.Context(), succeeded("bench", ds)); err != nil {
			t.Fatal(err)
		}
		if done%640 == 0 {
			t.Logf("claim %v complete %v", t1.Sub(t0), time.Since(t1))
		}
		done += len(ds)
	}
	t.Logf("4000 in %v", time.Since(start))
	_ = os.Stdout
}
