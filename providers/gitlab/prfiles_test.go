package gitlab

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/providers/internal/tokentest"
)

// fakeMergeRequestDiffs serves GET
// /api/v4/projects/group%2Fsub%2Fapi/merge_requests/7/diffs as GitLab
// does: the token authorized takes, the diffs paginated by page and
// per_page with X-Next-Page.
func fakeMergeRequestDiffs(t *testing.T, diffs []compareDiff, calls *atomic.Int32) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method != http.MethodGet || r.URL.EscapedPath() != "/api/v4/projects/group%2Fsub%2Fapi/merge_requests/7/diffs":
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"message":"404 Not Found"}`))
			return
		case !authorized(r):
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"message":"401 Unauthorized"}`))
			return
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
		page, per = max(page, 1), max(per, 20)
		if len(diffs) < 10 {
			per = 2 // short pages, to exercise the pagination
		}
		lo, hi := min((page-1)*per, len(diffs)), min(page*per, len(diffs))
		if hi < len(diffs) {
			w.Header().Set("X-Next-Page", strconv.Itoa(page+1))
		}
		json.NewEncoder(w).Encode(diffs[lo:hi])
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/api/v4"
}

func TestPullRequestFiles(t *testing.T) {
	diffs := []compareDiff{
		{OldPath: "src/main.go", NewPath: "src/main.go", Diff: "@@ -1 +1 @@"},
		{OldPath: "docs/new.md", NewPath: "docs/new.md", NewFile: true},
		{OldPath: "old.txt", NewPath: "old.txt", DeletedFile: true},
		{OldPath: "pkg/a.go", NewPath: "pkg/b.go", RenamedFile: true},
		{OldPath: "Makefile", NewPath: "Makefile"},
	}
	const want = "+docs/new.md +pkg/b.go ~Makefile ~src/main.go -old.txt -pkg/a.go"
	many := make([]compareDiff, providers.MaxCompareFiles+1)
	for i := range many {
		p := fmt.Sprintf("gen/%04d.go", i)
		many[i] = compareDiff{OldPath: p, NewPath: p, NewFile: true}
	}
	var calls atomic.Int32
	gl := fakeMergeRequestDiffs(t, diffs, &calls)
	tests := []struct {
		name, url, token string
		number           int
		want             string
	}{
		{"paginated", gl, personalToken, 7, want},
		{"no files", fakeMergeRequestDiffs(t, nil, &calls), personalToken, 7, ""},
		{"too many files", fakeMergeRequestDiffs(t, many, &calls), personalToken, 7, "no list"},
		{"unknown merge request", gl, personalToken, 8, "no list"},
		{"no number", gl, personalToken, 0, "no list"},
		{"bad token", gl, "glpat-wrong", 7, "rejected"},
		{"server error", tokentest.Answer(t, 502, nil, "bad gateway"), personalToken, 7, "unavailable"},
		{"unreachable", tokentest.Unreachable(), personalToken, 7, "unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PullRequestFiles(t.Context(), http.DefaultClient, tc.url, providers.Token{Value: tc.token}, "group/sub/api", tc.number)
			if out := tokentest.CompareOutcome(t, tc.token, got, err); out != tc.want {
				t.Errorf("PullRequestFiles = %q (%v), want %q", out, err, tc.want)
			}
		})
	}
}
