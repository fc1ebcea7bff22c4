package gitlab

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/providers/internal/tokentest"
)

const (
	shaBefore = "1111111111111111111111111111111111111111"
	shaAfter  = "2222222222222222222222222222222222222222"
)

// compareDiff is one entry of a comparison's diffs, as GitLab sends it.
type compareDiff struct {
	OldPath     string `json:"old_path"`
	NewPath     string `json:"new_path"`
	NewFile     bool   `json:"new_file"`
	RenamedFile bool   `json:"renamed_file"`
	DeletedFile bool   `json:"deleted_file"`
	Diff        string `json:"diff"`
}

// fakeCompare serves GET /api/v4/projects/group%2Fsub%2Fapi/repository/compare
// as GitLab documents it: the token authorized takes (401 otherwise),
// from and to as query parameters (404 for other commits), straight=false
// for a diff against the merge base; diffs and compare_timeout as given.
// It counts the requests it serves.
func fakeCompare(t *testing.T, diffs []compareDiff, timeout bool, calls *atomic.Int32) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		q := r.URL.Query()
		switch {
		case r.Method != http.MethodGet || r.URL.EscapedPath() != "/api/v4/projects/group%2Fsub%2Fapi/repository/compare":
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"message":"404 Not Found"}`))
		case !authorized(r):
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"message":"401 Unauthorized"}`))
		case q.Get("from") != shaBefore || q.Get("to") != shaAfter || q.Get("straight") != "false":
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"message":"404 Ref Not Found"}`))
		default:
			json.NewEncoder(w).Encode(map[string]any{
				"commit":  map[string]any{"id": shaAfter},
				"commits": []map[string]any{{"id": shaAfter}},
				"diffs":   diffs, "compare_timeout": timeout, "compare_same_ref": false,
			})
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/api/v4"
}

// authorized reports whether r carries a token GitLab takes: the personal
// token in PRIVATE-TOKEN, or the OAuth token as a bearer token.
func authorized(r *http.Request) bool {
	return r.Header.Get("Private-Token") == personalToken || r.Header.Get("Authorization") == "Bearer "+oauthToken
}

func TestCompareFiles(t *testing.T) {
	diffs := []compareDiff{
		{OldPath: "src/main.go", NewPath: "src/main.go", Diff: "@@ -1 +1 @@"},
		{OldPath: "docs/new.md", NewPath: "docs/new.md", NewFile: true},
		{OldPath: "old.txt", NewPath: "old.txt", DeletedFile: true},
		{OldPath: "pkg/a.go", NewPath: "pkg/b.go", RenamedFile: true},
	}
	const want = "+docs/new.md +pkg/b.go ~src/main.go -old.txt -pkg/a.go"
	many := make([]compareDiff, providers.MaxCompareFiles+1)
	for i := range many {
		p := fmt.Sprintf("gen/%04d.go", i)
		many[i] = compareDiff{OldPath: p, NewPath: p, NewFile: true}
	}
	var calls atomic.Int32
	gl := fakeCompare(t, diffs, false, &calls)
	tests := []struct {
		name, url, token, after string
		want                    string // as tokentest.CompareOutcome renders it
	}{
		{"gitlab.com", gl, personalToken, shaAfter, want},
		{"nothing changed", fakeCompare(t, nil, false, &calls), personalToken, shaAfter, ""},
		// compare_timeout: GitLab stopped at its diff limits.
		{"cut at the diff limits", fakeCompare(t, diffs, true, &calls), personalToken, shaAfter, "no list"},
		{"too many files", fakeCompare(t, many, false, &calls), personalToken, shaAfter, "no list"},
		{"unknown commit", gl, personalToken, "3333333333333333333333333333333333333333", "no list"},
		{"bad token", gl, "glpat-wrong", shaAfter, "rejected"},
		{"rate limited", tokentest.Answer(t, 429, nil, `{"message":"Retry later"}`), personalToken, shaAfter, "unavailable"},
		{"server error", tokentest.Answer(t, 500, nil, `{"message":"500 Internal Server Error"}`), personalToken, shaAfter, "unavailable"},
		{"null", tokentest.Answer(t, 200, nil, `null`), personalToken, shaAfter, "unavailable"},
		{"unreachable", tokentest.Unreachable(), personalToken, shaAfter, "unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CompareFiles(t.Context(), http.DefaultClient, tc.url, providers.Token{Value: tc.token}, "group/sub/api", shaBefore, tc.after)
			if out := tokentest.CompareOutcome(t, tc.token, got, err); out != tc.want {
				t.Errorf("CompareFiles = %q (%v), want %q", out, err, tc.want)
			}
		})
	}
}

// TestCompareFilesCreatedBranch checks that a created branch is refused
// without asking GitLab: there is no previous commit to compare with.
func TestCompareFilesCreatedBranch(t *testing.T) {
	var calls atomic.Int32
	url := fakeCompare(t, nil, false, &calls)
	got, err := CompareFiles(t.Context(), http.DefaultClient, url, providers.Token{Value: personalToken}, "group/sub/api", providers.ZeroSHA, shaAfter)
	if out := tokentest.CompareOutcome(t, personalToken, got, err); out != "no list" {
		t.Errorf("CompareFiles = %q (%v), want no list", out, err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("GitLab was asked %d times, want 0", n)
	}
}

// TestFilesOAuthToken checks that an OAuth token goes as a bearer token,
// not in PRIVATE-TOKEN, which GitLab refuses for OAuth tokens.
func TestFilesOAuthToken(t *testing.T) {
	var calls atomic.Int32
	diffs := []compareDiff{{OldPath: "a.go", NewPath: "a.go"}}
	compare, mr := fakeCompare(t, diffs, false, &calls), fakeMergeRequestDiffs(t, diffs, &calls)
	for _, tc := range []struct {
		name string
		tok  providers.Token
		want string // as tokentest.CompareOutcome renders it
	}{
		{"personal token", providers.Token{Value: personalToken}, "~a.go"},
		{"oauth token", providers.Token{Value: oauthToken, OAuth: true}, "~a.go"},
		{"oauth token sent as personal", providers.Token{Value: oauthToken}, "rejected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CompareFiles(t.Context(), http.DefaultClient, compare, tc.tok, "group/sub/api", shaBefore, shaAfter)
			if out := tokentest.CompareOutcome(t, tc.tok.Value, got, err); out != tc.want {
				t.Errorf("CompareFiles = %q (%v), want %q", out, err, tc.want)
			}
			got, err = PullRequestFiles(t.Context(), http.DefaultClient, mr, tc.tok, "group/sub/api", 7)
			if out := tokentest.CompareOutcome(t, tc.tok.Value, got, err); out != tc.want {
				t.Errorf("PullRequestFiles = %q (%v), want %q", out, err, tc.want)
			}
		})
	}
}
