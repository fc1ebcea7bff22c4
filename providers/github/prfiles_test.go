package github

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

// fakePullRequestFiles serves GET /repos/octo/api/pulls/7/files under
// prefix as GitHub does: the token as a bearer token, the files paginated
// by page and per_page with Link headers.
func fakePullRequestFiles(t *testing.T, prefix string, files []compareFile, calls *atomic.Int32) string {
	t.Helper()
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+prefix+"/repos/octo/api/pulls/{number}/files", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"message":"Bad credentials"}`))
			return
		}
		if r.PathValue("number") != "7" {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"message":"Not Found"}`))
			return
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
		page, per = max(page, 1), max(per, 30)
		if len(files) < 10 {
			per = 2 // short pages, to exercise the pagination
		}
		lo, hi := min((page-1)*per, len(files)), min(page*per, len(files))
		if hi < len(files) {
			w.Header().Set("Link", fmt.Sprintf(`<%s%s/repos/octo/api/pulls/7/files?page=%d&per_page=%d>; rel="next"`, srv.URL, prefix, page+1, per))
		}
		json.NewEncoder(w).Encode(files[lo:hi])
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestPullRequestFiles(t *testing.T) {
	files := []compareFile{
		{Filename: "src/main.go", Status: "modified"},
		{Filename: "docs/new.md", Status: "added"},
		{Filename: "old.txt", Status: "removed"},
		{Filename: "pkg/b.go", Status: "renamed", PreviousFilename: "pkg/a.go"},
		{Filename: "Makefile", Status: "changed"},
	}
	const want = "+docs/new.md +pkg/b.go ~Makefile ~src/main.go -old.txt -pkg/a.go"
	many := make([]compareFile, maxPullRequestFiles)
	for i := range many {
		many[i] = compareFile{Filename: fmt.Sprintf("gen/%04d.go", i), Status: "added"}
	}
	var calls atomic.Int32
	dotcom := fakePullRequestFiles(t, "", files, &calls)
	tests := []struct {
		name, url, token string
		number           int
		want             string
	}{
		{"github.com", dotcom, testToken, 7, want},
		{"GHES", fakePullRequestFiles(t, "/api/v3", files, &calls) + "/api/v3", testToken, 7, want},
		{"no files", fakePullRequestFiles(t, "", nil, &calls), testToken, 7, ""},
		{"at GitHub's limit", fakePullRequestFiles(t, "", many, &calls), testToken, 7, "no list"},
		{"unknown pull request", dotcom, testToken, 8, "no list"},
		{"no number", dotcom, testToken, 0, "no list"},
		{"bad token", dotcom, "ghp_wrong", 7, "rejected"},
		{"server error", tokentest.Answer(t, 502, nil, "bad gateway"), testToken, 7, "unavailable"},
		{"unreachable", tokentest.Unreachable(), testToken, 7, "unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PullRequestFiles(t.Context(), http.DefaultClient, tc.url, providers.Token{Value: tc.token}, "octo/api", tc.number)
			if out := tokentest.CompareOutcome(t, tc.token, got, err); out != tc.want {
				t.Errorf("PullRequestFiles = %q (%v), want %q", out, err, tc.want)
			}
		})
	}
}
