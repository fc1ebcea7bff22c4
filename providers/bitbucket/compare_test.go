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

const (
	shaBefore = "1111111111111111111111111111111111111111"
	shaAfter  = "2222222222222222222222222222222222222222"
)

// diffstat is one diffstat entry as Bitbucket sends it; a nil side is
// sent as null.
type diffstat struct {
	Status string
	Old    string // path; "" for null
	New    string
}

func (d diffstat) MarshalJSON() ([]byte, error) {
	side := func(p string) any {
		if p == "" {
			return nil
		}
		return map[string]any{"path": p, "type": "commit_file", "escaped_path": p}
	}
	return json.Marshal(map[string]any{
		"type": "diffstat", "status": d.Status, "lines_added": 1, "lines_removed": 0,
		"old": side(d.Old), "new": side(d.New),
	})
}

// fakeDiffstat serves GET /2.0/repositories/ws/api/diffstat/{spec} as
// Bitbucket Cloud documents it: Basic auth with a username and app
// password, or a bearer token (401 otherwise); spec as "new..old", the
// commit with the changes first (404 for other commits); topic=true and
// never merge with it (400); entries pagelen at a time, numbered pages
// linked by next. It counts the requests it serves.
func fakeDiffstat(t *testing.T, entries []diffstat, pagelen int, calls *atomic.Int32) string {
	t.Helper()
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2.0/repositories/ws/api/diffstat/{spec}", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		user, password, basic := r.BasicAuth()
		bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		q := r.URL.Query()
		switch {
		case !(basic && user == "jdoe" && password == appPassword) && !(!basic && bearer == accessToken):
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"type":"error","error":{"message":"Unauthorized"}}`))
			return
		case r.PathValue("spec") != shaAfter+".."+shaBefore:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"type":"error","error":{"message":"Commit not found"}}`))
			return
		case q.Get("topic") != "true" || q.Has("merge"):
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"type":"error","error":{"message":"merge and topic cannot be used together"}}`))
			return
		}
		page := 1
		if p := q.Get("page"); p != "" {
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

func TestCompareFiles(t *testing.T) {
	entries := []diffstat{
		{"modified", "src/main.go", "src/main.go"},
		{"added", "", "docs/new.md"},
		{"removed", "old.txt", ""},
		{"renamed", "pkg/a.go", "pkg/b.go"},
		{"merge conflict", "conflict.txt", "conflict.txt"},
	}
	const want = "+docs/new.md +pkg/b.go ~conflict.txt ~src/main.go -old.txt -pkg/a.go"
	many := make([]diffstat, providers.MaxCompareFiles+1)
	for i := range many {
		many[i] = diffstat{"added", "", fmt.Sprintf("gen/%04d.go", i)}
	}
	var calls atomic.Int32
	bb := fakeDiffstat(t, entries, 500, &calls)
	tests := []struct {
		name, url, token string
		want             string // as tokentest.CompareOutcome renders it
	}{
		{"app password", bb, "jdoe:" + appPassword, want},
		{"access token", bb, accessToken, want},
		{"two entries a page", fakeDiffstat(t, entries, 2, &calls), accessToken, want},
		{"one entry a page", fakeDiffstat(t, entries, 1, &calls), accessToken, want},
		{"nothing changed", fakeDiffstat(t, nil, 500, &calls), accessToken, ""},
		{"too many files", fakeDiffstat(t, many, 500, &calls), accessToken, "no list"},
		{"bad token", bb, "wrong", "rejected"},
		{"diffstat timed out", tokentest.Answer(t, 555, nil, `{"type":"error","error":{"message":"Timeout"}}`), accessToken, "no list"},
		{"rate limited", tokentest.Answer(t, 429, nil, `{"type":"error"}`), accessToken, "unavailable"},
		{"server error", tokentest.Answer(t, 502, nil, "bad gateway"), accessToken, "unavailable"},
		{"not JSON", tokentest.Answer(t, 200, nil, "<html>"), accessToken, "unavailable"},
		{"unreachable", tokentest.Unreachable(), accessToken, "unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CompareFiles(t.Context(), http.DefaultClient, tc.url, providers.Token{Value: tc.token}, "ws/api", shaBefore, shaAfter)
			if out := tokentest.CompareOutcome(t, tc.token, got, err); out != tc.want {
				t.Errorf("CompareFiles = %q (%v), want %q", out, err, tc.want)
			}
		})
	}
}

// TestCompareFilesPages checks that the pages are read in order, each
// once, and that a next link without a page number is not followed.
func TestCompareFilesPages(t *testing.T) {
	var calls atomic.Int32
	entries := []diffstat{{"added", "", "a"}, {"added", "", "b"}, {"added", "", "c"}}
	url := fakeDiffstat(t, entries, 1, &calls)
	got, err := CompareFiles(t.Context(), http.DefaultClient, url, providers.Token{Value: accessToken}, "ws/api", shaBefore, shaAfter)
	if out := tokentest.CompareOutcome(t, accessToken, got, err); out != "+a +b +c" {
		t.Errorf("CompareFiles = %q (%v), want +a +b +c", out, err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("%d requests for 3 pages", n)
	}

	cursor := tokentest.Answer(t, 200, nil, `{"values":[{"status":"added","new":{"path":"a"}}],"next":"https://api.bitbucket.org/2.0/x?page=abc123"}`)
	got, err = CompareFiles(t.Context(), http.DefaultClient, cursor, providers.Token{Value: accessToken}, "ws/api", shaBefore, shaAfter)
	if out := tokentest.CompareOutcome(t, accessToken, got, err); out != "no list" {
		t.Errorf("CompareFiles with a cursor = %q (%v), want no list", out, err)
	}
}

// TestCompareFilesNothingToCompare checks that pushes without two commits
// are refused without asking Bitbucket.
func TestCompareFilesNothingToCompare(t *testing.T) {
	var calls atomic.Int32
	url := fakeDiffstat(t, nil, 500, &calls)
	for _, tc := range []struct{ name, repo, before, after string }{
		{"created branch", "ws/api", providers.ZeroSHA, shaAfter},
		{"not workspace/slug", "api", shaBefore, shaAfter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CompareFiles(t.Context(), http.DefaultClient, url, providers.Token{Value: accessToken}, tc.repo, tc.before, tc.after)
			if out := tokentest.CompareOutcome(t, accessToken, got, err); out != "no list" {
				t.Errorf("CompareFiles = %q (%v), want no list", out, err)
			}
		})
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("Bitbucket was asked %d times, want 0", n)
	}
}

// TestFilesOAuthToken checks that an OAuth token goes as a bearer token,
// even when it reads like "user:app_password".
func TestFilesOAuthToken(t *testing.T) {
	var calls atomic.Int32
	entries := []diffstat{{"modified", "a.go", "a.go"}}
	compare, pr := fakeDiffstat(t, entries, 500, &calls), fakePullRequestDiffstat(t, entries, 500, &calls)
	for _, tc := range []struct {
		name string
		tok  providers.Token
		want string // as tokentest.CompareOutcome renders it
	}{
		{"app password", providers.Token{Value: "jdoe:" + appPassword}, "~a.go"},
		{"oauth token", providers.Token{Value: accessToken, OAuth: true}, "~a.go"},
		{"oauth token with a colon", providers.Token{Value: "jdoe:" + appPassword, OAuth: true}, "rejected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CompareFiles(t.Context(), http.DefaultClient, compare, tc.tok, "ws/api", shaBefore, shaAfter)
			if out := tokentest.CompareOutcome(t, tc.tok.Value, got, err); out != tc.want {
				t.Errorf("CompareFiles = %q (%v), want %q", out, err, tc.want)
			}
			got, err = PullRequestFiles(t.Context(), http.DefaultClient, pr, tc.tok, "ws/api", 7)
			if out := tokentest.CompareOutcome(t, tc.tok.Value, got, err); out != tc.want {
				t.Errorf("PullRequestFiles = %q (%v), want %q", out, err, tc.want)
			}
		})
	}
}
