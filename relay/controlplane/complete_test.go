package controlplane

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	cctypes "github.com/aws/aws-sdk-go-v2/service/codeconnections/types"
	"github.com/google/uuid"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/store"
)

const goodToken = "glpat-GOODs3cret"

// fakeTokens accepts goodToken as "jdoe", is unreachable for
// "unreachable", and rejects every other token with HTTP 401.
type fakeTokens struct {
	mu    sync.Mutex
	calls []string // "providerType apiBaseURL"
}

func (f *fakeTokens) CheckToken(_ context.Context, providerType, apiBaseURL, token string) (string, error) {
	f.mu.Lock()
	f.calls = append(f.calls, providerType+" "+apiBaseURL)
	f.mu.Unlock()
	switch token {
	case goodToken:
		return "jdoe", nil
	case "unreachable":
		return "", fmt.Errorf("check: %w: connection refused", providers.ErrProviderUnavailable)
	}
	return "", fmt.Errorf("check: %w", &providers.StatusError{StatusCode: 401})
}

func (f *fakeTokens) lastCall() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return ""
	}
	return f.calls[len(f.calls)-1]
}

// completeFixture serves an API with fake token checks, and records the
// connections it was told changed.
type completeFixture struct {
	*fixture
	tokens  *fakeTokens
	kr      Keyring
	mu      sync.Mutex
	changed []string
}

func newCompleteFixture(t *testing.T) *completeFixture {
	t.Helper()
	f := &completeFixture{tokens: &fakeTokens{}}
	f.fixture = newFixture(t, Limits{}, false, func(o *Options) {
		o.Tokens = f.tokens
		o.ProviderURLs = config.Providers{GitHubAPIURL: "https://api.octo.ghe.com/"}
		o.ConnectionChanged = func(id string) {
			f.mu.Lock()
			f.changed = append(f.changed, id)
			f.mu.Unlock()
		}
		f.kr = o.Keyring
	})
	return f
}

// connection creates a connection, of a provider type or on a host, and
// returns its ARN and id.
func (f *completeFixture) connection(t *testing.T, name string, providerType cctypes.ProviderType, hostARN *string) (string, string) {
	t.Helper()
	out, err := f.cc.CreateConnection(t.Context(), &codeconnections.CreateConnectionInput{
		ConnectionName: aws.String(name), ProviderType: providerType, HostArn: hostARN,
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.ConnectionArn)
	return arn, arn[strings.LastIndexByte(arn, '/')+1:]
}

// host creates a host directly in the store, and returns its ARN.
func (f *completeFixture) host(t *testing.T, name, providerType, endpoint string) string {
	t.Helper()
	h := store.Host{ID: name + "-0123abcd", Name: name, ProviderType: providerType, ProviderEndpoint: endpoint,
		Region: testRegion, Status: store.StatusAvailable}
	if err := f.store.CreateHost(t.Context(), h, nil, 0); err != nil {
		t.Fatal(err)
	}
	return formatARN(namespaces[0], testRegion, "123456789012", store.KindHost, h.ID)
}

func completeBody(arn, token string) string {
	return fmt.Sprintf(`{"ConnectionArn":%q,"Token":%q}`, arn, token)
}

func TestCompleteConnection(t *testing.T) {
	f := newCompleteFixture(t)
	ctx := t.Context()
	arn, id := f.connection(t, "gh", cctypes.ProviderTypeGithub, nil)
	held := store.Event{ID: uuid.Must(uuid.NewV7()).String(), ConnectionID: id, Provider: store.ProviderGitHub, DeliveryID: "d1",
		Kind: "push", RawKind: "push", Repository: "octo/app", Held: true, ReceivedAt: time.Now(),
		Headers: []byte(`{}`), Body: []byte(`{}`), Normalized: []byte(`{}`)}
	if _, err := f.store.RecordEvent(ctx, held); err != nil {
		t.Fatal(err)
	}
	isHeld := func() bool {
		t.Helper()
		e, err := f.store.GetEvent(ctx, held.ID)
		if err != nil {
			t.Fatal(err)
		}
		return e.Held
	}
	status := func() string {
		t.Helper()
		c, err := f.store.GetConnection(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return c.Status
	}

	// Refusals change nothing.
	refusals := []struct{ token, code, msg string }{
		{"glpat-wrong", codeInvalidInput, "the provider rejected the token (HTTP 401): the connection stays PENDING"},
		{"unreachable", codeUnavailable, "could not check the token with https://api.octo.ghe.com/: check: provider unavailable: connection refused; the connection stays PENDING"},
	}
	for _, r := range refusals {
		if code, msg := f.call(t, "CompleteConnection", completeBody(arn, r.token), nil); code != r.code || msg != r.msg {
			t.Errorf("token %s: %s: %s; want %s: %s", r.token, code, msg, r.code, r.msg)
		}
	}
	if s := status(); s != store.StatusPending || !isHeld() {
		t.Errorf("after refused tokens: %s, held %v; want PENDING and held", s, isHeld())
	}
	if _, err := f.store.GetConnectionCredential(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("credential after refused tokens: %v, want none", err)
	}

	out := f.mustCall(t, "CompleteConnection", completeBody(arn, goodToken))
	if want := `{"Account":"jdoe","ConnectionArn":"` + arn + `","ConnectionStatus":"AVAILABLE"}`; out != want {
		t.Errorf("CompleteConnection = %s, want %s", out, want)
	}
	if call := f.tokens.lastCall(); call != "GitHub https://api.octo.ghe.com/" {
		t.Errorf("token checked as %q, want GitHub at the configured URL", call)
	}
	if s := status(); s != store.StatusAvailable || isHeld() {
		t.Errorf("after completion: %s, held %v; want AVAILABLE and released", s, isHeld())
	}
	cred, err := f.store.GetConnectionCredential(ctx, id)
	if err != nil || cred.Kind != store.CredentialToken || cred.Account != "jdoe" {
		t.Fatalf("credential %+v, %v", cred, err)
	}
	if strings.Contains(string(cred.Sealed), goodToken) {
		t.Error("the token is stored in clear")
	}
	if plain, err := f.kr.Open(cred.Sealed, []byte(id)); err != nil || string(plain) != goodToken {
		t.Errorf("sealed token opens to %q, %v", plain, err)
	}
	f.mu.Lock()
	changed := slices.Clone(f.changed)
	f.mu.Unlock()
	if !slices.Equal(changed, []string{id}) {
		t.Errorf("ConnectionChanged told %v, want [%s]", changed, id)
	}

	// Once deleted, the connection can no longer be completed.
	if _, err := f.cc.DeleteConnection(ctx, &codeconnections.DeleteConnectionInput{ConnectionArn: &arn}); err != nil {
		t.Fatal(err)
	}
	unknown := arn[:strings.LastIndexByte(arn, '/')+1] + uuid.NewString()
	for _, a := range []string{arn, unknown} {
		if code, msg := f.call(t, "CompleteConnection", completeBody(a, goodToken), nil); code != codeNotFound {
			t.Errorf("%s: %s: %s; want %s", a, code, msg, codeNotFound)
		}
	}
}

// TestCompleteConnectionProviders checks the API URL each provider's token
// is checked at. A host that went back to PENDING still serves.
func TestCompleteConnectionProviders(t *testing.T) {
	f := newCompleteFixture(t)
	ghes := f.host(t, "ghes", store.ProviderGitHubEnterpriseServer, "https://ghes.example.com/")
	gitlab := f.host(t, "gitlab", store.ProviderGitLabSelfManaged, "https://gitlab.example.com")
	tests := []struct {
		providerType cctypes.ProviderType
		host         *string
		want         string
	}{
		{cctypes.ProviderTypeGitlab, nil, "GitLab " + config.DefaultGitLabURL},
		{cctypes.ProviderTypeBitbucket, nil, "Bitbucket " + config.DefaultBitbucketAPIURL},
		{"", &ghes, "GitHubEnterpriseServer https://ghes.example.com/api/v3/"},
		{"", &gitlab, "GitLabSelfManaged https://gitlab.example.com/api/v4"},
	}
	for i, tc := range tests {
		arn, _ := f.connection(t, fmt.Sprintf("c%d", i), tc.providerType, tc.host)
		if tc.host != nil {
			hostID := (*tc.host)[strings.LastIndexByte(*tc.host, '/')+1:]
			if err := f.store.SetHostStatus(t.Context(), hostID, store.StatusPending, ""); err != nil {
				t.Fatal(err)
			}
		}
		f.mustCall(t, "CompleteConnection", completeBody(arn, goodToken))
		if call := f.tokens.lastCall(); call != tc.want {
			t.Errorf("token checked as %q, want %q", call, tc.want)
		}
	}
}

func TestCompleteConnectionRefusedInput(t *testing.T) {
	f := newCompleteFixture(t)
	arn, _ := f.connection(t, "gh", cctypes.ProviderTypeGithub, nil)
	plainHost := f.host(t, "lab", store.ProviderGitLabSelfManaged, "http://gitlab.lab")
	onPlainHost, _ := f.connection(t, "lab", "", &plainHost)
	long := strings.Repeat("x", maxToken+1)
	tests := []struct{ name, body, code string }{
		{"no token", fmt.Sprintf(`{"ConnectionArn":%q}`, arn), codeValidation},
		{"empty token", completeBody(arn, ""), codeValidation},
		{"long token", completeBody(arn, long), codeValidation},
		{"newline", completeBody(arn, goodToken+"\n"), codeValidation},
		{"space", completeBody(arn, "glpat GOOD"), codeValidation},
		{"no ARN", fmt.Sprintf(`{"Token":%q}`, goodToken), codeValidation},
		{"host ARN", completeBody(plainHost, goodToken), codeValidation},
		// Allowed when the host was created, refused now: the token would
		// cross the network in clear text.
		{"plain-HTTP host", completeBody(onPlainHost, goodToken), codeInvalidInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := f.call(t, "CompleteConnection", tc.body, nil)
			if code != tc.code {
				t.Errorf("%s: %s, want %s", code, msg, tc.code)
			}
			if strings.Contains(msg, "GOOD") || strings.Contains(msg, "xxxx") {
				t.Errorf("message %q shows the token", msg)
			}
		})
	}
	if call := f.tokens.lastCall(); call != "" {
		t.Errorf("token checked (%s) for refused input", call)
	}

	f = &completeFixture{fixture: newFixture(t, Limits{}, false)} // no TokenChecker
	arn, _ = f.connection(t, "gh", cctypes.ProviderTypeGithub, nil)
	if code, _ := f.call(t, "CompleteConnection", completeBody(arn, goodToken), nil); code != codeUnsupportedOp {
		t.Errorf("without a TokenChecker: %s, want %s", code, codeUnsupportedOp)
	}
}
