package gitlab

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
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
