package localonly

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"
)

func TestIsLocal(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"127.0.0.1", true},
		{"127.0.0.1:7788", true},
		{"127.1.2.3:80", true},
		{"localhost", true},
		{"localhost:7788", true},
		{"LocalHost:7788", true},
		{"localhost:", true},
		{"[::1]", true},
		{"[::1]:7788", true},
		{"[::ffff:127.0.0.1]:7788", true},
		{"::1", true},

		{"", false},
		{"evil.example", false},
		{"evil.example:7788", false},
		{"127.0.0.1.nip.io", false},
		{"127.0.0.1.nip.io:7788", false},
		{"localhost.evil.com", false},
		{"localhost.evil.com:7788", false},
		{"localhost.", false},
		{"0.0.0.0:7788", false},
		{"10.0.0.1:7788", false},
		{"[::]:7788", false},
		{"[::1%lo]:7788", false},
		{"[::1", false},
		{"127.0.0.1:http", false},
		{"2130706433", false}, // 127.0.0.1 as a number: not a literal browsers send as such
		{"127.1", false},
		{"[localhost]:7788", true}, // SplitHostPort strips the brackets; still only this host
	}
	for _, tt := range tests {
		if got := IsLocal(tt.host); got != tt.want {
			t.Errorf("IsLocal(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

func TestHandler(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "served") })
	exempt := func(path string) bool { return strings.HasPrefix(path, "/webhooks/") || path == "/healthz" }
	h := Handler(next, exempt, zap.NewNop())
	tests := []struct {
		name, method, path, host string
		wantStatus               int
		wantType                 string // the AWS error code, for the API path
	}{
		{"api on loopback", "POST", "/", "127.0.0.1:7788", 200, ""},
		{"api on localhost", "POST", "/", "localhost:7788", 200, ""},
		{"api on [::1]", "POST", "/", "[::1]:7788", 200, ""},
		{"api rebinding", "POST", "/", "evil.example", 403, "AccessDeniedException"},
		{"api empty host", "POST", "/", "", 403, "AccessDeniedException"},
		{"console rebinding", "GET", "/console/", "evil.example:7788", 403, ""},
		{"setup rebinding", "GET", "/setup/start", "localhost.evil.com", 403, ""},
		{"metrics rebinding", "GET", "/metrics", "127.0.0.1.nip.io:7788", 403, ""},
		{"webhook through a tunnel", "POST", "/webhooks/abc", "hooks.example.com", 200, ""},
		{"app webhook through a tunnel", "POST", "/webhooks/github-app/1", "hooks.example.com", 200, ""},
		{"healthz", "GET", "/healthz", "evil.example", 200, ""},
		{"readyz rebinding", "GET", "/readyz", "evil.example", 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://placeholder"+tt.path, nil)
			r.Host = tt.host
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (%s)", w.Code, tt.wantStatus, w.Body)
			}
			if tt.wantStatus == 200 {
				if w.Body.String() != "served" {
					t.Errorf("body = %q, want the next handler's", w.Body)
				}
				return
			}
			if !strings.Contains(w.Body.String(), "FORGELINK_ROOT_ACCESS_KEY_ID") {
				t.Errorf("refusal does not say what to do: %q", w.Body)
			}
			if tt.wantType == "" {
				return
			}
			var e struct {
				Type string `json:"__type"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Type != tt.wantType {
				t.Errorf("body = %q (%v), want __type %s", w.Body, err, tt.wantType)
			}
			if got := w.Header().Get("X-Amzn-ErrorType"); got != tt.wantType {
				t.Errorf("X-Amzn-ErrorType = %q, want %s", got, tt.wantType)
			}
		})
	}
}

// FuzzIsLocal: a name under a domain the attacker controls is never local,
// whatever comes before it, with or without a port.
func FuzzIsLocal(f *testing.F) {
	for _, s := range []string{"localhost", "127.0.0.1", "[::1]", "[::1]:", "localhost:", "127.0.0.1:80", "a:b", "[::1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		IsLocal(s) // must not panic
		for _, h := range []string{s + ".evil.example", s + ".evil.example:80"} {
			if IsLocal(h) {
				t.Errorf("IsLocal(%q) = true", h)
			}
		}
	})
}
