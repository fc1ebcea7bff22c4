package postgres_test

import (
	"context"
	"testing"
	"time"
)

// A delivery recorded on one replica wakes the other's listener once the
// event commits; so does a redelivery.
func TestListenDeliveries(t *testing.T) {
	f := newReplicas(t)
	woken := make(chan struct{}, 16)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.stores[1].ListenDeliveries(ctx, func() { woken <- struct{}{} })
	}()
	defer func() { cancel(); <-done }()

	// The listener may not be listening yet: push until it wakes.
	deadline := time.After(10 * time.Second)
	for listening := false; !listening; {
		f.push(t, f.stores[0], "build", "PARALLEL", "main", 1)
		select {
		case <-woken:
			listening = true
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatal("no wake-up for a delivery recorded on the other replica")
		}
	}
	for len(woken) > 0 {
		<-woken
	}
	ids := f.push(t, f.stores[0], "build", "PARALLEL", "main", 3)
	select {
	case <-woken:
	case <-time.After(5 * time.Second):
		t.Fatal("no wake-up for a delivery recorded on the other replica")
	}
	select {
	case <-woken:
		t.Error("woken twice for one transaction's deliveries")
	case <-time.After(100 * time.Millisecond):
	}
	if err := f.stores[0].Discard(t.Context(), ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := f.stores[0].Redeliver(t.Context(), ids[0]); err != nil {
		t.Fatal(err)
	}
	select {
	case <-woken:
	case <-time.After(5 * time.Second):
		t.Fatal("no wake-up for a redelivery")
	}
}
