package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/forgelink/forgelink/store"
)

// BenchData describes the history the listing benchmarks of both stores
// read: Events events received one every Spacing up to End, each push or
// pull request with one delivery. The mix is skewed as real traffic is, so
// that every documented filter has a common and a rare value.
type BenchData struct {
	Events  int
	End     time.Time
	Spacing time.Duration
	Body    int // bytes of each event's body
}

// Bench's connections, repositories, kinds, pipelines and states, with the
// share of records each takes. The rare ones are what an index is for.
var (
	benchConnections = []string{"0198f0c0-0000-7000-8000-00000000000a", "0198f0c0-0000-7000-8000-00000000000b",
		"0198f0c0-0000-7000-8000-00000000000c", "0198f0c0-0000-7000-8000-00000000000d"}
	benchKinds  = []weighted{{"push", 800}, {"pull_request", 180}, {"other", 15}, {"ping", 4}, {"installation", 1}}
	benchStates = []weighted{{store.DeliverySucceeded, 9889}, {store.DeliveryDead, 100}, {store.DeliverySuperseded, 5},
		{store.DeliveryPending, 5}, {store.DeliveryFiltered, 1}}
)

type weighted struct {
	value  string
	weight int
}

func pick(r *rand.Rand, ws []weighted) string {
	total := 0
	for _, w := range ws {
		total += w.weight
	}
	n := r.IntN(total)
	for _, w := range ws {
		if n -= w.weight; n < 0 {
			return w.value
		}
	}
	return ws[len(ws)-1].value
}

// BenchRepository is the repository of rank i: rank 0 gets about 6% of
// the events, rank 450 about 0.03%.
func BenchRepository(i int) string { return fmt.Sprintf("acme/repo-%03d", i) }

// BenchPipeline is the pipeline of rank i: rank 0 gets about 17% of the
// deliveries, rank 39 about 0.6%.
func BenchPipeline(i int) string { return fmt.Sprintf("pipeline-%02d", i) }

// Each calls fn with every event of the history, oldest first, with its
// deliveries; ids are UUID v7 of ReceivedAt. The same seed gives the same
// history, so a store can be filled once and measured many times.
func (d BenchData) Each(fn func(store.Event) error) error {
	r := rand.New(rand.NewPCG(1, 2))
	// Zipf: a heavy head and a long tail.
	repos := rand.NewZipf(r, 1.1, 4, 499)
	pipelines := rand.NewZipf(r, 1.1, 2, 39)
	body := make([]byte, d.Body)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	start := d.End.Add(-time.Duration(d.Events) * d.Spacing)
	for i := range d.Events {
		at := start.Add(time.Duration(i) * d.Spacing)
		e := store.Event{ID: benchID(at, i), ConnectionID: benchConnections[i%len(benchConnections)],
			Provider: store.ProviderGitHub, DeliveryID: fmt.Sprintf("delivery-%08d", i), Kind: pick(r, benchKinds),
			Repository: BenchRepository(int(repos.Uint64())), ReceivedAt: at, Headers: []byte(`{"X-GitHub-Event":"push"}`),
			Body: body, Normalized: []byte(`{"kind":"push"}`), Routed: true}
		e.RawKind = e.Kind
		if e.Kind == "push" || e.Kind == "pull_request" {
			e.Deliveries = []store.Delivery{{ID: benchID(at.Add(time.Millisecond), i), EventID: e.ID,
				ConnectionID: e.ConnectionID, Pipeline: BenchPipeline(int(pipelines.Uint64())), Target: "ci", Mode: "PARALLEL",
				Branch: "main", Message: body[:min(len(body), 1024)], State: pick(r, benchStates), Attempts: 1,
				NextAttemptAt: at, CreatedAt: at, UpdatedAt: at.Add(time.Second)}}
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// benchID is a UUID v7 made at t; n makes it unique.
func benchID(t time.Time, n int) string {
	ms := uint64(t.UnixMilli())
	return fmt.Sprintf("%08x-%04x-7%03x-8%03x-%012x", ms>>16, ms&0xffff, n>>24&0xfff, n>>12&0xfff, n)
}

// BenchListing is one listing the benchmarks time.
type BenchListing struct {
	Name       string
	Events     *store.EventFilter // nil: a delivery listing
	Deliveries store.DeliveryFilter
}

// BenchListings are the documented filters, alone and combined, each with
// a common and a rare value, and time windows at the history's newest end,
// its middle and its oldest.
func (d BenchData) BenchListings() []BenchListing {
	day := 24 * time.Hour
	span := time.Duration(d.Events) * d.Spacing
	conn := benchConnections[1]
	hot, rare := BenchRepository(0), BenchRepository(450)
	ev := func(name string, f store.EventFilter) BenchListing {
		return BenchListing{Name: "events/" + name, Events: &f}
	}
	dl := func(name string, f store.DeliveryFilter) BenchListing {
		return BenchListing{Name: "deliveries/" + name, Deliveries: f}
	}
	return []BenchListing{
		ev("all", store.EventFilter{}),
		ev("connection", store.EventFilter{ConnectionID: conn}),
		ev("repository-hot", store.EventFilter{Repository: hot}),
		ev("repository-rare", store.EventFilter{Repository: rare}),
		ev("kind-push", store.EventFilter{Kind: "push"}),
		ev("kind-installation", store.EventFilter{Kind: "installation"}),
		ev("since-10m", store.EventFilter{Since: d.End.Add(-10 * time.Minute)}),
		ev("since-1d", store.EventFilter{Since: d.End.Add(-day)}),
		ev("until-half", store.EventFilter{Until: d.End.Add(-span / 2)}),
		ev("window-1h-oldest", store.EventFilter{Since: d.End.Add(-span), Until: d.End.Add(-span + time.Hour)}),
		ev("window-1h-middle", store.EventFilter{Since: d.End.Add(-span / 2), Until: d.End.Add(-span/2 + time.Hour)}),
		ev("connection+since-1d", store.EventFilter{ConnectionID: conn, Since: d.End.Add(-day)}),
		ev("repository-rare+since-1d", store.EventFilter{Repository: rare, Since: d.End.Add(-day)}),
		ev("repository-hot+window-1h-middle", store.EventFilter{Repository: hot, Since: d.End.Add(-span / 2), Until: d.End.Add(-span/2 + time.Hour)}),
		ev("kind-installation+until-half", store.EventFilter{Kind: "installation", Until: d.End.Add(-span / 2)}),
		ev("connection+repository-rare", store.EventFilter{ConnectionID: conn, Repository: rare}),
		ev("connection+kind-installation", store.EventFilter{ConnectionID: conn, Kind: "installation"}),
		ev("repository-hot+kind-installation", store.EventFilter{Repository: hot, Kind: "installation"}),
		ev("every-filter", store.EventFilter{ConnectionID: conn, Repository: hot, Kind: "pull_request", Since: d.End.Add(-span / 2)}),
		dl("all", store.DeliveryFilter{}),
		dl("pipeline-hot", store.DeliveryFilter{Pipeline: BenchPipeline(0)}),
		dl("pipeline-rare", store.DeliveryFilter{Pipeline: BenchPipeline(39)}),
		dl("state-succeeded", store.DeliveryFilter{State: store.DeliverySucceeded}),
		dl("state-dead", store.DeliveryFilter{State: store.DeliveryDead}),
		dl("state-filtered", store.DeliveryFilter{State: store.DeliveryFiltered}),
		dl("event", store.DeliveryFilter{EventID: benchID(d.End.Add(-span/2), d.Events/2)}),
		dl("pipeline-hot+state-dead", store.DeliveryFilter{Pipeline: BenchPipeline(0), State: store.DeliveryDead}),
		dl("pipeline-rare+state-dead", store.DeliveryFilter{Pipeline: BenchPipeline(39), State: store.DeliveryDead}),
		dl("pipeline-hot+state-filtered", store.DeliveryFilter{Pipeline: BenchPipeline(0), State: store.DeliveryFiltered}),
	}
}

// BenchDataFromEnv is the history the listing benchmarks read:
// FORGELINK_BENCH_EVENTS events (20,000 unless set; README's figures use
// 1,000,000), one every 0.9 s (ten days a million), with 7 KiB bodies as
// GitHub's pushes have.
func BenchDataFromEnv(b *testing.B) BenchData {
	n := 20_000
	if v := os.Getenv("FORGELINK_BENCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 2 {
			b.Fatalf("FORGELINK_BENCH_EVENTS=%q: want a count of at least 2", v)
		}
	}
	return BenchData{Events: n, End: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Spacing: 900 * time.Millisecond, Body: 7 << 10}
}

// PlanData is a small history with the same mix, for query-plan tests.
func PlanData() BenchData {
	return BenchData{Events: 2000, End: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Spacing: 450 * time.Second, Body: 16}
}

// Lister is what the listing benchmarks call.
type Lister interface {
	ListEvents(ctx context.Context, f store.EventFilter, p store.Page) ([]store.Event, error)
	ListDeliveries(ctx context.Context, f store.DeliveryFilter, p store.Page) ([]store.Delivery, error)
}

// Order names a listing direction in test and benchmark names.
func Order(desc bool) string {
	if desc {
		return "desc"
	}
	return "asc"
}

// RunListingBenchmarks times one page (101 records: the control plane's
// 100 and one to tell whether there are more) of every BenchListing in
// both directions.
func (d BenchData) RunListingBenchmarks(b *testing.B, s Lister) {
	for _, l := range d.BenchListings() {
		for _, desc := range []bool{false, true} {
			p := store.Page{Limit: 101, Descending: desc}
			b.Run(l.Name+"/"+Order(desc), func(b *testing.B) {
				for b.Loop() {
					var err error
					if l.Events != nil {
						_, err = s.ListEvents(b.Context(), *l.Events, p)
					} else {
						_, err = s.ListDeliveries(b.Context(), l.Deliveries, p)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
