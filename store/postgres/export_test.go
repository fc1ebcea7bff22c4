package postgres

import "github.com/forgelink/forgelink/store"

// EventWriters is how many batches can be in flight at once.
const EventWriters = eventWriters

// RecordBatch records events as one batch of the group-commit writers,
// and returns each caller's answer.
func (s *Store) RecordBatch(events []store.Event) (dups []bool, errs []error) {
	batch := make([]*eventWrite, len(events))
	for i, e := range events {
		batch[i] = &eventWrite{ev: e, done: make(chan eventResult, 1)}
	}
	s.commitBatch(batch)
	for _, w := range batch {
		r := <-w.done
		dups, errs = append(dups, r.duplicate), append(errs, r.err)
	}
	return dups, errs
}
