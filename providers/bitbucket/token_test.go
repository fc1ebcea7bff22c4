package bitbucket

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/providers/internal/tokentest"
)

const (
	appPassword = "ATBBs3cretAPPPASSWORD"
	accessToken = "ATCTTs3cretACCESSTOKEN"
)

// fakeBitbucket serves GET /2.0/user as Bitbucket Cloud documents it:
// Basic auth with a username and app password, or a bearer token; 401
// otherwise.
func fakeBitbucket(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2.0/user", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		user, password, basic := r.BasicAuth()
		bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		var username string
		switch {
		case basic && user == "jdoe" && password == appPassword:
			username = "jdoe"
		case !basic && bearer == accessToken:
			username = "ci-bot"
		default:
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"type":"error","error":{"message":"Unauthorized"}}`))
			return
		}
		w.Write([]byte(`{"type":"user","username":"` + username + `","display_name":"J. Doe","account_id":"557058:0123"}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestCheckToken(t *testing.T) {
	bb := fakeBitbucket(t) + "/2.0"
	tests := []struct {
		name, url, token string
		want             string // as tokentest.Outcome renders it
	}{
		{"app password", bb, "jdoe:" + appPassword, "jdoe"},
		{"access token", bb, accessToken, "ci-bot"},
		{"bad app password", bb, "jdoe:wrong", "rejected 401"},
		{"bad access token", bb, "wrong", "rejected 401"},
		{"no password", bb, "jdoe:", "rejected 401"},
		{"missing scope", tokentest.Answer(t, 403, nil, `{"type":"error"}`), accessToken, "rejected 403"},
		{"server error", tokentest.Answer(t, 503, nil, "down"), accessToken, "unavailable 503"},
		{"no content", tokentest.Answer(t, 204, nil, ""), accessToken, "unavailable"},
		{"array", tokentest.Answer(t, 200, nil, `[]`), accessToken, "unavailable"},
		{"unreachable", tokentest.Unreachable(), accessToken, "unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			account, err := CheckToken(t.Context(), http.DefaultClient, tc.url, tc.token)
			if got := tokentest.Outcome(t, tc.token, account, err); got != tc.want {
				t.Errorf("CheckToken = %q, %v; want %s", account, err, tc.want)
			}
		})
	}
}

// TestCheckTokenContext checks that the context and the client's timeout
// reach the request, although go-bitbucket takes no context.
func TestCheckTokenContext(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(slow.Close)
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		client *http.Client
		want   error
	}{
		{"canceled", canceled, http.DefaultClient, context.Canceled},
		{"client timeout", t.Context(), &http.Client{Timeout: 50 * time.Millisecond}, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CheckToken(tc.ctx, tc.client, slow.URL, accessToken)
			if !errors.Is(err, tc.want) || !errors.Is(err, providers.ErrProviderUnavailable) {
				t.Errorf("error %v, want %v as ErrProviderUnavailable", err, tc.want)
			}
		})
	}
}
