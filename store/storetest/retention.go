package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/store"
)

// RetentionStore is a Store that prunes old events (relay/retention).
type RetentionStore interface {
	Store
	PruneEvents(ctx context.Context, req store.PruneRequest) (store.PruneResult, error)
	StoreUsage(ctx context.Context) (store.Usage, error)
}

// RunRetention runs the retention cases: open must return a new, empty
// store on every call; RunRetention closes it.
func RunRetention(t *testing.T, open func(t *testing.T) RetentionStore) {
	fresh := func(t *testing.T) *retentionFixture {
		t.Helper()
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return &retentionFixture{t: t, s: s, conn: mustCreateConnection(t, s, newConnection("ci")).ID}
	}
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, f *retentionFixture)
	}{
		{"PruneByAge", testPruneByAge},
		{"PruneKeepsOpenWork", testPruneKeepsOpenWork},
		{"PruneDead", testPruneDead},
		{"PruneBySize", testPruneBySize},
		{"PruneRefusesEmptyRequest", testPruneRefusesEmptyRequest},
		{"StoreUsage", testStoreUsage},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, fresh(t)) })
	}
}

// Ages of the suite's events, relative to the real clock: stores stamp
// delivery updates with it.
var (
	retentionNow = time.Now().UTC()
	oldTime      = retentionNow.Add(-40 * 24 * time.Hour)
	cutoff       = retentionNow.Add(-30 * 24 * time.Hour)
	recentTime   = retentionNow.Add(-time.Hour)
)

type retentionFixture struct {
	t       *testing.T
	s       RetentionStore
	conn    string
	targets int
}

// EventIDAt returns a UUID v7 of time at, as ingress gives the event it
// receives then: retention finds old events by their ids.
func EventIDAt(at time.Time) string {
	id, err := store.NewEventID(at)
	if err != nil {
		panic(err) // only when the system has no randomness
	}
	return id
}

// record records an event received at at, routed to one delivery per
// state in states, and brings each delivery to its state (pending,
// leased, succeeded, dead). Each event has a target of its own, so claims
// for one never take another's deliveries.
func (f *retentionFixture) record(at time.Time, states ...string) store.Event {
	f.t.Helper()
	f.targets++
	target := fmt.Sprintf("t%d", f.targets)
	e := newEvent(f.conn, uuid.NewString())
	e.ID, e.ReceivedAt, e.Routed = EventIDAt(at), at, true
	e.Body = make([]byte, 4096)
	rand.Read(e.Body) // incompressible: PostgreSQL counts stored sizes
	for i := range states {
		e.Deliveries = append(e.Deliveries, newDelivery(e, route{fmt.Sprintf("p%d", i), target, modeParallel}, "main"))
	}
	mustRecordEvent(f.t, f.s, e)
	ctx := f.t.Context()
	claimed, err := f.s.ClaimDeliveries(ctx, store.ClaimRequest{Owner: "w", Now: time.Now(), Lease: lease, Limits: map[string]int{target: len(states)}})
	if err != nil || len(claimed) != len(states) {
		f.t.Fatalf("claim %s: %d deliveries, %v; want %d", target, len(claimed), err, len(states))
	}
	byID := map[string]store.Delivery{}
	for _, d := range claimed {
		byID[d.ID] = d
	}
	var results []store.AttemptResult
	for i, d := range e.Deliveries {
		switch states[i] {
		case store.DeliveryLeased:
		case store.DeliveryPending:
			results = append(results, result(byID[d.ID], store.DeliveryPending, time.Now().Add(time.Hour)))
		default:
			results = append(results, result(byID[d.ID], states[i], time.Time{}))
		}
	}
	if len(results) > 0 {
		if err := f.s.CompleteAttempts(ctx, results); err != nil {
			f.t.Fatalf("CompleteAttempts: %v", err)
		}
	}
	return e
}

// recordEvent records e as it is (held or unrouted events).
func (f *retentionFixture) recordEvent(e store.Event) store.Event {
	f.t.Helper()
	return mustRecordEvent(f.t, f.s, e)
}

func (f *retentionFixture) prune(req store.PruneRequest) store.PruneResult {
	f.t.Helper()
	if req.Limit == 0 {
		req.Limit = 500
	}
	res, err := f.s.PruneEvents(f.t.Context(), req)
	if err != nil {
		f.t.Fatalf("PruneEvents(%+v): %v", req, err)
	}
	return res
}

// snapshot is an event as stored, with its deliveries and their attempts.
type snapshot struct {
	event      store.Event
	deliveries []store.Delivery
	attempts   [][]store.Attempt
}

func (f *retentionFixture) snapshot(id string) (snapshot, error) {
	ctx := f.t.Context()
	e, err := f.s.GetEvent(ctx, id)
	if err != nil {
		return snapshot{}, err
	}
	ds, err := f.s.ListDeliveries(ctx, store.DeliveryFilter{EventID: id}, store.Page{Limit: 100})
	if err != nil {
		f.t.Fatalf("ListDeliveries(%s): %v", id, err)
	}
	sn := snapshot{event: e, deliveries: ds}
	for _, d := range ds {
		_, as, err := f.s.GetDelivery(ctx, d.ID)
		if err != nil {
			f.t.Fatalf("GetDelivery(%s): %v", d.ID, err)
		}
		sn.attempts = append(sn.attempts, as)
	}
	return sn, nil
}

// snapshots reads events es as stored.
func (f *retentionFixture) snapshots(es ...store.Event) map[string]snapshot {
	f.t.Helper()
	all := map[string]snapshot{}
	for _, e := range es {
		sn, err := f.snapshot(e.ID)
		if err != nil {
			f.t.Fatalf("event %s: %v", e.ID, err)
		}
		all[e.ID] = sn
	}
	return all
}

// checkKept fails unless every event of before is stored exactly as it was.
func (f *retentionFixture) checkKept(before map[string]snapshot) {
	f.t.Helper()
	for id, want := range before {
		got, err := f.snapshot(id)
		if err != nil {
			f.t.Errorf("kept event %s: %v", id, err)
			continue
		}
		checkEvent(f.t, got.event, want.event)
		if !reflect.DeepEqual(got.deliveries, want.deliveries) || !reflect.DeepEqual(got.attempts, want.attempts) {
			f.t.Errorf("kept event %s: deliveries or attempts changed:\n got %+v\nwant %+v", id, got, want)
		}
	}
}

// checkPruned fails unless events es, their deliveries and attempts are gone.
func (f *retentionFixture) checkPruned(es ...store.Event) {
	f.t.Helper()
	ctx := f.t.Context()
	for _, e := range es {
		if _, err := f.s.GetEvent(ctx, e.ID); !errors.Is(err, store.ErrNotFound) {
			f.t.Errorf("pruned event %s: GetEvent = %v, want ErrNotFound", e.ID, err)
		}
		for _, d := range e.Deliveries {
			if _, as, err := f.s.GetDelivery(ctx, d.ID); !errors.Is(err, store.ErrNotFound) || len(as) > 0 {
				f.t.Errorf("delivery %s of pruned event: %d attempts, %v; want ErrNotFound", d.ID, len(as), err)
			}
		}
	}
}

func testPruneByAge(t *testing.T, f *retentionFixture) {
	skewed := newEvent(f.conn, uuid.NewString()) // its id made now, far from its receipt
	skewed.ReceivedAt, skewed.Routed = oldTime, true
	old := []store.Event{
		f.record(oldTime, store.DeliverySucceeded, store.DeliverySucceeded),
		f.record(oldTime.Add(time.Minute)), // routed to no pipeline
		f.record(oldTime.Add(2*time.Minute), store.DeliverySucceeded),
		f.recordEvent(skewed),
	}
	kept := f.snapshots(
		f.record(cutoff.Add(time.Second), store.DeliverySucceeded), // just younger than the limit
		f.record(recentTime, store.DeliverySucceeded),
	)
	res := f.prune(store.PruneRequest{Before: cutoff})
	want := store.PruneResult{Events: 4, Deliveries: 3, Attempts: 3, Bytes: res.Bytes, Last: skewed.ID}
	if res != want || res.Bytes < 3*4096 {
		t.Errorf("PruneEvents = %+v, want %+v with at least %d bytes", res, want, 3*4096)
	}
	f.checkPruned(old...)
	f.checkKept(kept)
	if again := f.prune(store.PruneRequest{Before: cutoff}); again != (store.PruneResult{}) {
		t.Errorf("second PruneEvents = %+v, want nothing", again)
	}
	if _, err := f.s.GetConnection(t.Context(), f.conn); err != nil {
		t.Errorf("connection after pruning: %v", err)
	}
}

func testPruneKeepsOpenWork(t *testing.T, f *retentionFixture) {
	held := newEvent(f.conn, uuid.NewString())
	held.ID, held.ReceivedAt, held.Held = EventIDAt(oldTime), oldTime, true
	unrouted := newEvent(f.conn, uuid.NewString())
	unrouted.ID, unrouted.ReceivedAt = EventIDAt(oldTime), oldTime
	kept := f.snapshots(
		f.record(oldTime, store.DeliverySucceeded, store.DeliveryPending),
		f.record(oldTime, store.DeliveryLeased),
		f.record(oldTime, store.DeliverySucceeded, store.DeliveryDead),
		f.recordEvent(held),
		f.recordEvent(unrouted),
	)
	prunable := f.record(oldTime.Add(time.Minute), store.DeliverySucceeded)
	// Limit 1: the kept events come first in id order and must not use up
	// the batch.
	res := f.prune(store.PruneRequest{Before: cutoff, DeadBefore: time.Now().Add(-time.Hour), Limit: 1})
	if res.Events != 1 || res.Last != prunable.ID {
		t.Errorf("PruneEvents = %+v, want the one prunable event %s", res, prunable.ID)
	}
	f.checkPruned(prunable)
	f.checkKept(kept)
	if res := f.prune(store.PruneRequest{BySize: true}); res.Events != 0 {
		t.Errorf("PruneEvents by size = %+v, want nothing: every event left has open work", res)
	}
	f.checkKept(kept)
}

func testPruneDead(t *testing.T, f *retentionFixture) {
	dead := f.record(oldTime, store.DeliverySucceeded, store.DeliveryDead)
	kept := f.snapshots(dead)
	for _, deadBefore := range []time.Time{{}, time.Now().Add(-time.Hour)} {
		if res := f.prune(store.PruneRequest{Before: cutoff, DeadBefore: deadBefore}); res.Events != 0 {
			t.Errorf("PruneEvents with DeadBefore %v = %+v, want the dead delivery's event kept", deadBefore, res)
		}
	}
	f.checkKept(kept)
	res := f.prune(store.PruneRequest{Before: cutoff, DeadBefore: time.Now().Add(time.Hour)})
	if res.Events != 1 || res.Deliveries != 2 || res.Attempts != 2 {
		t.Errorf("PruneEvents past the dead delivery's age = %+v, want its event, 2 deliveries, 2 attempts", res)
	}
	f.checkPruned(dead)
}

func testPruneBySize(t *testing.T, f *retentionFixture) {
	var done []store.Event
	for i := range 4 {
		done = append(done, f.record(recentTime.Add(time.Duration(i)*time.Second), store.DeliverySucceeded))
	}
	open := f.record(recentTime.Add(-time.Minute), store.DeliveryPending) // the oldest, but pending
	kept := f.snapshots(append([]store.Event{open}, done[2:]...)...)
	// Recent events are not pruned by age.
	if res := f.prune(store.PruneRequest{Before: cutoff}); res.Events != 0 {
		t.Fatalf("PruneEvents by age = %+v, want nothing", res)
	}
	first := f.prune(store.PruneRequest{BySize: true, Limit: 1})
	second := f.prune(store.PruneRequest{BySize: true, Limit: 1, After: first.Last})
	if first.Last != done[0].ID || second.Last != done[1].ID {
		t.Errorf("pruned by size %s then %s, want the oldest finished events %s, %s", first.Last, second.Last, done[0].ID, done[1].ID)
	}
	f.checkPruned(done[:2]...)
	f.checkKept(kept)
}

func testPruneRefusesEmptyRequest(t *testing.T, f *retentionFixture) {
	e := f.record(oldTime, store.DeliverySucceeded)
	kept := f.snapshots(e)
	for _, req := range []store.PruneRequest{{Limit: 10}, {Before: cutoff}, {BySize: true, Limit: -1}} {
		if _, err := f.s.PruneEvents(t.Context(), req); !errors.Is(err, store.ErrNotPrunable) {
			t.Errorf("PruneEvents(%+v) = %v, want ErrNotPrunable", req, err)
		}
	}
	f.checkKept(kept)
}

func testStoreUsage(t *testing.T, f *retentionFixture) {
	ctx := t.Context()
	empty, err := f.s.StoreUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var es []store.Event
	for i := range 40 {
		e := f.record(oldTime.Add(time.Duration(i)*time.Second), store.DeliverySucceeded)
		es = append(es, e)
	}
	full, err := f.s.StoreUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if full.Events != empty.Events+40 || full.Bytes < empty.Bytes+40*4096 {
		t.Errorf("usage after 40 events of 4 KiB = %+v, from %+v: want 40 more events and at least 160 KiB more", full, empty)
	}
	res := f.prune(store.PruneRequest{Before: cutoff})
	after, err := f.s.StoreUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != 40 || after.Events != empty.Events || after.Bytes > full.Bytes-res.Bytes/2 {
		t.Errorf("usage after pruning %+v = %+v, from %+v: want the events gone and most of their bytes", res, after, full)
	}
	if slices.ContainsFunc(es, func(e store.Event) bool { _, err := f.s.GetEvent(ctx, e.ID); return err == nil }) {
		t.Error("an event is still stored")
	}
}
