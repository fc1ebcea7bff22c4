package storetest

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/store"
)

// resource is a taggable resource kind: how to create one and delete it.
type resource struct {
	kind   store.ResourceKind
	create func(t *testing.T, s Store, name string, tags ...store.Tag) store.ResourceRef
	delete func(s Store, ctx context.Context, id string) error
}

func resources() []resource {
	return []resource{
		{
			kind: store.KindConnection,
			create: func(t *testing.T, s Store, name string, tags ...store.Tag) store.ResourceRef {
				return connectionRef(mustCreateConnection(t, s, newConnection(name), tags...).ID)
			},
			delete: Store.DeleteConnection,
		},
		{
			kind: store.KindHost,
			create: func(t *testing.T, s Store, name string, tags ...store.Tag) store.ResourceRef {
				return hostRef(mustCreateHost(t, s, newHost(name, "us-east-1"), tags...).ID)
			},
			delete: Store.DeleteHost,
		},
	}
}

// forEachKind runs fn as a subtest per resource kind.
func forEachKind(t *testing.T, fn func(t *testing.T, r resource)) {
	for _, r := range resources() {
		t.Run(string(r.kind), func(t *testing.T) { fn(t, r) })
	}
}

// tagsOf pairs up keys and values.
func tagsOf(kv ...string) []store.Tag {
	ts := make([]store.Tag, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		ts = append(ts, store.Tag{Key: kv[i], Value: kv[i+1]})
	}
	return ts
}

func testTagMerge(t *testing.T, open opener) {
	forEachKind(t, func(t *testing.T, r resource) {
		s := open(t)
		ref := r.create(t, s, "merge", tagsOf("b", "2", "a", "1")...)
		if err := s.TagResource(t.Context(), ref, tagsOf("c", "4", "b", "3"), 0); err != nil {
			t.Fatalf("TagResource: %v", err)
		}
		checkTags(t, s, ref, tagsOf("a", "1", "b", "3", "c", "4")...)
	})
}

func testTagLimit(t *testing.T, open opener) {
	tests := []struct {
		name string
		add  []store.Tag
		max  int
		want error
	}{
		{name: "add up to the limit", add: tagsOf("c", "3"), max: 3},
		{name: "add over the limit", add: tagsOf("c", "3", "d", "4"), max: 3, want: store.ErrLimitExceeded},
		{name: "overwrite at the limit", add: tagsOf("a", "9", "b", "8"), max: 2},
		{name: "overwrite and add over the limit", add: tagsOf("a", "9", "c", "3"), max: 2, want: store.ErrLimitExceeded},
		{name: "overwrite while over a lowered limit", add: tagsOf("a", "9"), max: 1, want: store.ErrLimitExceeded},
		{name: "zero max is unlimited", add: tagsOf("c", "3", "d", "4", "e", "5", "f", "6"), max: 0},
		{name: "negative max is unlimited", add: tagsOf("c", "3", "d", "4", "e", "5", "f", "6"), max: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachKind(t, func(t *testing.T, r resource) {
				s := open(t)
				original := tagsOf("a", "1", "b", "2")
				ref := r.create(t, s, "limited", original...)
				err := s.TagResource(t.Context(), ref, tt.add, tt.max)
				checkErr(t, "TagResource", err, tt.want)
				if err != nil {
					checkTags(t, s, ref, original...)
					return
				}
				checkTags(t, s, ref, merged(original, tt.add)...)
			})
		})
	}
}

// merged is the tag set that tagging a resource having have with add
// produces, sorted by key.
func merged(have, add []store.Tag) []store.Tag {
	m := make(map[string]string)
	for _, t := range slices.Concat(have, add) {
		m[t.Key] = t.Value
	}
	out := make([]store.Tag, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, store.Tag{Key: k, Value: m[k]})
	}
	return out
}

func testUntag(t *testing.T, open opener) {
	forEachKind(t, func(t *testing.T, r resource) {
		s := open(t)
		ref := r.create(t, s, "untag", tagsOf("a", "1", "b", "2", "c", "3")...)
		steps := []struct {
			keys []string
			want []store.Tag
		}{
			{[]string{"a", "unknown"}, tagsOf("b", "2", "c", "3")},
			{nil, tagsOf("b", "2", "c", "3")},
			{[]string{"c", "b"}, nil},
			{[]string{"b"}, nil},
		}
		for _, st := range steps {
			if err := s.UntagResource(t.Context(), ref, st.keys); err != nil {
				t.Fatalf("UntagResource(%v): %v", st.keys, err)
			}
			checkTags(t, s, ref, st.want...)
		}
	})
}

func testListTagsEmpty(t *testing.T, open opener) {
	forEachKind(t, func(t *testing.T, r resource) {
		s := open(t)
		checkTags(t, s, r.create(t, s, "bare"))
	})
}

func testTagsMissingResource(t *testing.T, open opener) {
	s := open(t)
	type missingCase struct {
		name string
		ref  store.ResourceRef
	}
	missing := []missingCase{
		{"unknown connection", connectionRef(uuid.NewString())},
		{"unknown host", hostRef("missing-0000abcd")},
	}
	for _, r := range resources() {
		ref := r.create(t, s, "gone", tagsOf("k", "v")...)
		if err := r.delete(s, t.Context(), ref.ID); err != nil {
			t.Fatalf("delete %s: %v", r.kind, err)
		}
		missing = append(missing, missingCase{"deleted " + string(r.kind), ref})
	}
	for _, m := range missing {
		t.Run(m.name, func(t *testing.T) {
			checkErr(t, "TagResource", s.TagResource(t.Context(), m.ref, tagsOf("k", "v"), 0), store.ErrNotFound)
			checkErr(t, "UntagResource", s.UntagResource(t.Context(), m.ref, []string{"k"}), store.ErrNotFound)
			_, err := s.ListTags(t.Context(), m.ref)
			checkErr(t, "ListTags", err, store.ErrNotFound)
		})
	}
}
