package github

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

// compareFile is one entry of a comparison's files, as GitHub sends it.
type compareFile struct {
	Filename         string `json:"filename"`
	Status           string `json:"status"`
	PreviousFilename string `json:"previous_filename,omitempty"`
	Patch            string `json:"patch,omitempty"`
}

// fakeCompare serves GET /repos/octo/api/compare/{before}...{after} under
// prefix as GitHub documents it: the token as a bearer token (401
// otherwise); the commits paginated by page and per_page, the files on
// the first page only. It counts the requests it serves.
func fakeCompare(t *testing.T, prefix string, files []compareFile, calls *atomic.Int32) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+prefix+"/repos/octo/api/compare/{basehead}", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"message":"Bad credentials"}`))
			return
		}
		if got := r.PathValue("basehead"); got != shaBefore+"..."+shaAfter {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"message":"Not Found"}`))
			return
		}
		body := map[string]any{
			"status": "ahead", "ahead_by": 3, "behind_by": 0, "total_commits": 3,
			"commits": []map[string]any{{"sha": "c1"}},
		}
		if page := r.URL.Query().Get("page"); page == "" || page == "1" {
			body["files"] = files
		}
		json.NewEncoder(w).Encode(body)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestCompareFiles(t *testing.T) {
	files := []compareFile{
		{Filename: "src/main.go", Status: "modified", Patch: "@@ -1 +1 @@"},
		{Filename: "docs/new.md", Status: "added"},
		{Filename: "old.txt", Status: "removed"},
		{Filename: "pkg/b.go", Status: "renamed", PreviousFilename: "pkg/a.go"},
		{Filename: "pkg/copy.go", Status: "copied"},
		{Filename: "Makefile", Status: "changed"},
	}
	const want = "+docs/new.md +pkg/b.go +pkg/copy.go ~Makefile ~src/main.go -old.txt -pkg/a.go"
	many := make([]compareFile, maxCompareFiles)
	for i := range many {
		many[i] = compareFile{Filename: fmt.Sprintf("gen/%03d.go", i), Status: "added"}
	}
	var calls atomic.Int32
	dotcom := fakeCompare(t, "", files, &calls)
	rateLimited := http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Limit": {"5000"}}
	tests := []struct {
		name, url, token, before, after string
		want                            string // as tokentest.CompareOutcome renders it
	}{
		{"github.com", dotcom + "/", testToken, shaBefore, shaAfter, want},
		{"GHES without trailing slash", fakeCompare(t, "/api/v3", files, &calls) + "/api/v3", testToken, shaBefore, shaAfter, want},
		{"nothing changed", fakeCompare(t, "", nil, &calls), testToken, shaBefore, shaAfter, ""},
		// GitHub cuts the list at 300 files without saying so.
		{"at GitHub's limit", fakeCompare(t, "", many, &calls), testToken, shaBefore, shaAfter, "no list"},
		{"unknown commit", dotcom, testToken, shaBefore, "3333333333333333333333333333333333333333", "no list"},
		{"bad token", dotcom, "ghp_wrong", shaBefore, shaAfter, "rejected"},
		{"rate limited", tokentest.Answer(t, 403, rateLimited, `{"message":"API rate limit exceeded"}`), testToken, shaBefore, shaAfter, "unavailable"},
		{"server error", tokentest.Answer(t, 502, nil, "bad gateway"), testToken, shaBefore, shaAfter, "unavailable"},
		{"diff took too long", tokentest.Answer(t, 422, nil, `{"message":"this diff is taking too long to generate"}`), testToken, shaBefore, shaAfter, "no list"},
		{"not JSON", tokentest.Answer(t, 200, nil, `<html>`), testToken, shaBefore, shaAfter, "unavailable"},
		{"unreachable", tokentest.Unreachable(), testToken, shaBefore, shaAfter, "unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CompareFiles(t.Context(), http.DefaultClient, tc.url, providers.Token{Value: tc.token}, "octo/api", tc.before, tc.after)
			if out := tokentest.CompareOutcome(t, tc.token, got, err); out != tc.want {
				t.Errorf("CompareFiles = %q (%v), want %q", out, err, tc.want)
			}
		})
	}
}

// TestCompareFilesFirstPage checks that the files are read from the first
// page, the only one that carries them, asking for as few commits as
// GitHub allows.
func TestCompareFilesFirstPage(t *testing.T) {
	var query string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"files":[{"filename":"a","status":"modified"}]}`))
	}))
	t.Cleanup(srv.Close)
	if _, err := CompareFiles(t.Context(), http.DefaultClient, srv.URL, providers.Token{Value: testToken}, "octo/api", shaBefore, shaAfter); err != nil {
		t.Fatal(err)
	}
	if query != "page=1&per_page=1" {
		t.Errorf("query = %q, want page=1&per_page=1", query)
	}
}

// TestCompareFilesNothingToCompare checks that pushes without two commits
// are refused without asking GitHub.
func TestCompareFilesNothingToCompare(t *testing.T) {
	var calls atomic.Int32
	url := fakeCompare(t, "", nil, &calls)
	for _, tc := range []struct{ name, repo, before, after string }{
		{"created branch", "octo/api", providers.ZeroSHA, shaAfter},
		{"deleted branch", "octo/api", shaBefore, providers.ZeroSHA},
		{"no before", "octo/api", "", shaAfter},
		{"not owner/name", "octo", shaBefore, shaAfter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CompareFiles(t.Context(), http.DefaultClient, url, providers.Token{Value: testToken}, tc.repo, tc.before, tc.after)
			if out := tokentest.CompareOutcome(t, testToken, got, err); out != "no list" {
				t.Errorf("CompareFiles = %q (%v), want no list", out, err)
			}
		})
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("GitHub was asked %d times, want 0", n)
	}
}

// TestFilesOAuthToken checks that an OAuth or installation token goes as
// a bearer token, as every GitHub token does.
func TestFilesOAuthToken(t *testing.T) {
	var calls atomic.Int32
	files := []compareFile{{Filename: "a.go", Status: "modified"}}
	tok := providers.Token{Value: testToken, OAuth: true}
	got, err := CompareFiles(t.Context(), http.DefaultClient, fakeCompare(t, "", files, &calls), tok, "octo/api", shaBefore, shaAfter)
	if out := tokentest.CompareOutcome(t, tok.Value, got, err); out != "~a.go" {
		t.Errorf("CompareFiles = %q (%v), want ~a.go", out, err)
	}
	got, err = PullRequestFiles(t.Context(), http.DefaultClient, fakePullRequestFiles(t, "", files, &calls), tok, "octo/api", 7)
	if out := tokentest.CompareOutcome(t, tok.Value, got, err); out != "~a.go" {
		t.Errorf("PullRequestFiles = %q (%v), want ~a.go", out, err)
	}
}
