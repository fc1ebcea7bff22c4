package storetest

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/store"
)

// Deliveries recorded with their event are due from the event's
// ReceivedAt, so claims at claimTime find them; routed ones are due from
// their CreatedAt. Every other time a claim sees is one the suite passed.
var claimTime = eventTime.Add(time.Hour)

// lease is the lease every claim of the suite asks for: longer than the
// waits of the tests that do not let leases expire on purpose.
const lease = time.Hour

// Execution modes, spelled as pipelines spell them.
const (
	modeQueued     = "QUEUED"
	modeSuperseded = "SUPERSEDED"
	modeParallel   = "PARALLEL"
)

// ciLimits lets target "ci" take more than any test gives it.
var ciLimits = map[string]int{"ci": 100}

// route is a pipeline as its deliveries record it.
type route struct{ pipeline, target, mode string }

// outcomes maps a delivery's next state to its attempt's outcome.
var outcomes = map[string]string{
	store.DeliverySucceeded: "succeeded",
	store.DeliveryDead:      "dead",
	store.DeliveryPending:   "retry",
	store.DeliveryFiltered:  "filtered",
}

// deliveryFixture records routed events on one connection and claims and
// completes their deliveries.
type deliveryFixture struct {
	t    *testing.T
	s    Store
	conn string
}

func newDeliveryFixture(t *testing.T, open opener) *deliveryFixture {
	t.Helper()
	s := open(t)
	return &deliveryFixture{t: t, s: s, conn: mustCreateConnection(t, s, newConnection("ci")).ID}
}

// newDelivery returns a delivery of e along r, as a router makes it.
func newDelivery(e store.Event, r route, branch string) store.Delivery {
	return store.Delivery{
		ID:           uuid.Must(uuid.NewV7()).String(),
		EventID:      e.ID,
		ConnectionID: e.ConnectionID,
		Pipeline:     r.pipeline,
		Target:       r.target,
		Mode:         r.mode,
		Branch:       branch,
		Message:      fmt.Appendf(nil, `{"event":%q,"pipeline":%q,"branch":%q}`, e.ID, r.pipeline, branch),
	}
}

// pending returns d as stored before its first attempt, due at due.
func pending(d store.Delivery, due time.Time) store.Delivery {
	d.State, d.NextAttemptAt = store.DeliveryPending, due
	return d
}

// push records a push to branch, received at eventTime and routed along
// rs, and returns its deliveries as stored.
func (f *deliveryFixture) push(branch string, rs ...route) []store.Delivery {
	f.t.Helper()
	return f.pushAt(eventTime, branch, rs...)
}

func (f *deliveryFixture) pushAt(at time.Time, branch string, rs ...route) []store.Delivery {
	f.t.Helper()
	e := newEvent(f.conn, uuid.NewString())
	e.ReceivedAt, e.Routed = at, true
	want := make([]store.Delivery, len(rs))
	for i, r := range rs {
		e.Deliveries = append(e.Deliveries, newDelivery(e, r, branch))
		want[i] = pending(e.Deliveries[i], at)
	}
	mustRecordEvent(f.t, f.s, e)
	return want
}

// claimAs claims as owner and checks that each claimed delivery is leased
// to owner and returned as stored. It returns them in id order.
func (f *deliveryFixture) claimAs(owner string, now time.Time, limits map[string]int) []store.Delivery {
	f.t.Helper()
	claimed, err := f.s.ClaimDeliveries(f.t.Context(), store.ClaimRequest{Owner: owner, Now: now, Lease: lease, Limits: limits})
	if err != nil {
		f.t.Fatalf("ClaimDeliveries(%s at %v, %v): %v", owner, now, limits, err)
	}
	slices.SortFunc(claimed, func(a, b store.Delivery) int { return strings.Compare(a.ID, b.ID) })
	for _, d := range claimed {
		if d.State != store.DeliveryLeased || d.LeaseOwner != owner || !d.LeaseUntil.Equal(now.Add(lease)) {
			f.t.Errorf("claimed delivery %s is %s by %q until %v; want leased by %q until %v",
				d.ID, d.State, d.LeaseOwner, d.LeaseUntil, owner, now.Add(lease))
		}
		stored, _ := f.get(d.ID)
		checkDelivery(f.t, d, stored)
	}
	return claimed
}

// claim claims as "worker" at now and checks that it gets exactly want.
func (f *deliveryFixture) claim(now time.Time, limits map[string]int, want ...store.Delivery) []store.Delivery {
	f.t.Helper()
	claimed := f.claimAs("worker", now, limits)
	if got, want := deliveryIDs(claimed), deliveryIDs(want); !slices.Equal(got, want) {
		f.t.Errorf("claim at %v with %v = %v, want %v", now, limits, got, want)
	}
	return claimed
}

// deliveryIDs returns the IDs of ds in id order.
func deliveryIDs(ds []store.Delivery) []string {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	slices.Sort(ids)
	return ids
}

// result completes the attempt of the leased delivery d with state.
func result(d store.Delivery, state string, next time.Time) store.AttemptResult {
	r := store.AttemptResult{
		Attempt: store.Attempt{
			DeliveryID: d.ID, N: d.Attempts, StartedAt: d.LeaseUntil.Add(-lease),
			Duration: time.Second, Outcome: outcomes[state],
		},
		LeaseOwner: d.LeaseOwner, State: state, NextAttemptAt: next,
	}
	if state != store.DeliverySucceeded {
		r.Error = "503 Service Unavailable"
	}
	return r
}

func (f *deliveryFixture) completeAll(rs ...store.AttemptResult) {
	f.t.Helper()
	if err := f.s.CompleteAttempts(f.t.Context(), rs); err != nil {
		f.t.Fatalf("CompleteAttempts: %v", err)
	}
}

// complete completes the current attempt of the leased delivery id.
func (f *deliveryFixture) complete(id, state string, next time.Time) {
	f.t.Helper()
	d, _ := f.get(id)
	f.completeAll(result(d, state, next))
}

func (f *deliveryFixture) get(id string) (store.Delivery, []store.Attempt) {
	f.t.Helper()
	d, attempts, err := f.s.GetDelivery(f.t.Context(), id)
	if err != nil {
		f.t.Fatalf("GetDelivery(%s): %v", id, err)
	}
	return d, attempts
}

func (f *deliveryFixture) checkState(d store.Delivery, want string) {
	f.t.Helper()
	if got, _ := f.get(d.ID); got.State != want {
		f.t.Errorf("delivery %s (%s) is %s, want %s", d.ID, d.Branch, got.State, want)
	}
}

// checkListed checks that ListDeliveries(filter) returns exactly want,
// and GetDelivery each of them.
func (f *deliveryFixture) checkListed(filter store.DeliveryFilter, want ...store.Delivery) {
	f.t.Helper()
	got, err := f.s.ListDeliveries(f.t.Context(), filter, store.Page{})
	if err != nil {
		f.t.Fatalf("ListDeliveries(%+v): %v", filter, err)
	}
	want = slices.Clone(want)
	slices.SortFunc(want, func(a, b store.Delivery) int { return strings.Compare(a.ID, b.ID) })
	if len(got) != len(want) {
		f.t.Fatalf("ListDeliveries(%+v) = %v, want %v", filter, deliveryIDs(got), deliveryIDs(want))
	}
	for i := range want {
		checkDelivery(f.t, got[i], want[i])
		stored, attempts := f.get(want[i].ID)
		checkDelivery(f.t, stored, want[i])
		if len(attempts) != want[i].Attempts {
			f.t.Errorf("delivery %s has %d attempts recorded, want %d", want[i].ID, len(attempts), want[i].Attempts)
		}
	}
}

// checkDelivery compares got with want: Message by content, times as
// instants that must come back in UTC. A zero CreatedAt or UpdatedAt in
// want stands for whatever the store set.
func checkDelivery(t *testing.T, got, want store.Delivery) {
	t.Helper()
	checkTimes(t, got.CreatedAt, got.UpdatedAt)
	for _, f := range []struct {
		got     *time.Time
		want    time.Time
		byStore bool
	}{
		{&got.NextAttemptAt, want.NextAttemptAt, false},
		{&got.LeaseUntil, want.LeaseUntil, false},
		{&got.CreatedAt, want.CreatedAt, want.CreatedAt.IsZero()},
		{&got.UpdatedAt, want.UpdatedAt, want.UpdatedAt.IsZero()},
	} {
		if f.byStore || f.got.Equal(f.want) && f.got.Location() == time.UTC {
			*f.got = f.want
		}
	}
	if bytes.Equal(got.Message, want.Message) {
		got.Message = want.Message
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("delivery\n got %+v\nwant %+v", got, want)
	}
}

func testDeliveryOutbox(t *testing.T, open opener) {
	f := newDeliveryFixture(t, open)
	e := newEvent(f.conn, "push-1")
	e.Routed = true
	e.Deliveries = []store.Delivery{
		newDelivery(e, route{"build", "jenkins", modeQueued}, "main"),
		newDelivery(e, route{"deploy", "argo", modeSuperseded}, "main"),
		newDelivery(e, route{"lint", "nats", modeParallel}, ""),
	}
	e.Deliveries[1].FilesIncomplete = true
	e.Deliveries[2].Message = []byte("{ \"title\": \"naïve ✓ \\u0000 \\\"fix\\\"\",\n  \"n\": [1, 2.50, 1e3] }")
	mustRecordEvent(t, f.s, e)
	want := make([]store.Delivery, len(e.Deliveries))
	for i, d := range e.Deliveries {
		want[i] = pending(d, e.ReceivedAt)
	}
	f.checkListed(store.DeliveryFilter{EventID: e.ID}, want...)

	// A redelivery of the webhook is a duplicate: its deliveries are not
	// stored, whether it comes after the first or together with others.
	again := newEvent(f.conn, e.DeliveryID)
	again.Routed, again.Deliveries = true, []store.Delivery{newDelivery(again, route{"build", "jenkins", modeQueued}, "main")}
	if dup, err := f.s.RecordEvent(t.Context(), again); err != nil || !dup {
		t.Fatalf("RecordEvent(redelivery) = %v, %v; want a duplicate", dup, err)
	}
	_, _, err := f.s.GetDelivery(t.Context(), again.Deliveries[0].ID)
	checkErr(t, "GetDelivery(delivery of a duplicate)", err, store.ErrNotFound)

	events := make([]store.Event, 20)
	for i := range events {
		events[i] = newEvent(f.conn, "push-2")
		events[i].Routed = true
		events[i].Deliveries = []store.Delivery{newDelivery(events[i], route{"build", "jenkins", modeQueued}, "main")}
	}
	for i, dup := range recordConcurrently(t, f.s, events) {
		if !dup {
			want = append(want, pending(events[i].Deliveries[0], eventTime))
		}
	}
	f.checkListed(store.DeliveryFilter{}, want...)

	if got, err := f.s.UnroutedEvents(t.Context(), 10); err != nil || len(got) != 0 {
		t.Errorf("UnroutedEvents = %v, %v; want none: every event was routed when recorded", got, err)
	}
}

func testRouteReleasedEvents(t *testing.T, open opener) {
	f := newDeliveryFixture(t, open)
	other := mustCreateConnection(t, f.s, newConnection("other"))
	hold := func(connID string) store.Event {
		e := newEvent(connID, uuid.NewString())
		e.Held = true
		return mustRecordEvent(t, f.s, e)
	}
	held := []store.Event{hold(f.conn), hold(f.conn)}
	hold(other.ID)
	f.push("main", route{"build", "elsewhere", modeQueued})
	checkUnrouted := func(limit int, want ...store.Event) {
		t.Helper()
		got, err := f.s.UnroutedEvents(t.Context(), limit)
		if err != nil {
			t.Fatalf("UnroutedEvents(%d): %v", limit, err)
		}
		if len(got) != len(want) {
			t.Fatalf("UnroutedEvents(%d) = %v, want %v", limit, sortedIDs(got), sortedIDs(want))
		}
		for i := range want {
			checkEvent(t, got[i], want[i])
		}
	}
	checkUnrouted(10)

	if err := f.s.SetConnectionStatus(t.Context(), f.conn, store.StatusAvailable, ""); err != nil {
		t.Fatalf("SetConnectionStatus: %v", err)
	}
	for i := range held {
		held[i].Held = false
	}
	checkUnrouted(10, held...)
	checkUnrouted(1, held[0])

	r := route{"build", "ci", modeQueued}
	ds := []store.Delivery{newDelivery(held[0], r, "main"), newDelivery(held[0], r, "dev")}
	for range 2 { // the second time changes nothing
		if err := f.s.RouteEvent(t.Context(), held[0].ID, ds); err != nil {
			t.Fatalf("RouteEvent(%s): %v", held[0].ID, err)
		}
		ds = append(ds, newDelivery(held[0], r, "again"))
	}
	if err := f.s.RouteEvent(t.Context(), held[1].ID, nil); err != nil {
		t.Fatalf("RouteEvent(%s, none): %v", held[1].ID, err)
	}
	checkUnrouted(10)
	if e := mustGetEvent(t, f.s, held[0].ID); !e.Routed || e.Held {
		t.Errorf("routed event has Routed %v, Held %v; want true, false", e.Routed, e.Held)
	}

	// Routed deliveries are due from when they were routed.
	listed, err := f.s.ListDeliveries(t.Context(), store.DeliveryFilter{EventID: held[0].ID}, store.Page{})
	if err != nil || len(listed) != 2 {
		t.Fatalf("ListDeliveries(routed event) = %v, %v; want 2", listed, err)
	}
	want := make([]store.Delivery, len(listed))
	for i := range listed {
		want[i] = pending(ds[i], listed[i].CreatedAt)
	}
	f.checkListed(store.DeliveryFilter{EventID: held[0].ID}, want...)
	f.claim(want[0].NextAttemptAt, ciLimits, want[0])
}

func testClaimLimits(t *testing.T, open opener) {
	tests := []struct {
		name   string
		limits map[string]int
		want   map[string]int // claimed per target
	}{
		{"no targets", nil, map[string]int{}},
		{"one target", map[string]int{"a": 2}, map[string]int{"a": 2}},
		{"limit above due", map[string]int{"a": 5, "b": 1}, map[string]int{"a": 3, "b": 1}},
		{"zero and negative", map[string]int{"a": 0, "b": -1}, map[string]int{}},
		{"unknown target", map[string]int{"c": 3}, map[string]int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDeliveryFixture(t, open)
			a, b := route{"build", "a", modeParallel}, route{"test", "b", modeParallel}
			f.push("main", a, a, b)
			f.push("dev", a, b)
			got := map[string]int{}
			for _, d := range f.claimAs("worker", claimTime, tt.limits) {
				got[d.Target]++
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("claimed per target %v, want %v", got, tt.want)
			}
		})
	}
}

func testClaimParallel(t *testing.T, open opener) {
	f := newDeliveryFixture(t, open)
	ds := f.push("main", slices.Repeat([]route{{"test", "ci", modeParallel}}, 4)...)

	// A delivery waiting for its retry holds up no other.
	first := f.claimAs("worker", claimTime, map[string]int{"ci": 1})
	if len(first) != 1 {
		t.Fatalf("claimed %d with limit 1, want 1", len(first))
	}
	f.complete(first[0].ID, store.DeliveryPending, claimTime.Add(time.Hour))
	rest := slices.DeleteFunc(slices.Clone(ds), func(d store.Delivery) bool { return d.ID == first[0].ID })
	f.claim(claimTime, ciLimits, rest...)
	f.claim(claimTime, ciLimits)
}

func testClaimQueued(t *testing.T, open opener) {
	f := newDeliveryFixture(t, open)
	build, lint := route{"build", "ci", modeQueued}, route{"lint", "ci", modeQueued}
	q := slices.Concat(f.push("main", build), f.push("dev", build), f.push("main", build))
	l := f.push("main", lint)

	f.claim(claimTime, ciLimits, q[0], l[0]) // one per pipeline
	f.claim(claimTime, ciLimits)             // none while the heads are leased

	// A head waiting for its retry blocks its pipeline.
	retry := claimTime.Add(10 * time.Minute)
	f.complete(q[0].ID, store.DeliveryPending, retry)
	f.claim(retry.Add(-time.Second), ciLimits)
	f.claim(retry, ciLimits, q[0])

	// Neither success nor failure of the head blocks the next.
	f.complete(q[0].ID, store.DeliverySucceeded, retry)
	f.claim(retry, ciLimits, q[1])
	f.complete(q[1].ID, store.DeliveryDead, retry)
	f.claim(retry, ciLimits, q[2])
}

func testClaimSuperseded(t *testing.T, open opener) {
	f := newDeliveryFixture(t, open)
	deploy := route{"deploy", "ci", modeSuperseded}
	main := slices.Concat(f.push("main", deploy), f.push("main", deploy), f.push("main", deploy))
	dev := f.push("dev", deploy)

	f.claim(claimTime, ciLimits, main[2], dev[0]) // the newest of each branch
	f.checkState(main[0], store.DeliverySuperseded)
	f.checkState(main[1], store.DeliverySuperseded)

	// Nothing is claimed for main while its delivery is leased; dev goes on.
	f.complete(dev[0].ID, store.DeliverySucceeded, claimTime)
	main = append(main, slices.Concat(f.push("main", deploy), f.push("main", deploy))...)
	dev = append(dev, f.push("dev", deploy)...)
	f.claim(claimTime, ciLimits, dev[1])

	f.complete(main[2].ID, store.DeliverySucceeded, claimTime)
	f.claim(claimTime, ciLimits, main[4])
	f.checkState(main[3], store.DeliverySuperseded)
	f.claim(claimTime, ciLimits)
}

func testClaimLeaseExpiry(t *testing.T, open opener) {
	for _, mode := range []string{modeQueued, modeSuperseded, modeParallel} {
		t.Run(mode, func(t *testing.T) {
			f := newDeliveryFixture(t, open)
			d := f.push("main", route{"build", "ci", mode})[0]
			first := f.claimAs("a", claimTime, ciLimits)
			if len(f.claimAs("b", claimTime.Add(lease/2), ciLimits)) > 0 {
				t.Errorf("claimed while the lease holds")
			}
			expired := claimTime.Add(2 * lease)
			second := f.claimAs("b", expired, ciLimits)
			if len(first) != 1 || len(second) != 1 || second[0].Attempts != 2 {
				t.Fatalf("claims before and after the lease expired = %v, %v; want %s with attempts 1, then 2", first, second, d.ID)
			}

			// The first owner comes back late: its attempt is recorded, the
			// delivery stays with the second owner.
			late := result(first[0], store.DeliverySucceeded, expired)
			f.completeAll(late)
			got, attempts := f.get(d.ID)
			checkDelivery(t, got, second[0])
			checkAttempts(t, attempts, late.Attempt)

			done := result(second[0], store.DeliveryDead, expired)
			f.completeAll(done)
			f.checkState(d, store.DeliveryDead)
			_, attempts = f.get(d.ID)
			checkAttempts(t, attempts, late.Attempt, done.Attempt)
		})
	}
}

func testClaimAfterAttempt(t *testing.T, open opener) {
	tests := []struct {
		state string
		wait  time.Duration // until the retry
	}{
		{store.DeliveryPending, 10 * time.Minute},
		{store.DeliverySucceeded, 0},
		{store.DeliveryDead, 0},
	}
	for _, tt := range tests {
		t.Run(tt.state, func(t *testing.T) {
			f := newDeliveryFixture(t, open)
			d := f.push("main", route{"build", "ci", modeParallel})[0]
			claimed := f.claim(claimTime, ciLimits, d)
			next := claimTime.Add(tt.wait)
			r := result(claimed[0], tt.state, next)
			f.completeAll(r)

			want := d
			want.State, want.Attempts, want.NextAttemptAt, want.LastError = tt.state, 1, next, r.Error
			got, _ := f.get(d.ID)
			checkDelivery(t, got, want)
			f.claim(next.Add(-time.Nanosecond), ciLimits)
			if tt.state == store.DeliveryPending {
				f.claim(next, ciLimits, d)
			} else {
				f.claim(next.Add(1000*time.Hour), ciLimits)
			}
		})
	}
}

// checkAttempts compares attempts, StartedAt as an instant in UTC.
func checkAttempts(t *testing.T, got []store.Attempt, want ...store.Attempt) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("attempts\n got %+v\nwant %+v", got, want)
	}
	for i, a := range got {
		if a.StartedAt.Equal(want[i].StartedAt) && a.StartedAt.Location() == time.UTC {
			a.StartedAt = want[i].StartedAt
		}
		if !reflect.DeepEqual(a, want[i]) {
			t.Errorf("attempt %d\n got %+v\nwant %+v", i+1, a, want[i])
		}
	}
}

func testAttempts(t *testing.T, open opener) {
	f := newDeliveryFixture(t, open)
	d := f.push("main", route{"build", "ci", modeQueued})[0]
	exit := func(status int) *int { return &status }
	results := []store.AttemptResult{
		{Attempt: store.Attempt{Duration: 1500 * time.Millisecond, Outcome: "retry", StatusCode: 503, Error: "503 Service Unavailable", Output: "upstream busy"},
			State: store.DeliveryPending, NextAttemptAt: claimTime.Add(time.Minute)},
		{Attempt: store.Attempt{Duration: 30 * time.Second, Outcome: "retry", ExitStatus: exit(75), Error: "exit status 75", Output: "step 1\nétape 2 ✓\n"},
			State: store.DeliveryPending, NextAttemptAt: claimTime.Add(3 * time.Minute)},
		{Attempt: store.Attempt{Duration: 2 * time.Second, Outcome: "succeeded", ExitStatus: exit(0)},
			State: store.DeliverySucceeded, NextAttemptAt: claimTime.Add(4 * time.Minute)},
	}
	var want []store.Attempt
	now := claimTime
	for _, r := range results {
		claimed := f.claim(now, ciLimits, d)
		r.DeliveryID, r.N, r.LeaseOwner = d.ID, claimed[0].Attempts, claimed[0].LeaseOwner
		r.StartedAt = now.Add(time.Second).In(time.FixedZone("CET", 3600))
		f.completeAll(r)
		want = append(want, r.Attempt)
		now = r.NextAttemptAt
	}
	got, attempts := f.get(d.ID)
	if got.State != store.DeliverySucceeded || got.Attempts != len(results) {
		t.Errorf("delivery is %s after %d attempts, want %s after %d", got.State, got.Attempts, store.DeliverySucceeded, len(results))
	}
	checkAttempts(t, attempts, want...)
}

func testListDeliveries(t *testing.T, open opener) {
	f := newDeliveryFixture(t, open)
	// Each target's deliveries end in one state.
	targets := []string{"ok", "bad", "busy", "idle"}
	states := []string{store.DeliverySucceeded, store.DeliveryDead, store.DeliveryLeased, store.DeliveryPending}
	pipelines := []string{"build", "deploy", "lint"}
	var ds []store.Delivery
	for i := range 6 {
		var rs []route
		for k := 2 * i; k < 2*i+2; k++ {
			rs = append(rs, route{pipelines[k%3], targets[k%4], modeParallel})
		}
		ds = append(ds, f.push("main", rs...)...)
	}
	for _, d := range f.claimAs("worker", claimTime, map[string]int{"ok": 10, "bad": 10, "busy": 10}) {
		if d.Target != "busy" {
			f.complete(d.ID, states[slices.Index(targets, d.Target)], claimTime)
		}
	}
	for i := range ds {
		ds[i].State = states[slices.Index(targets, ds[i].Target)]
	}

	filters := []struct {
		name string
		f    store.DeliveryFilter
	}{
		{"all", store.DeliveryFilter{}},
		{"pipeline", store.DeliveryFilter{Pipeline: "deploy"}},
		{"state", store.DeliveryFilter{State: store.DeliveryDead}},
		{"event", store.DeliveryFilter{EventID: ds[4].EventID}},
		{"every field", store.DeliveryFilter{Pipeline: "build", State: store.DeliveryPending, EventID: ds[7].EventID}},
		{"no match", store.DeliveryFilter{Pipeline: "build", State: store.DeliveryDead}},
		{"unknown pipeline", store.DeliveryFilter{Pipeline: "nope"}},
	}
	for _, tt := range filters {
		t.Run(tt.name, func(t *testing.T) {
			var want []string
			for _, d := range ds {
				if (tt.f.Pipeline == "" || d.Pipeline == tt.f.Pipeline) && (tt.f.State == "" || d.State == tt.f.State) &&
					(tt.f.EventID == "" || d.EventID == tt.f.EventID) {
					want = append(want, d.ID)
				}
			}
			checkListing(t, want, deliveryIDs(ds), func(p store.Page) ([]store.Delivery, error) {
				return f.s.ListDeliveries(t.Context(), tt.f, p)
			}, func(d store.Delivery) string { return d.ID })
		})
	}
	listed, err := f.s.ListDeliveries(t.Context(), store.DeliveryFilter{}, store.Page{})
	if err != nil {
		t.Fatalf("ListDeliveries: %v", err)
	}
	for _, d := range listed {
		stored, _ := f.get(d.ID)
		checkDelivery(t, d, stored)
	}
}

func testRedeliverDiscard(t *testing.T, open opener) {
	build := route{"build", "ci", modeQueued}
	leased := func(f *deliveryFixture) store.Delivery {
		return f.claim(claimTime, ciLimits, f.push("main", build)...)[0]
	}
	finished := func(state string) func(f *deliveryFixture) store.Delivery {
		return func(f *deliveryFixture) store.Delivery {
			d := leased(f)
			f.complete(d.ID, state, claimTime)
			return d
		}
	}
	// setUp returns a delivery in each state.
	setUp := map[string]func(f *deliveryFixture) store.Delivery{
		store.DeliveryPending:   func(f *deliveryFixture) store.Delivery { return f.push("main", build)[0] },
		store.DeliveryLeased:    leased,
		store.DeliverySucceeded: finished(store.DeliverySucceeded),
		store.DeliveryDead:      finished(store.DeliveryDead),
		store.DeliveryFiltered:  finished(store.DeliveryFiltered),
		store.DeliverySuperseded: func(f *deliveryFixture) store.Delivery {
			r := route{"deploy", "ci", modeSuperseded}
			old, newer := f.push("main", r)[0], f.push("main", r)[0]
			f.claim(claimTime, ciLimits, newer)
			f.complete(newer.ID, store.DeliverySucceeded, claimTime)
			return old
		},
		store.DeliveryDiscarded: func(f *deliveryFixture) store.Delivery {
			d := f.push("main", build)[0]
			if err := f.s.Discard(f.t.Context(), d.ID); err != nil {
				f.t.Fatalf("Discard: %v", err)
			}
			return d
		},
	}
	tests := []struct {
		from      string
		redeliver error // nil: the delivery becomes pending
		discard   error // nil: the delivery becomes discarded
	}{
		{store.DeliveryPending, store.ErrUnavailable, nil},
		{store.DeliveryLeased, store.ErrUnavailable, store.ErrUnavailable},
		{store.DeliverySucceeded, nil, store.ErrUnavailable},
		{store.DeliveryDead, nil, nil},
		{store.DeliverySuperseded, nil, store.ErrUnavailable},
		{store.DeliveryDiscarded, nil, store.ErrUnavailable},
		{store.DeliveryFiltered, nil, store.ErrUnavailable},
	}
	for _, tt := range tests {
		for _, op := range []struct {
			name string
			call func(s Store, ctx context.Context, id string) error
			to   string
			want error
		}{
			{"Redeliver", Store.Redeliver, store.DeliveryPending, tt.redeliver},
			{"Discard", Store.Discard, store.DeliveryDiscarded, tt.discard},
		} {
			t.Run(op.name+" "+tt.from, func(t *testing.T) {
				f := newDeliveryFixture(t, open)
				d := setUp[tt.from](f)
				before, _ := f.get(d.ID)
				err := op.call(f.s, t.Context(), d.ID)
				checkErr(t, op.name, err, op.want)
				if op.want != nil {
					got, _ := f.get(d.ID)
					checkDelivery(t, got, before)
					return
				}
				f.checkState(d, op.to)
				if op.to == store.DeliveryDiscarded {
					f.claim(claimTime.Add(1000*time.Hour), ciLimits)
					return
				}
				// Redelivered: due now, attempted again with the next number.
				after, _ := f.get(d.ID)
				claimed := f.claim(after.NextAttemptAt, ciLimits, d)
				if claimed[0].Attempts != before.Attempts+1 {
					t.Errorf("redelivery claimed with attempts %d, want %d", claimed[0].Attempts, before.Attempts+1)
				}
				f.complete(d.ID, store.DeliverySucceeded, after.NextAttemptAt)
				if _, attempts := f.get(d.ID); len(attempts) != before.Attempts+1 {
					t.Errorf("%d attempts recorded, want %d", len(attempts), before.Attempts+1)
				}
			})
		}
	}
	t.Run("unknown", func(t *testing.T) {
		s := open(t)
		checkErr(t, "Redeliver(unknown)", s.Redeliver(t.Context(), uuid.NewString()), store.ErrNotFound)
		checkErr(t, "Discard(unknown)", s.Discard(t.Context(), uuid.NewString()), store.ErrNotFound)
	})
}

// testCompleteDeliveryFiles completes the changed-file list of a delivery
// under its lease, then filters it: the completed message is what a
// redelivery sends.
func testCompleteDeliveryFiles(t *testing.T, open opener) {
	f := newDeliveryFixture(t, open)
	e := newEvent(f.conn, uuid.NewString())
	e.Routed = true
	d := newDelivery(e, route{"build", "ci", modeQueued}, "main")
	d.FilesIncomplete = true
	e.Deliveries = []store.Delivery{d}
	mustRecordEvent(t, f.s, e)
	other := f.push("main", route{"test", "ci", modeQueued})[0]
	complete := []byte(`{"pipeline":"build","filesIncomplete":false,"push":{"files":{"added":["docs/a.md"]}}}`)

	checkErr(t, "CompleteDeliveryFiles(pending)", f.s.CompleteDeliveryFiles(t.Context(), d.ID, "worker", 1, complete), store.ErrUnavailable)
	claimed := f.claim(claimTime, ciLimits, pending(d, eventTime), other)
	leased := claimed[0]
	if leased.ID != d.ID {
		leased = claimed[1]
	}
	for _, tc := range []struct {
		name, id, owner string
		attempt         int
		want            error
	}{
		{"another owner", d.ID, "another", 1, store.ErrUnavailable},
		{"an earlier attempt", d.ID, "worker", 0, store.ErrUnavailable},
		{"unknown delivery", uuid.NewString(), "worker", 1, store.ErrNotFound},
	} {
		checkErr(t, "CompleteDeliveryFiles("+tc.name+")", f.s.CompleteDeliveryFiles(t.Context(), tc.id, tc.owner, tc.attempt, complete), tc.want)
	}
	if got, _ := f.get(d.ID); !bytes.Equal(got.Message, d.Message) || !got.FilesIncomplete {
		t.Fatalf("refused CompleteDeliveryFiles changed the delivery: %+v", got)
	}

	if err := f.s.CompleteDeliveryFiles(t.Context(), d.ID, "worker", leased.Attempts, complete); err != nil {
		t.Fatalf("CompleteDeliveryFiles: %v", err)
	}
	want := leased
	want.Message, want.FilesIncomplete, want.UpdatedAt = complete, false, time.Time{}
	got, _ := f.get(d.ID)
	checkDelivery(t, got, want)
	if o, _ := f.get(other.ID); !bytes.Equal(o.Message, other.Message) {
		t.Errorf("another delivery's message changed to %s", o.Message)
	}

	f.complete(d.ID, store.DeliveryFiltered, claimTime)
	f.complete(other.ID, store.DeliverySucceeded, claimTime)
	f.checkState(d, store.DeliveryFiltered)
	filtered, attempts := f.get(d.ID)
	if len(attempts) != 1 || attempts[0].Outcome != "filtered" {
		t.Errorf("attempts %+v, want one filtered", attempts)
	}
	f.checkListed(store.DeliveryFilter{State: store.DeliveryFiltered}, filtered)
	checkErr(t, "CompleteDeliveryFiles(filtered)", f.s.CompleteDeliveryFiles(t.Context(), d.ID, "worker", leased.Attempts, complete), store.ErrUnavailable)

	if err := f.s.Redeliver(t.Context(), d.ID); err != nil {
		t.Fatalf("Redeliver(filtered): %v", err)
	}
	redelivered, _ := f.get(d.ID)
	again := f.claim(redelivered.NextAttemptAt, ciLimits, d)[0]
	if !bytes.Equal(again.Message, complete) || again.FilesIncomplete {
		t.Errorf("redelivery claimed with message %s, files incomplete %v; want the completed message", again.Message, again.FilesIncomplete)
	}
}

func testDeliveryStats(t *testing.T, open opener) {
	f := newDeliveryFixture(t, open)
	if got, err := f.s.DeliveryStats(t.Context()); err != nil || got != (store.DeliveryStats{}) {
		t.Errorf("DeliveryStats of an empty store = %+v, %v; want zero", got, err)
	}
	build := route{"build", "ci", modeQueued}
	var ds []store.Delivery
	for i := range 3 {
		ds = append(ds, f.pushAt(eventTime.Add(time.Duration(i)*time.Minute), "main", build)...)
	}
	created := func(i int) time.Time {
		d, _ := f.get(ds[i].ID)
		return d.CreatedAt
	}
	steps := []struct {
		name string
		do   func()
		want store.DeliveryStats
	}{
		{"pending", func() {}, store.DeliveryStats{Pending: 3, OldestPending: created(0)}},
		{"oldest leased", func() { f.claim(claimTime, ciLimits, ds[0]) }, store.DeliveryStats{Pending: 2, Leased: 1, OldestPending: created(1)}},
		{"dead", func() { f.complete(ds[0].ID, store.DeliveryDead, claimTime) }, store.DeliveryStats{Pending: 2, Dead: 1, OldestPending: created(1)}},
		{"succeeded", func() {
			f.claim(claimTime, ciLimits, ds[1])
			f.complete(ds[1].ID, store.DeliverySucceeded, claimTime)
		}, store.DeliveryStats{Pending: 1, Dead: 1, OldestPending: created(2)}},
		{"none pending", func() {
			if err := f.s.Discard(t.Context(), ds[2].ID); err != nil {
				t.Fatalf("Discard: %v", err)
			}
		}, store.DeliveryStats{Dead: 1}},
	}
	for _, st := range steps {
		st.do()
		got, err := f.s.DeliveryStats(t.Context())
		if err != nil {
			t.Fatalf("%s: DeliveryStats: %v", st.name, err)
		}
		if got.OldestPending.Equal(st.want.OldestPending) {
			got.OldestPending = st.want.OldestPending
		}
		if got != st.want {
			t.Errorf("%s: DeliveryStats = %+v, want %+v", st.name, got, st.want)
		}
	}
}

// testClaimScansPerTarget checks that a target with a deep backlog that
// is not due does not hide the due deliveries of other targets, even
// those created after it.
func testClaimScansPerTarget(t *testing.T, open opener) {
	f := newDeliveryFixture(t, open)
	const backlog = 5000
	later := claimTime.Add(24 * time.Hour)
	f.pushAt(later, "main", slices.Repeat([]route{{"nightly", "down", modeParallel}}, backlog)...)
	up := f.push("main", route{"build", "up", modeParallel})
	limits := map[string]int{"down": backlog, "up": 1}
	f.claim(claimTime, limits, up...)
	if len(f.claimAs("worker", later, limits)) == 0 {
		t.Errorf("nothing of the backlog claimed once due")
	}
}

func testConcurrentClaims(t *testing.T, open opener) {
	f := newDeliveryFixture(t, open)
	ds := f.push("main", slices.Repeat([]route{{"test", "ci", modeParallel}}, 100)...)
	claimed := make([][]store.Delivery, 8)
	errs := concurrently(len(claimed), func(i int) error {
		var err error
		claimed[i], err = f.s.ClaimDeliveries(t.Context(), store.ClaimRequest{
			Owner: fmt.Sprintf("worker-%d", i), Now: claimTime, Lease: lease, Limits: map[string]int{"ci": 20},
		})
		return err
	})
	owners := map[string]string{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("ClaimDeliveries(worker-%d): %v", i, err)
		}
		for _, d := range claimed[i] {
			if prev, ok := owners[d.ID]; ok {
				t.Errorf("delivery %s claimed by %s and %s", d.ID, prev, d.LeaseOwner)
			}
			owners[d.ID] = d.LeaseOwner
		}
	}
	if len(owners) != len(ds) {
		t.Errorf("%d of %d deliveries claimed", len(owners), len(ds))
	}
	for id, owner := range owners {
		if d, _ := f.get(id); d.LeaseOwner != owner {
			t.Errorf("delivery %s leased to %q, but %q claimed it", id, d.LeaseOwner, owner)
		}
	}
}
