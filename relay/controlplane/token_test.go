package controlplane

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/egress"
	"github.com/forgelink/forgelink/store"
)

const fakeToken = "ghs_FAKEinstallationTOKEN0123456789"

var fakeExpiry = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeRepoTokens vends fakeToken for octo/app and octo/noexpiry, and fails
// for octo/missing (not found), octo/rejected (credential refused),
// octo/down (provider unavailable) and octo/broken (anything else).
type fakeRepoTokens struct {
	mu    sync.Mutex
	calls []string // "connection-id repository"
	// scheme and hostport are the providers' origin: https://github.example
	// when empty.
	scheme, hostport string
}

func (f *fakeRepoTokens) RepositoryToken(_ context.Context, conn store.Connection, repository string) (providers.AccessToken, error) {
	f.mu.Lock()
	f.calls = append(f.calls, conn.ID+" "+repository)
	f.mu.Unlock()
	switch repository {
	case "octo/app", "group/sub/project":
		return providers.AccessToken{Token: fakeToken, Username: "x-access-token", ExpiresAt: fakeExpiry}, nil
	case "octo/noexpiry":
		return providers.AccessToken{Token: fakeToken, Username: "oauth2"}, nil
	case "octo/missing":
		return providers.AccessToken{}, fmt.Errorf("installation token: %w", providers.ErrNotFound)
	case "octo/rejected":
		return providers.AccessToken{}, fmt.Errorf("installation token: %w", &providers.StatusError{StatusCode: 401})
	case "octo/down":
		return providers.AccessToken{}, fmt.Errorf("installation token: %w: connection refused", providers.ErrProviderUnavailable)
	case "octo/private-ca":
		// As the providers wrap a transport failure: unavailable, with the
		// certificate's error inside.
		return providers.AccessToken{}, fmt.Errorf("installation token: %w: %w", providers.ErrProviderUnavailable,
			&egress.CertificateError{Origin: "https://ghes.example", Err: x509.UnknownAuthorityError{}})
	}
	return providers.AccessToken{}, fmt.Errorf("installation token: something odd")
}

// GitOrigin: every fake connection's provider is at the same origin.
func (f *fakeRepoTokens) GitOrigin(context.Context, store.Connection) (string, string, error) {
	if f.scheme == "" {
		return "https", "github.example", nil
	}
	return f.scheme, f.hostport, nil
}

func (f *fakeRepoTokens) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func TestGetConnectionToken(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	tokens := &fakeRepoTokens{}
	f := newFixture(t, Limits{}, false, func(o *Options) {
		o.Log = zap.New(core)
		o.RepositoryTokens = tokens
	})
	ctx := t.Context()
	arn, id := f.available(t, "gh")
	pending, _ := (&completeFixture{fixture: f}).connection(t, "pending", "GitLab", nil)
	broken, brokenID := f.available(t, "broken")
	oauth, oauthID := f.available(t, "oauth")
	if err := f.store.SetConnectionCredential(ctx, oauthID, store.Credential{Kind: store.CredentialOAuth, Sealed: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetConnectionStatus(ctx, brokenID, store.StatusError, "the installation was deleted"); err != nil {
		t.Fatal(err)
	}

	var out map[string]any
	if code, msg := f.call(t, "GetConnectionToken", tokenBody(arn, "octo/app"), &out); code != "" {
		t.Fatalf("%s: %s", code, msg)
	}
	if out["Username"] != "x-access-token" || out["Token"] != fakeToken || out["ExpiresAt"] != float64(fakeExpiry.Unix()) {
		t.Errorf("answer %v", out)
	}
	if got := f.mustCall(t, "GetConnectionToken", tokenBody(arn, "octo/noexpiry")); got != `{"Token":"`+fakeToken+`","Username":"oauth2"}` {
		t.Errorf("without expiry: %s", got)
	}
	f.mustCall(t, "GetConnectionToken", tokenBody(arn, "group/sub/project"))
	for _, host := range []string{"github.example", "GitHub.example:443"} {
		if code, msg := f.call(t, "GetConnectionToken", tokenBodyFor(arn, "octo/app", "https", host, ""), nil); code != "" {
			t.Errorf("for the provider's own host %s: %s: %s", host, code, msg)
		}
	}
	tokens.mu.Lock()
	if want := id + " octo/app"; tokens.calls[0] != want {
		t.Errorf("provider asked for %q, want %q", tokens.calls[0], want)
	}
	tokens.mu.Unlock()

	calls := tokens.count()
	refusals := []struct {
		name, body, code, msg string
	}{
		{"pending", tokenBody(pending, "octo/app"), codeUnavailable, "connection " + pending + " is PENDING"},
		{"error", tokenBody(broken, "octo/app"), codeUnavailable, "connection " + broken + " is ERROR (the installation was deleted)"},
		{"unknown connection", tokenBody(arn[:strings.LastIndexByte(arn, '/')+1]+"00000000-0000-0000-0000-000000000000", "octo/app"), codeNotFound, "does not exist"},
		{"another host", tokenBodyFor(arn, "octo/app", "https", "evil.example", ""), codeInvalidInput,
			"reaches its repositories at github.example; refusing to give its token for evil.example"},
		{"another host, the provider's port", tokenBodyFor(arn, "octo/app", "https", "evil.example:443", ""), codeInvalidInput, "refusing"},
		{"the provider's host on another port", tokenBodyFor(arn, "octo/app", "https", "github.example:8443", ""), codeInvalidInput,
			"refusing to give its token for github.example:8443"},
		{"plain http", tokenBodyFor(arn, "octo/app", "http", "github.example", ""), codeInvalidInput, "refusing to give its token for protocol http"},
		{"ssh", tokenBodyFor(arn, "octo/app", "ssh", "github.example", ""), codeInvalidInput, "not for protocol \"ssh\""},
		{"no protocol", `{"ConnectionArn":"` + arn + `","Repository":"octo/app","Host":"github.example"}`, codeValidation, "Protocol"},
		{"no host", `{"ConnectionArn":"` + arn + `","Repository":"octo/app","Protocol":"https"}`, codeValidation, "Host"},
		{"empty host", tokenBodyFor(arn, "octo/app", "https", "", ""), codeValidation, "Host"},
		{"bad permissions", tokenBodyFor(arn, "octo/app", "https", "github.example", "admin"), codeValidation, "Permissions"},
		{"read_only of an unnarrowable credential", tokenBody(oauth, "octo/app"), codeInvalidInput, "cannot hand out a read-only token"},
		{"no repository", `{"ConnectionArn":"` + arn + `","Protocol":"https","Host":"github.example"}`, codeValidation, "Repository"},
		{"no owner", tokenBody(arn, "app"), codeValidation, "owner/name"},
		{"dot segment", tokenBody(arn, "octo/.."), codeValidation, "owner/name"},
		{"no arn", `{"Repository":"octo/app","Protocol":"https","Host":"github.example"}`, codeValidation, "ConnectionArn"},
		{"not an arn", tokenBody("connection/x", "octo/app"), codeValidation, "ConnectionArn"},
	}
	for _, r := range refusals {
		if code, msg := f.call(t, "GetConnectionToken", r.body, nil); code != r.code || !strings.Contains(msg, r.msg) {
			t.Errorf("%s: %s: %s; want %s: ...%s...", r.name, code, msg, r.code, r.msg)
		}
	}
	if tokens.count() != calls {
		t.Error("a refused request reached the provider")
	}
	// read_write of the same connection is given.
	if code, msg := f.call(t, "GetConnectionToken", tokenBodyFor(oauth, "octo/app", "https", "github.example", "read_write"), nil); code != "" {
		t.Errorf("read_write of an OAuth connection: %s: %s", code, msg)
	}
	provider := []struct {
		name, body, code, msg string
	}{
		{"not found", tokenBody(arn, "octo/missing"), codeNotFound, "repository octo/missing is not found through connection " + arn},
		{"rejected", tokenBody(arn, "octo/rejected"), codeUnavailable, "the provider rejected the credential of connection " + arn},
		{"untrusted certificate", tokenBody(arn, "octo/private-ca"), codeUnavailable, "set its host's VpcConfiguration.TlsCertificate"},
		{"provider down", tokenBody(arn, "octo/down"), codeInternal, "could not get a token for octo/down from the provider of connection " + arn},
		{"internal", tokenBody(arn, "octo/broken"), codeInternal, "internal error"},
	}
	for _, r := range provider {
		if code, msg := f.call(t, "GetConnectionToken", r.body, nil); code != r.code || !strings.Contains(msg, r.msg) {
			t.Errorf("%s: %s: %s; want %s: ...%s...", r.name, code, msg, r.code, r.msg)
		}
	}

	// Issued tokens are audited with who, what and until when; the token
	// appears in no log entry at all.
	audits := logs.FilterLoggerName("audit").FilterMessage("issued a connection token").All()
	if len(audits) != 6 {
		t.Fatalf("%d audit entries, want 6 (one per issued token)", len(audits))
	}
	fields := audits[0].ContextMap()
	want := map[string]any{
		"access_key_id":  "(unauthenticated)",
		"connection_arn": arn,
		"repository":     "octo/app",
		"provider_type":  "GitHub",
		"expires_at":     fakeExpiry,
		"permissions":    "read_only",
	}
	for k, v := range want {
		if got, ok := fields[k]; !ok || fmt.Sprint(got) != fmt.Sprint(v) {
			t.Errorf("audit field %s = %v, want %v", k, got, v)
		}
	}
	if audits[0].Level != zapcore.InfoLevel {
		t.Errorf("audit level %s", audits[0].Level)
	}
	if _, ok := audits[1].ContextMap()["expires_at"]; ok {
		t.Error("an expiry audited for a token without one")
	}
	for _, e := range logs.All() {
		if strings.Contains(e.Message, fakeToken) || strings.Contains(fmt.Sprint(e.ContextMap()), fakeToken) {
			t.Errorf("log entry %q carries the token: %v", e.Message, e.ContextMap())
		}
	}
}

func TestGetConnectionTokenUnsupported(t *testing.T) {
	f := newFixture(t, Limits{}, false)
	arn, _ := f.available(t, "gh")
	if code, msg := f.call(t, "GetConnectionToken", tokenBody(arn, "octo/app"), nil); code != codeUnsupportedOp {
		t.Errorf("no RepositoryTokens: %s: %s", code, msg)
	}
}

// TestGetConnectionTokenAudit: the audit entry names the access key that
// signed the request.
func TestGetConnectionTokenAudit(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	f := newFixture(t, Limits{}, true, func(o *Options) {
		o.Log = zap.New(core)
		o.RepositoryTokens = &fakeRepoTokens{}
	})
	arn, _ := f.available(t, "gh")
	if code, msg, _ := f.signedCall(t, testKeyID, "GetConnectionToken", tokenBody(arn, "octo/app")); code != "" {
		t.Fatalf("%s: %s", code, msg)
	}
	audits := logs.FilterLoggerName("audit").All()
	if len(audits) != 1 || audits[0].ContextMap()["access_key_id"] != testKeyID {
		t.Errorf("audit entries %v", audits)
	}
}

// TestGetConnectionTokenPlainHTTP: http only for a provider whose own
// origin is http, and only when the operator allowed plain-HTTP endpoints.
func TestGetConnectionTokenPlainHTTP(t *testing.T) {
	for _, allow := range []bool{false, true} {
		f := newFixture(t, Limits{AllowHTTPEndpoints: allow}, false, func(o *Options) {
			o.RepositoryTokens = &fakeRepoTokens{scheme: "http", hostport: "git.example:8080"}
		})
		arn, _ := f.available(t, "gh")
		tests := []struct {
			protocol, host string
			ok             bool
		}{
			{"http", "git.example:8080", allow},
			{"https", "git.example:8080", false},
			{"http", "git.example", false},
			{"http", "git.example:80", false},
		}
		for _, tc := range tests {
			code, msg := f.call(t, "GetConnectionToken", tokenBodyFor(arn, "octo/app", tc.protocol, tc.host, ""), nil)
			if (code == "") != tc.ok || (code != "" && code != codeInvalidInput) {
				t.Errorf("allow=%v %s://%s: %s: %s; want ok=%v", allow, tc.protocol, tc.host, code, msg, tc.ok)
			}
		}
	}
}

func TestWithPort(t *testing.T) {
	tests := []struct{ scheme, in, want string }{
		{"https", "github.com", "github.com:443"},
		{"http", "github.com", "github.com:80"},
		{"https", "github.com:8443", "github.com:8443"},
		{"https", "[::1]", "[::1]:443"},
		{"https", "[::1]:444", "[::1]:444"},
	}
	for _, tc := range tests {
		if got := withPort(tc.scheme, tc.in); got != tc.want {
			t.Errorf("withPort(%s, %s) = %s, want %s", tc.scheme, tc.in, got, tc.want)
		}
	}
}
