package dispatch

import (
	"container/heap"
	"time"

	"github.com/forgelink/forgelink/store"
)

// scheduler decides, in memory, which open deliveries may be attempted
// now, with the execution modes' semantics of the store's claims: QUEUED
// releases a pipeline's oldest open delivery per target only; SUPERSEDED
// one per pipeline, target and branch, the newest, superseding the older
// waiting ones; PARALLEL any that is due. It holds only metadata and runs
// no goroutines; the caller serialises its use.
//
// Each delivery waits in one place: its target's later heap (not due yet,
// by due time), its target's ready heap (due, by id), parked on the lane
// or group whose order holds it back, or in flight. A parked delivery is
// looked at again only when what held it changes, so a backlog costs
// O(log n) per delivery, not a scan per take. A backlog of 100,000 is
// about 30 MB (BenchmarkSchedulerDrain): heap entries are pointers, and
// the few distinct names are shared.
type scheduler struct {
	items   map[string]*item
	targets map[string]*targetQueue
	lanes   map[string]*lane // QUEUED order: pipeline+target, oldest first
	groups  map[string]*lane // SUPERSEDED order: groupKey, newest first
	strs    map[string]string
}

type place int8

const (
	waiting  place = iota // in its target's later or ready heap
	parked                // held back by its lane or group
	inFlight              // taken, not settled yet
	gone                  // finished, superseded or withdrawn
)

type item struct {
	id, pipeline, target, mode, branch string
	attempts                           int32
	place                              place
	gen                                int32 // bumped when the item leaves a heap: older entries are stale
	next                               int64 // due, Unix nanoseconds
	lane, group                        *lane // its QUEUED lane and SUPERSEDED group
}

func (it *item) ref() store.DeliveryRef {
	return store.DeliveryRef{ID: it.id, Pipeline: it.pipeline, Target: it.target, Mode: it.mode, Branch: it.branch,
		Attempts: int(it.attempts), NextAttemptAt: time.Unix(0, it.next).UTC()}
}

// lane is the set of open deliveries that one ordering rule looks at:
// their heap (stale entries skipped when they reach the top), how many
// are open and in flight, and, for a group, those parked on it.
type lane struct {
	members  pq[*item]
	open     int
	inFlight int
	parked   []entry
}

type targetQueue struct {
	later pq[entry] // by due time
	ready pq[entry] // by id
}

// entry is an item's place in a heap, valid while the item's gen is gen.
type entry struct {
	it  *item
	gen int32
	at  int64 // the due time, for the later heap
}

func (e entry) valid(p place) bool { return e.gen == e.it.gen && e.it.place == p }

func newScheduler() *scheduler {
	return &scheduler{items: map[string]*item{}, targets: map[string]*targetQueue{},
		lanes: map[string]*lane{}, groups: map[string]*lane{}, strs: map[string]string{}}
}

// laneKey is the QUEUED ordering key: order is per pipeline and target, so
// that after a reload moved a pipeline to another target, the old
// target's leftovers do not hold up the new one.
func laneKey(pipeline, target string) string { return pipeline + "\x00" + target }

// groupKey is the SUPERSEDED grouping key, the one place that says what a
// newer delivery replaces.
func groupKey(pipeline, target, branch string) string {
	return pipeline + "\x00" + target + "\x00" + branch
}

// intern shares the few distinct pipeline, target, mode and branch strings
// among a backlog's deliveries.
func (s *scheduler) intern(v string) string {
	if x, ok := s.strs[v]; ok {
		return x
	}
	s.strs[v] = v
	return v
}

// add schedules open deliveries; one already known is left as it is.
func (s *scheduler) add(refs ...store.DeliveryRef) {
	for _, r := range refs {
		if _, ok := s.items[r.ID]; ok {
			continue
		}
		it := &item{id: r.ID, pipeline: s.intern(r.Pipeline), target: s.intern(r.Target), mode: s.intern(r.Mode),
			branch: s.intern(r.Branch), attempts: int32(r.Attempts), next: r.NextAttemptAt.UnixNano()}
		it.lane = s.lane(s.lanes, laneKey(it.pipeline, it.target), idLess)
		it.group = s.lane(s.groups, groupKey(it.pipeline, it.target, it.branch), idMore)
		s.items[it.id] = it
		it.lane.join(it)
		it.group.join(it)
		s.wait(it)
	}
}

func (s *scheduler) lane(m map[string]*lane, key string, less func(a, b *item) bool) *lane {
	l := m[key]
	if l == nil {
		l = &lane{members: pq[*item]{less: less}}
		m[key] = l
	}
	return l
}

func idLess(a, b *item) bool { return a.id < b.id }
func idMore(a, b *item) bool { return a.id > b.id }

func (l *lane) join(it *item) {
	l.open++
	heap.Push(&l.members, it)
}

// top is the lane's oldest open delivery (a QUEUED lane's head) or a
// group's newest.
func (l *lane) top() *item {
	for l.members.Len() > 0 {
		if it := l.members.top(); it.place != gone {
			return it
		}
		heap.Pop(&l.members)
	}
	return nil
}

func (l *lane) leave() {
	l.open--
	// Entries of members that left are skipped when they reach the top;
	// those that never do are dropped here, or a lane that never empties
	// would keep one per delivery it ever had.
	if l.members.Len() > 2*l.open+16 {
		kept := l.members.items[:0]
		for _, it := range l.members.items {
			if it.place != gone {
				kept = append(kept, it)
			}
		}
		clear(l.members.items[len(kept):])
		l.members.items = kept
		heap.Init(&l.members)
	}
}

// wait puts it in its target's later heap; take moves it to ready when due.
func (s *scheduler) wait(it *item) {
	it.place = waiting
	it.gen++
	q := s.targets[it.target]
	if q == nil {
		q = &targetQueue{later: pq[entry]{less: dueLess}, ready: pq[entry]{less: entryLess}}
		s.targets[it.target] = q
	}
	heap.Push(&q.later, entry{it: it, gen: it.gen, at: it.next})
}

// ready puts a due item straight in its target's ready heap.
func (s *scheduler) ready(it *item) {
	it.place = waiting
	it.gen++
	heap.Push(&s.targets[it.target].ready, entry{it: it, gen: it.gen})
}

func entryLess(a, b entry) bool { return a.it.id < b.it.id }

func dueLess(a, b entry) bool {
	if a.at == b.at {
		return a.it.id < b.it.id
	}
	return a.at < b.at
}

// taken is what take decided.
type taken struct {
	refs []store.DeliveryRef // to attempt now, Attempts counting this one
	// superseded were replaced by a newer delivery of their group: they
	// are no longer open.
	superseded []store.DeliveryRef
}

// take returns up to n of target's deliveries that may be attempted at
// now, oldest first, and marks them in flight.
func (s *scheduler) take(now time.Time, target string, n int) taken {
	var out taken
	q := s.targets[target]
	if q == nil {
		return out
	}
	for at := now.UnixNano(); q.later.Len() > 0 && q.later.top().at <= at; {
		if e := heap.Pop(&q.later).(entry); e.valid(waiting) {
			s.ready(e.it)
		}
	}
	for len(out.refs) < n && q.ready.Len() > 0 {
		e := heap.Pop(&q.ready).(entry)
		if !e.valid(waiting) {
			continue
		}
		if it := e.it; s.eligible(it, &out) {
			it.place = inFlight
			it.attempts++
			it.group.inFlight++
			out.refs = append(out.refs, it.ref())
		}
	}
	return out
}

// eligible reports whether a due delivery may go now under its mode; one
// that may not is parked where it waits, or superseded.
func (s *scheduler) eligible(it *item, out *taken) bool {
	switch it.mode {
	case "QUEUED":
		if it.lane.top() != it {
			s.park(it) // made ready again when it becomes the head (remove)
			return false
		}
	case "SUPERSEDED":
		g := it.group
		if g.inFlight > 0 {
			s.park(it)
			g.parked = append(g.parked, entry{it: it, gen: it.gen})
			return false
		}
		// The newest replaces every older one waiting, also one waiting
		// out a backoff, which would otherwise go after it. None is in
		// flight: the group is not busy.
		newest := g.top()
		var older []*item
		for _, old := range g.members.items {
			if old.place != gone && old.id < newest.id {
				older = append(older, old)
			}
		}
		for _, old := range older { // remove changes g.members
			out.superseded = append(out.superseded, old.ref())
			s.remove(old)
		}
		return newest == it
	}
	return true
}

func (s *scheduler) park(it *item) {
	it.place = parked
	it.gen++
}

// settle ends an attempt: the delivery is finished (done), or waits until
// next for its retry.
func (s *scheduler) settle(id string, done bool, next time.Time) {
	it := s.items[id]
	if it == nil || it.place != inFlight {
		return
	}
	it.group.inFlight--
	if done {
		s.remove(it)
		return
	}
	it.next = next.UnixNano()
	s.wait(it)
	s.unparkGroup(it.group)
}

// release hands back a taken delivery whose attempt did not start (its
// message could not be read): it waits until next, its attempt uncounted.
func (s *scheduler) release(id string, next time.Time) {
	if it := s.items[id]; it != nil && it.place == inFlight {
		it.attempts--
		s.settle(id, false, next)
	}
}

// withdraw removes a waiting delivery (discarded); it reports false, and
// changes nothing, for one in flight.
func (s *scheduler) withdraw(id string) bool {
	it := s.items[id]
	if it == nil {
		return true
	}
	if it.place == inFlight {
		return false
	}
	s.remove(it)
	return true
}

// remove forgets an open delivery that is not in flight, and lets what
// its lane or group held back go.
func (s *scheduler) remove(it *item) {
	delete(s.items, it.id)
	it.place = gone
	it.gen++
	l, g := it.lane, it.group
	l.leave()
	g.leave()
	if h := l.top(); h != nil && h.place == parked && h.mode == "QUEUED" {
		s.ready(h)
	}
	s.unparkGroup(g)
	if l.open == 0 {
		delete(s.lanes, laneKey(it.pipeline, it.target))
	}
	if g.open == 0 {
		delete(s.groups, groupKey(it.pipeline, it.target, it.branch))
	}
}

// unparkGroup makes a group's parked deliveries ready once none of the
// group is in flight.
func (s *scheduler) unparkGroup(g *lane) {
	if g.inFlight > 0 {
		return
	}
	for _, e := range g.parked {
		if e.valid(parked) {
			s.ready(e.it)
		}
	}
	g.parked = g.parked[:0]
}

// open is how many deliveries the scheduler holds.
func (s *scheduler) open() int { return len(s.items) }

// pq is a container/heap of T ordered by less.
type pq[T any] struct {
	items []T
	less  func(a, b T) bool
}

func (h *pq[T]) Len() int           { return len(h.items) }
func (h *pq[T]) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *pq[T]) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *pq[T]) Push(x any)         { h.items = append(h.items, x.(T)) }
func (h *pq[T]) Pop() any {
	var zero T
	x := h.items[len(h.items)-1]
	h.items[len(h.items)-1] = zero // no hold on what left
	h.items = h.items[:len(h.items)-1]
	return x
}

// top is the least item; the heap must not be empty.
func (h *pq[T]) top() T { return h.items[0] }
