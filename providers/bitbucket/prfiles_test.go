package bitbucket

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/providers/internal/tokentest"
)

// fakePullRequestDiffstat serves GET
// /2.0/repositories/ws/api/pullrequests/7/diffstat as Bitbucket Cloud
// does: a redirect to the repository diffstat of the pull request's
// revspec on the same host, which lists entries pagelen at a time, in
// numbered pages linked by next. Both want the token.
func fakePullRequestDiffstat(t *testing.T, entries []diffstat, pagelen int, calls *atomic.Int32) string {
	t.Helper()
	var srv *httptest.Server
	authorized := func(r *http.Request) bool {
		user, password, basic := r.BasicAuth()
		bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		return basic && user == "jdoe" && password == appPassword || !basic && bearer == accessToken
	}
	unauthorized := func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"type":"error","error":{"message":"Unauthorized"}}`))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2.0/repositories/ws/api/pullrequests/7/diffstat", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if !authorized(r) {
			unauthorized(w)
			return
		}
		http.Redirect(w, r, "/2.0/repositories/ws/api/diffstat/"+shaAfter+".."+shaBefore+"?topic=true", http.StatusFound)
	})
	mux.HandleFunc("GET /2.0/repositories/ws/api/diffstat/{spec}", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if !authorized(r) {
			unauthorized(w)
			return
		}
		page := 1
		if p := r.URL.Query().Get("page"); p != "" {
			page, _ = strconv.Atoi(p)
		}
		from := min((page-1)*pagelen, len(entries))
		to := min(from+pagelen, len(entries))
		body := map[string]any{"pagelen": pagelen, "size": len(entries), "page": page, "values": entries[from:to]}
		if to < len(entries) {
			body["next"] = fmt.Sprintf("%s/2.0/repositories/ws/api/diffstat/%s..%s?topic=true&page=%d", srv.URL, shaAfter, shaBefore, page+1)
		}
		json.NewEncoder(w).Encode(body)
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/2.0"
}

func TestPullRequestFiles(t *testing.T) {
	entries := []diffstat{
		{"modified", "src/main.go", "src/main.go"},
		{"added", "", "docs/new.md"},
		{"removed", "old.txt", ""},
		{"renamed", "pkg/a.go", "pkg/b.go"},
	}
	const want = "+docs/new.md +pkg/b.go ~src/main.go -old.txt -pkg/a.go"
	many := make([]diffstat, providers.MaxCompareFiles+1)
	for i := range many {
		many[i] = diffstat{"added", "", fmt.Sprintf("gen/%04d.go", i)}
	}
	var calls atomic.Int32
	bb := fakePullRequestDiffstat(t, entries, 500, &calls)
	tests := []struct {
		name, url, token string
		number           int
		want             string
	}{
		{"app password", bb, "jdoe:" + appPassword, 7, want},
		{"access token", bb, accessToken, 7, want},
		{"one entry a page", fakePullRequestDiffstat(t, entries, 1, &calls), accessToken, 7, want},
		{"nothing changed", fakePullRequestDiffstat(t, nil, 500, &calls), accessToken, 7, ""},
		{"too many files", fakePullRequestDiffstat(t, many, 500, &calls), accessToken, 7, "no list"},
		{"unknown pull request", bb, accessToken, 8, "no list"},
		{"no number", bb, accessToken, 0, "no list"},
		{"bad token", bb, "wrong", 7, "rejected"},
		{"redirect elsewhere", tokentest.Answer(t, 302, http.Header{"Location": {"https://elsewhere.example/x"}}, ""), accessToken, 7, "no list"},
		{"diffstat timed out", tokentest.Answer(t, 555, nil, `{"type":"error"}`), accessToken, 7, "no list"},
		{"server error", tokentest.Answer(t, 502, nil, "bad gateway"), accessToken, 7, "unavailable"},
		{"not JSON", tokentest.Answer(t, 200, nil, "<html>"), accessToken, 7, "unavailable"},
		{"unreachable", tokentest.Unreachable(), accessToken, 7, "unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PullRequestFiles(t.Context(), http.DefaultClient, tc.url, providers.Token{Value: tc.token}, "ws/api", tc.number)
			if out := tokentest.CompareOutcome(t, tc.token, got, err); out != tc.want {
				t.Errorf("PullRequestFiles = %q (%v), want %q", out, err, tc.want)
			}
		})
	}
}
