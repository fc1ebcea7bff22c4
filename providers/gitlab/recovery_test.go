package gitlab

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/forgelink/forgelink/providers"
)

// fakeRefs serves GET /api/v4/projects/group%2Fsub%2Fapi/repository/
// {branches,tags}/{name} as GitLab documents them: the token authorized
// takes (401 otherwise), 404 for an unknown ref, 429 with Retry-After
// when limited.
func fakeRefs(t *testing.T, heads map[string]string, limited *bool) string {
	t.Helper()
	const prefix = "/api/v4/projects/group%2Fsub%2Fapi/repository/"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		kindName, ok := strings.CutPrefix(r.URL.EscapedPath(), prefix)
		kind, name, _ := strings.Cut(kindName, "/")
		name = strings.ReplaceAll(name, "%2F", "/")
		sha, known := heads[kind+"/"+name]
		switch {
		case !authorized(r):
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"message":"401 Unauthorized"}`))
		case *limited:
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"message":"429 Too Many Requests"}`))
		case !ok || !known:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"message":"404 Branch Not Found"}`))
		default:
			json.NewEncoder(w).Encode(map[string]any{"name": name, "commit": map[string]any{"id": sha}})
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/api/v4"
}

func TestHead(t *testing.T) {
	limited := false
	api := fakeRefs(t, map[string]string{"branches/main": shaAfter, "branches/feature/x": shaBefore, "tags/v1": shaBefore}, &limited)
	tests := []struct {
		name    string
		token   string
		ref     string
		limited bool
		want    string
		wantErr error
	}{
		{"branch", personalToken, "refs/heads/main", false, shaAfter, nil},
		{"branch with a slash", personalToken, "refs/heads/feature/x", false, shaBefore, nil},
		{"tag", personalToken, "refs/tags/v1", false, shaBefore, nil},
		{"unknown branch", personalToken, "refs/heads/gone", false, "", providers.ErrNotFound},
		{"not a ref", personalToken, "main", false, "", providers.ErrNotFound},
		{"refused token", "glpat-wrong", "refs/heads/main", false, "", providers.ErrTokenRejected},
		{"rate limited", personalToken, "refs/heads/main", true, "", providers.ErrProviderUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limited = tt.limited
			h, err := NewHeads(http.DefaultClient, api, providers.Token{Value: tt.token})
			if err != nil {
				t.Fatal(err)
			}
			got, err := h.Head(t.Context(), "group/sub/api", tt.ref, "")
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Fatalf("Head = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
			var rl *providers.RateLimitError
			if tt.limited && (!errors.As(err, &rl) || rl.Wait != 30*time.Second) {
				t.Fatalf("rate limit: %v, want a 30 s *providers.RateLimitError", err)
			}
		})
	}
}

// fakeHookEvents serves GitLab's hook events of hook 7 of group/sub/api
// as documented: newest first, per_page (at most 100) pages with
// X-Next-Page, resend 201; version answers GET /version. The token
// authorized takes (401 otherwise); an old server (before 17.4) answers
// 404 to both events endpoints.
type fakeHookEvents struct {
	version string
	events  []map[string]any // newest first
	resent  []string
}

func (f *fakeHookEvents) serve(t *testing.T) string {
	t.Helper()
	const prefix = "/api/v4/projects/group%2Fsub%2Fapi/hooks/7/events"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		path := r.URL.EscapedPath()
		old := !versionAtLeast(f.version, 17, 4)
		switch {
		case !authorized(r):
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"message":"401 Unauthorized"}`))
		case path == "/api/v4/version":
			json.NewEncoder(w).Encode(map[string]string{"version": f.version, "revision": "abc"})
		case old && strings.HasPrefix(path, prefix):
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":"404 Not Found"}`))
		case r.Method == http.MethodGet && path == prefix:
			page, _ := strconv.Atoi(r.URL.Query().Get("page"))
			per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
			page, per = max(page, 1), min(max(per, 1), 100)
			start := min((page-1)*per, len(f.events))
			end := min(start+per, len(f.events))
			if end < len(f.events) {
				w.Header().Set("X-Next-Page", strconv.Itoa(page+1))
			}
			json.NewEncoder(w).Encode(f.events[start:end])
		case r.Method == http.MethodPost && strings.HasPrefix(path, prefix+"/") && strings.HasSuffix(path, "/resend"):
			f.resent = append(f.resent, strings.TrimSuffix(strings.TrimPrefix(path, prefix+"/"), "/resend"))
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{"response_status":201}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":"404 Not Found"}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/api/v4"
}

func TestHookLog(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	f := &fakeHookEvents{version: "17.4.2-ee"}
	for i := range 150 { // newest first, a minute apart
		status := "200"
		if i%50 == 0 {
			status = "internal error"
		}
		f.events = append(f.events, map[string]any{
			"id": 1000 - i, "trigger": "push_hooks", "response_status": status,
			"request_headers": map[string]string{"Idempotency-Key": fmt.Sprintf("key-%d", 1000-i), "X-Gitlab-Event": "Push Hook"},
			"created_at":      now.Add(-time.Duration(i) * time.Minute).Format(time.RFC3339),
		})
	}
	api := f.serve(t)
	tok := providers.Token{Value: personalToken}
	if ok, err := SupportsResend(t.Context(), http.DefaultClient, api, tok); err != nil || !ok {
		t.Fatalf("SupportsResend on 17.4.2 = %v, %v", ok, err)
	}
	log, err := NewHookLog(http.DefaultClient, api, tok, "group/sub/api", "7")
	if err != nil {
		t.Fatal(err)
	}
	all, err := log.Deliveries(t.Context(), now.Add(-200*time.Minute))
	if err != nil || len(all) != 150 {
		t.Fatalf("Deliveries over two pages = %d, %v; want 150", len(all), err)
	}
	if all[0].GUID != "key-1000" || all[0].OK || !all[1].OK || all[0].ID != "1000" {
		t.Errorf("first event %+v, second %+v", all[0], all[1])
	}
	recent, err := log.Deliveries(t.Context(), now.Add(-10*time.Minute-time.Second))
	if err != nil || len(recent) != 11 {
		t.Fatalf("Deliveries of the last 10 minutes = %d, %v; want 11", len(recent), err)
	}
	if err := log.Redeliver(t.Context(), "1000"); err != nil || len(f.resent) != 1 || f.resent[0] != "1000" {
		t.Fatalf("Redeliver = %v, resent %v", err, f.resent)
	}

	f.version = "17.3.0"
	if ok, err := SupportsResend(t.Context(), http.DefaultClient, api, tok); err != nil || ok {
		t.Fatalf("SupportsResend on 17.3 = %v, %v; want false", ok, err)
	}
	if _, err := log.Deliveries(t.Context(), time.Time{}); !errors.Is(err, providers.ErrHookLogRefused) {
		t.Errorf("events on an old server: %v, want ErrHookLogRefused", err)
	}
	bad, _ := NewHookLog(http.DefaultClient, api, providers.Token{Value: "glpat-wrong"}, "group/sub/api", "7")
	if _, err := bad.Deliveries(t.Context(), time.Time{}); !errors.Is(err, providers.ErrTokenRejected) {
		t.Errorf("a refused token: %v, want ErrTokenRejected", err)
	}
}

func TestVersionAtLeast(t *testing.T) {
	for v, want := range map[string]bool{"17.4.0": true, "17.4.1-ee": true, "17.10.0": true, "18.0.0-pre": true,
		"17.3.9": false, "16.11.2": false, "": false, "x.y": false, "17": false} {
		if got := versionAtLeast(v, 17, 4); got != want {
			t.Errorf("versionAtLeast(%q) = %v, want %v", v, got, want)
		}
	}
}

func FuzzVersionAtLeast(f *testing.F) {
	for _, v := range []string{"17.4.0", "16.0.0-ee", "", "1.2", "99999999999999999999.1"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		// At least 17.4 only when it starts with a major and a minor in
		// digits, never for text or a sign.
		if versionAtLeast(v, 17, 4) && (v == "" || v[0] < '0' || v[0] > '9' || !strings.Contains(v, ".")) {
			t.Fatalf("%q read as at least 17.4", v)
		}
	})
}
