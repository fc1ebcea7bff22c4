package recovery

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/store"
)

// pushLookback widens the search for a recorded push before the previous
// poll: a webhook recorded just before it may carry the new head.
const pushLookback = time.Hour

// poll reads w's head and synthesises a push when it moved without one.
// The first sight of a ref only records its head.
func (r *Recoverer) poll(ctx context.Context, w Watch, st *Stats) {
	repo := store.RepositoryKey(w.Repository)
	prev, err := r.o.Store.GetRecoveryHead(ctx, w.ConnectionID, repo, w.Ref)
	first := errors.Is(err, store.ErrNotFound)
	if err != nil && !first {
		r.pollFailed(w, st, "cannot read the last head", err)
		return
	}
	var head string
	err = r.call(ctx, func() (err error) {
		head, err = w.Heads.Head(ctx, w.Repository, w.Ref, prev.SHA)
		return err
	})
	st.Polled++
	switch {
	case errors.Is(err, providers.ErrNotFound):
		return // the ref is gone, or not there yet: a deletion starts nothing
	case err != nil:
		if !r.refused(ctx, []string{w.ConnectionID}, w.Repository+"'s "+w.Ref, err) {
			r.pollFailed(w, st, "cannot read the head", err)
		} else {
			st.fail(w.Provider)
		}
		return
	}
	now := r.o.Now()
	if !first && head != prev.SHA {
		if !r.synthesize(ctx, w, prev, head, st) {
			return // the head stays: the next poll tries again
		}
	}
	if first || head != prev.SHA {
		h := store.RecoveryHead{ConnectionID: w.ConnectionID, Repository: repo, Ref: w.Ref, SHA: head, CheckedAt: now}
		if err := r.o.Store.PutRecoveryHead(ctx, h); err != nil {
			r.pollFailed(w, st, "cannot save the head", err)
		}
	}
}

// synthesize records the push that moved w from prev to head unless a
// webhook recorded it. It reports whether the move is accounted for.
func (r *Recoverer) synthesize(ctx context.Context, w Watch, prev store.RecoveryHead, head string, st *Stats) bool {
	seen, err := r.pushRecorded(ctx, w, head, prev.CheckedAt.Add(-pushLookback))
	if err != nil {
		r.pollFailed(w, st, "cannot read recorded pushes", err)
		return false
	}
	if seen {
		return true
	}
	p := SyntheticPush{ConnectionID: w.ConnectionID, Provider: w.Provider, Repository: w.Repository,
		Ref: w.Ref, Before: prev.SHA, After: head}
	if err := r.o.Synthesize(ctx, p); err != nil {
		r.pollFailed(w, st, "cannot record the synthesised push", err)
		return false
	}
	st.Synthesized++
	r.o.Metrics.synthesized.Inc()
	return true
}

// pushRecorded reports whether an event of w's connection and repository
// received since pushed head to w's ref.
func (r *Recoverer) pushRecorded(ctx context.Context, w Watch, head string, since time.Time) (bool, error) {
	// Not filtered by repository in the store: providers spell a
	// repository's case as they like, and the pipeline may spell it
	// otherwise; the window is short.
	f := store.EventFilter{ConnectionID: w.ConnectionID, Kind: string(providers.KindPush), Since: since}
	page := store.Page{Limit: 100}
	for {
		evs, err := r.o.Store.ListEvents(ctx, f, page)
		if err != nil {
			return false, err
		}
		for _, e := range evs {
			if strings.EqualFold(e.Repository, w.Repository) && pushes(e, w.Ref, head) {
				return true, nil
			}
		}
		if len(evs) < page.Limit {
			return false, nil
		}
		page.After = evs[len(evs)-1].ID
	}
}

// pushes reports whether e's normalised form moves ref to head.
func pushes(e store.Event, ref, head string) bool {
	var ev providers.Event
	if json.Unmarshal(e.Normalized, &ev) != nil {
		return false
	}
	for _, p := range ev.Pushes {
		if p.Ref == ref && p.After == head {
			return true
		}
	}
	return false
}

func (r *Recoverer) pollFailed(w Watch, st *Stats, what string, err error) {
	r.o.Log.Warn("recovery: "+what, zap.String("connection", w.ConnectionID),
		zap.String("repository", w.Repository), zap.String("ref", w.Ref), zap.Error(err))
	st.fail(w.Provider)
}

// due returns the watches this round polls: those polling is on for,
// least recently polled first, within each connection's PollBudget for
// the round (its share of the hour).
func (r *Recoverer) due(watches []Watch, unrecoverable map[string]bool, st *Stats) []Watch {
	key := func(w Watch) string { return w.ConnectionID + " " + w.Repository + " " + w.Ref }
	var out []Watch
	for _, w := range watches {
		if w.Poll || unrecoverable[w.HookKey] {
			out = append(out, w)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	slices.SortStableFunc(out, func(a, b Watch) int { return r.lastPolled[key(a)].Compare(r.lastPolled[key(b)]) })
	used := map[string]int{}
	now := r.o.Now()
	kept := out[:0]
	for _, w := range out {
		if budget, ok := r.o.PollBudget[w.Provider]; ok {
			perRound := max(1, int(float64(budget)*r.o.PollInterval.Hours()))
			if used[w.ConnectionID] >= perRound {
				st.Deferred++
				continue
			}
			used[w.ConnectionID]++
		}
		r.lastPolled[key(w)] = now
		kept = append(kept, w)
	}
	return kept
}
