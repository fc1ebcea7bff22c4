package controlplane

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestSortOrder: ListEvents and ListDeliveries list newest first on
// DESCENDING, page through every record in that order, and refuse a
// NextToken of the other order.
func TestSortOrder(t *testing.T) {
	f := newFixture(t, Limits{}, false)
	connID := uuid.NewString()
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var events, deliveries []string
	for i := range 5 {
		e, ds := recordEvent(t, f.store, connID, "acme/app", at.Add(time.Duration(i)*time.Second), "build")
		events, deliveries = append(events, e), append(deliveries, ds...)
	}
	type page struct {
		Events     []eventSummary
		Deliveries []deliverySummary
		NextToken  *string
	}
	ids := func(p page) []string {
		var out []string
		for _, e := range p.Events {
			out = append(out, e.EventID)
		}
		for _, d := range p.Deliveries {
			out = append(out, d.DeliveryID)
		}
		return out
	}
	for _, op := range []struct {
		name string
		ids  []string
	}{{"ListEvents", events}, {"ListDeliveries", deliveries}} {
		t.Run(op.name, func(t *testing.T) {
			newest := slices.Clone(op.ids)
			slices.Reverse(newest)
			for _, tc := range []struct {
				order string // "" leaves SortOrder out
				want  []string
			}{{"", op.ids}, {"ASCENDING", op.ids}, {"DESCENDING", newest}} {
				member := ""
				if tc.order != "" {
					member = fmt.Sprintf(`"SortOrder":%q,`, tc.order)
				}
				var got []string
				var token *string
				for range len(tc.want) + 1 {
					body := "{" + member + `"MaxResults":2}`
					if token != nil {
						body = "{" + member + fmt.Sprintf(`"MaxResults":2,"NextToken":%q}`, *token)
					}
					var p page
					if code, msg := f.call(t, op.name, body, &p); code != "" {
						t.Fatalf("%s %s: %s: %s", op.name, body, code, msg)
					}
					got = append(got, ids(p)...)
					if token = p.NextToken; token == nil {
						break
					}
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("SortOrder %q: paged %v, want %v", tc.order, got, tc.want)
				}
			}
		})
		t.Run(op.name+" token scope", func(t *testing.T) {
			for _, tc := range []struct{ from, to string }{{"ASCENDING", "DESCENDING"}, {"DESCENDING", "ASCENDING"}} {
				var p page
				f.call(t, op.name, fmt.Sprintf(`{"SortOrder":%q,"MaxResults":1}`, tc.from), &p)
				if p.NextToken == nil {
					t.Fatalf("%s: no NextToken", tc.from)
				}
				body := fmt.Sprintf(`{"SortOrder":%q,"MaxResults":1,"NextToken":%q}`, tc.to, *p.NextToken)
				if code, msg := f.call(t, op.name, body, nil); code != codeValidation || !strings.Contains(msg, "invalid NextToken") {
					t.Errorf("%s token replayed on %s: %s: %s, want %s", tc.from, tc.to, code, msg, codeValidation)
				}
			}
		})
		t.Run(op.name+" bad input", func(t *testing.T) {
			for _, tc := range []struct{ body, code, msg string }{
				{`{"SortOrder":"descending"}`, codeValidation,
					"Value 'descending' at 'SortOrder' failed to satisfy constraint: Member must satisfy enum value set: [ASCENDING, DESCENDING]"},
				{`{"SortOrder":"DESC"}`, codeValidation, "Value 'DESC' at 'SortOrder' failed to satisfy constraint"},
				{`{"SortOrder":""}`, codeValidation, "Value '' at 'SortOrder' failed to satisfy constraint"},
				{`{"SortOrder":1}`, codeSerialization, "SortOrder"},
			} {
				if code, msg := f.call(t, op.name, tc.body, nil); code != tc.code || !strings.Contains(msg, tc.msg) {
					t.Errorf("%s %s: %s: %s, want %s containing %q", op.name, tc.body, code, msg, tc.code, tc.msg)
				}
			}
		})
	}
}
