package dispatch

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/store"
)

// rows is an OwnerStore whose Delivery answers from a map, or err.
type rows struct {
	err  error
	rows map[string]store.Delivery
}

func (r *rows) Delivery(_ context.Context, id string) (store.Delivery, error) {
	if r.err != nil {
		return store.Delivery{}, r.err
	}
	d, ok := r.rows[id]
	if !ok {
		return store.Delivery{}, fmt.Errorf("delivery %s: %w", id, store.ErrNotFound)
	}
	return d, nil
}

func (r *rows) Settle(_ []store.Settlement, done func(error))            { done(nil) }
func (r *rows) CompleteOwnedFiles(context.Context, string, []byte) error { return nil }

// Load keeps the attempt counted in memory; a row that is gone is
// forgotten, one that cannot be read now is handed back for a second
// later.
func TestOwnerLoad(t *testing.T) {
	tests := []struct {
		name      string
		store     *rows
		wantErr   error
		open      int           // scheduled afterwards
		retakenAt time.Duration // when it can be taken again; 0: never
	}{
		{"read", &rows{rows: map[string]store.Delivery{"d001": {ID: "d001", Message: []byte(`{}`), Attempts: 7}}}, nil, 1, 0},
		{"gone", &rows{rows: map[string]store.Delivery{}}, store.ErrNotFound, 0, 0},
		{"unreadable now", &rows{err: errors.New("disk I/O error")}, nil, 1, ownerRetry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewOwner(tt.store, zap.NewNop())
			o.now = func() time.Time { return t0 }
			r := ref(1, "build", "PARALLEL", "main")
			r.Attempts = 2
			o.Due([]store.DeliveryRef{r})
			ds, err := o.Take(t.Context(), store.ClaimRequest{Now: t0, Limits: map[string]int{"ci": 1}})
			if err != nil || len(ds) != 1 || ds[0].Attempts != 3 {
				t.Fatalf("Take = %+v, %v; want d001, attempt 3", ds, err)
			}
			d := ds[0]
			err = o.Load(t.Context(), &d)
			switch {
			case tt.store.err == nil && tt.wantErr == nil:
				if err != nil || string(d.Message) != `{}` || d.Attempts != 3 {
					t.Errorf("Load = %+v, %v; want the row with attempt 3", d, err)
				}
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr), tt.wantErr == nil && err == nil:
				t.Errorf("Load = %v, want an error (%v)", err, tt.wantErr)
			}
			if n := o.Open(); n != tt.open {
				t.Errorf("%d scheduled after Load, want %d", n, tt.open)
			}
			if tt.retakenAt == 0 {
				return
			}
			if again := o.sched.take(t0.Add(tt.retakenAt-time.Millisecond), "ci", 1).refs; len(again) != 0 {
				t.Errorf("taken again before %v: %+v", tt.retakenAt, again)
			}
			if again := o.sched.take(t0.Add(tt.retakenAt), "ci", 1).refs; len(again) != 1 || again[0].Attempts != 3 {
				t.Errorf("taken again at %v: %+v; want d001, attempt 3 (the unread one uncounted)", tt.retakenAt, again)
			}
		})
	}
}
