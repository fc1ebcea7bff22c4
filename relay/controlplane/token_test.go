package controlplane

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/forgelink/forgelink/providers"
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
	}
	return providers.AccessToken{}, fmt.Errorf("installation token: something odd")
}

// GitHost: every fake connection's provider is at github.example.
func (f *fakeRepoTokens) GitHost(context.Context, store.Connection) (string, error) {
	return "github.example", nil
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
	for _, host := range []string{"github.example", "GitHub.example:443", "github.example:8080"} {
		withHost := `{"ConnectionArn":"` + arn + `","Repository":"octo/app","Host":"` + host + `"}`
		if code, msg := f.call(t, "GetConnectionToken", withHost, nil); code != "" {
			t.Errorf("for the provider's own host %s: %s: %s", host, code, msg)
		}
	}
	tokens.mu.Lock()
	if want := id + " octo/app"; tokens.calls[0] != want {
		t.Errorf("provider asked for %q, want %q", tokens.calls[0], want)
	}
	tokens.mu.Unlock()

	refusals := []struct {
		name, body, code, msg string
	}{
		{"pending", tokenBody(pending, "octo/app"), codeUnavailable, "connection " + pending + " is PENDING"},
		{"error", tokenBody(broken, "octo/app"), codeUnavailable, "connection " + broken + " is ERROR (the installation was deleted)"},
		{"not found", tokenBody(arn, "octo/missing"), codeNotFound, "repository octo/missing is not found through connection " + arn},
		{"rejected", tokenBody(arn, "octo/rejected"), codeUnavailable, "the provider rejected the credential of connection " + arn},
		{"provider down", tokenBody(arn, "octo/down"), codeInternal, "could not get a token for octo/down from the provider of connection " + arn},
		{"internal", tokenBody(arn, "octo/broken"), codeInternal, "internal error"},
		{"unknown connection", tokenBody(arn[:strings.LastIndexByte(arn, '/')+1]+"00000000-0000-0000-0000-000000000000", "octo/app"), codeNotFound, "does not exist"},
		{"another host", `{"ConnectionArn":"` + arn + `","Repository":"octo/app","Host":"evil.example"}`, codeValidation,
			"reaches its repositories at github.example; refusing to give its token for evil.example"},
		{"another host, the provider's port", `{"ConnectionArn":"` + arn + `","Repository":"octo/app","Host":"evil.example:443"}`, codeValidation, "refusing"},
		{"empty host", `{"ConnectionArn":"` + arn + `","Repository":"octo/app","Host":""}`, codeValidation, "Host"},
		{"no repository", `{"ConnectionArn":"` + arn + `"}`, codeValidation, "Repository"},
		{"no owner", tokenBody(arn, "app"), codeValidation, "owner/name"},
		{"dot segment", tokenBody(arn, "octo/.."), codeValidation, "owner/name"},
		{"no arn", `{"Repository":"octo/app"}`, codeValidation, "ConnectionArn"},
		{"not an arn", tokenBody("connection/x", "octo/app"), codeValidation, "ConnectionArn"},
	}
	for _, r := range refusals {
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
