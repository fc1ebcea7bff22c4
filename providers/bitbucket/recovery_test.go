package bitbucket

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/forgelink/forgelink/providers"
)

// fakeBranches serves GET /2.0/repositories/ws/api/refs/branches/{name}
// as Bitbucket Cloud documents it: bearer authentication (401
// otherwise), 404 for an unknown branch, 429 when limited.
func fakeBranches(t *testing.T, heads map[string]string, limited *bool) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2.0/repositories/ws/api/refs/branches/{name...}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer "+accessToken {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"type":"error","error":{"message":"Unauthorized"}}`))
			return
		}
		if *limited {
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"type":"error","error":{"message":"Rate limit for this resource has been exceeded"}}`))
			return
		}
		hash, ok := heads[r.PathValue("name")]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"type":"error","error":{"message":"Branch not found"}}`))
			return
		}
		w.Write([]byte(`{"type":"branch","name":"` + r.PathValue("name") + `","target":{"type":"commit","hash":"` + hash + `"}}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/2.0"
}

func TestHead(t *testing.T) {
	limited := false
	api := fakeBranches(t, map[string]string{"main": shaAfter, "release/1.0": shaBefore}, &limited)
	tests := []struct {
		name    string
		token   string
		ref     string
		limited bool
		want    string
		wantErr error
	}{
		{"branch", accessToken, "refs/heads/main", false, shaAfter, nil},
		{"branch with a slash", accessToken, "refs/heads/release/1.0", false, shaBefore, nil},
		{"unknown branch", accessToken, "refs/heads/gone", false, "", providers.ErrNotFound},
		{"a tag is not polled", accessToken, "refs/tags/v1", false, "", providers.ErrNotFound},
		{"refused token", "wrong", "refs/heads/main", false, "", providers.ErrTokenRejected},
		{"rate limited", accessToken, "refs/heads/main", true, "", providers.ErrProviderUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limited = tt.limited
			h, err := NewHeads(nil, api, providers.Token{Value: tt.token, OAuth: true})
			if err != nil {
				t.Fatal(err)
			}
			got, err := h.Head(t.Context(), "ws/api", tt.ref, "")
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Fatalf("Head = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
			var rl *providers.RateLimitError
			if tt.limited && !errors.As(err, &rl) {
				t.Fatalf("rate limit: %v, want a *providers.RateLimitError", err)
			}
			if err != nil && strings.Contains(err.Error(), tt.token) && tt.token != "" {
				t.Fatalf("error %q carries the token", err)
			}
		})
	}
}
