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
// O(log n) per delivery, not a scan per take.
type scheduler struct {
	items   map[string]*item
	targets map[string]*targetQueue
	lanes   map[string]*lane // QUEUED order: pipeline+target
	groups  map[string]*lane // SUPERSEDED order: groupKey
	strs    map[string]string
}

type place int

const (
	waiting  place = iota // in its target's later or ready heap
	parked                // held back by its lane or group
	inFlight              // taken, not settled yet
)

type item struct {
	store.DeliveryRef
	place       place
	gen         int   // bumped when the item leaves a heap: older heap entries are stale
	lane, group *lane // its QUEUED lane and SUPERSEDED group
}

// lane is the set of open deliveries that one ordering rule looks at.
type lane struct {
	min, max idHeap // open members' ids, stale entries skipped lazily
	members  map[string]*item
	parked   map[string]*item
	inFlight int
}

type targetQueue struct {
	later timeHeap
	ready idHeap
}

func newScheduler() *scheduler {
	return &scheduler{items: map[string]*item{}, targets: map[string]*targetQueue{},
		lanes: map[string]*lane{}, groups: map[string]*lane{}, strs: map[string]string{}}
}

// laneKey is the QUEUED ordering key: order is per pipeline and target, so
// that after a reload moved a pipeline to another target, the old
// target's leftovers do not hold up the new one.
func laneKey(r store.DeliveryRef) string { return r.Pipeline + "\x00" + r.Target }

// groupKey is the SUPERSEDED grouping key, the one place that says what a
// newer delivery replaces.
func groupKey(r store.DeliveryRef) string { return r.Pipeline + "\x00" + r.Target + "\x00" + r.Branch }

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
		r.Pipeline, r.Target, r.Mode, r.Branch = s.intern(r.Pipeline), s.intern(r.Target), s.intern(r.Mode), s.intern(r.Branch)
		it := &item{DeliveryRef: r, lane: s.lane(s.lanes, laneKey(r)), group: s.lane(s.groups, groupKey(r))}
		s.items[r.ID] = it
		it.lane.join(it)
		it.group.join(it)
		s.wait(it)
	}
}

func (s *scheduler) lane(m map[string]*lane, key string) *lane {
	l := m[key]
	if l == nil {
		l = &lane{min: idHeap{less: idLess}, max: idHeap{less: idLess}, members: map[string]*item{}, parked: map[string]*item{}}
		m[key] = l
	}
	return l
}

func (l *lane) join(it *item) {
	l.members[it.ID] = it
	heap.Push(&l.min, idEntry{it: it, id: it.ID})
	heap.Push(&l.max, idEntry{it: it, id: it.ID, desc: true})
}

func (l *lane) leave(it *item) {
	delete(l.members, it.ID)
	delete(l.parked, it.ID)
	// Entries of members that left are skipped when they reach the top;
	// those that never do (the oldest, in the max heap) are dropped here,
	// or a lane that never empties would keep one per delivery ever made.
	if max(l.min.Len(), l.max.Len()) > 2*len(l.members)+16 {
		l.min.items, l.max.items = l.min.items[:0], l.max.items[:0]
		for _, m := range l.members {
			l.min.items = append(l.min.items, idEntry{it: m, id: m.ID})
			l.max.items = append(l.max.items, idEntry{it: m, id: m.ID, desc: true})
		}
		heap.Init(&l.min)
		heap.Init(&l.max)
	}
}

// head is the lane's oldest open delivery, newest its newest.
func (l *lane) head() *item   { return l.top(&l.min) }
func (l *lane) newest() *item { return l.top(&l.max) }

func (l *lane) top(h *idHeap) *item {
	for h.Len() > 0 {
		e := h.top()
		if l.members[e.id] == e.it {
			return e.it
		}
		heap.Pop(h)
	}
	return nil
}

// wait puts it in its target's later heap; take moves it to ready when due.
func (s *scheduler) wait(it *item) {
	it.place = waiting
	it.gen++
	q := s.targets[it.Target]
	if q == nil {
		q = &targetQueue{later: timeHeap{less: timeLess}, ready: idHeap{less: idLess}}
		s.targets[it.Target] = q
	}
	heap.Push(&q.later, timeEntry{it, it.gen, it.NextAttemptAt})
}

// ready puts a due item straight in its target's ready heap.
func (s *scheduler) ready(it *item) {
	it.place = waiting
	it.gen++
	heap.Push(&s.targets[it.Target].ready, idEntry{it: it, id: it.ID, gen: it.gen})
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
	for q.later.Len() > 0 && !q.later.top().at.After(now) {
		e := heap.Pop(&q.later).(timeEntry)
		if e.gen == e.it.gen && s.items[e.it.ID] == e.it {
			s.ready(e.it)
		}
	}
	for len(out.refs) < n && q.ready.Len() > 0 {
		e := heap.Pop(&q.ready).(idEntry)
		it := e.it
		if e.gen != it.gen || s.items[it.ID] != it || it.place != waiting {
			continue
		}
		if s.eligible(it, &out) {
			it.place = inFlight
			it.Attempts++
			it.group.inFlight++
			out.refs = append(out.refs, it.DeliveryRef)
		}
	}
	return out
}

// eligible reports whether a due delivery may go now under its mode; one
// that may not is parked where it waits, or superseded.
func (s *scheduler) eligible(it *item, out *taken) bool {
	switch it.Mode {
	case "QUEUED":
		if it.lane.head() != it {
			s.park(it.lane, it)
			return false
		}
	case "SUPERSEDED":
		g := it.group
		if g.inFlight > 0 {
			s.park(g, it)
			return false
		}
		// The newest replaces every older one waiting, also one waiting
		// out a backoff, which would otherwise go after it.
		newest := g.newest()
		for _, old := range g.members {
			if old.ID < newest.ID {
				out.superseded = append(out.superseded, old.DeliveryRef)
				s.remove(old)
			}
		}
		return newest == it
	}
	return true
}

func (s *scheduler) park(l *lane, it *item) {
	it.place = parked
	it.gen++
	l.parked[it.ID] = it
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
	it.NextAttemptAt = next
	s.wait(it)
	s.unparkGroup(it.group)
}

// release hands back a taken delivery whose attempt did not start (its
// message could not be read): it waits until next, its attempt uncounted.
func (s *scheduler) release(id string, next time.Time) {
	if it := s.items[id]; it != nil && it.place == inFlight {
		it.Attempts--
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
	delete(s.items, it.ID)
	it.gen++
	l, g := it.lane, it.group
	l.leave(it)
	g.leave(it)
	if h := l.head(); h != nil && l.parked[h.ID] == h {
		delete(l.parked, h.ID)
		s.ready(h)
	}
	s.unparkGroup(g)
	if len(l.members) == 0 {
		delete(s.lanes, laneKey(it.DeliveryRef))
	}
	if len(g.members) == 0 {
		delete(s.groups, groupKey(it.DeliveryRef))
	}
}

// unparkGroup makes a group's parked deliveries ready once none of the
// group is in flight.
func (s *scheduler) unparkGroup(g *lane) {
	if g.inFlight > 0 {
		return
	}
	for id, it := range g.parked {
		delete(g.parked, id)
		s.ready(it)
	}
}

// open is how many deliveries the scheduler holds.
func (s *scheduler) open() int { return len(s.items) }

// idEntry orders by id: ascending, or descending with desc.
type idEntry struct {
	it   *item
	id   string
	desc bool
	gen  int
}

type idHeap = pq[idEntry]

func idLess(a, b idEntry) bool {
	if a.desc {
		return a.id > b.id
	}
	return a.id < b.id
}

type timeEntry struct {
	it  *item
	gen int
	at  time.Time
}

type timeHeap = pq[timeEntry]

func timeLess(a, b timeEntry) bool {
	if a.at.Equal(b.at) {
		return a.it.ID < b.it.ID
	}
	return a.at.Before(b.at)
}

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
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}

// top is the least item; the heap must not be empty.
func (h *pq[T]) top() T { return h.items[0] }
