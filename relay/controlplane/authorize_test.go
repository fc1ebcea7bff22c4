package controlplane

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	cctypes "github.com/aws/aws-sdk-go-v2/service/codeconnections/types"
	"github.com/aws/aws-sdk-go-v2/service/codestarconnections"

	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/relay/sigv4"
	"github.com/forgelink/forgelink/store"
)

// Access keys of the authorization tests; testKeyID is the root.
const (
	keyUser      = "AKIDUSERCONNECTIONA" // token and use on connection A only
	keyTokenOnly = "AKIDTOKENEVERYWHERE" // GetConnectionToken anywhere, UseConnection on A
	keyReader    = "AKIDREADERGETSTAR01" // Get* anywhere, GetHost explicitly denied
	keyLegacy    = "AKIDLEGACYSPELLING1" // policy in the codestar-connections spelling
)

func secretOf(id string) string { return "secret-of-" + id }

// authFixture serves an API that authenticates the root and four access
// keys and authorizes them with their policies. Connections A and B are
// AVAILABLE.
type authFixture struct {
	*fixture
	tokens *fakeRepoTokens
	arnA   string
	arnB   string
}

func newAuthFixture(t *testing.T) *authFixture {
	t.Helper()
	af := &authFixture{tokens: &fakeRepoTokens{}}
	// Filled once the connections exist.
	policies := map[string]policy.Policy{}
	authz := newLateAuthorizer()
	af.fixture = newFixture(t, Limits{}, true, func(o *Options) {
		o.Auth = &sigv4.Verifier{Regions: []string{testRegion}, Secret: func(id string) (string, bool) {
			if id == testKeyID {
				return testSecret, true
			}
			_, ok := policies[id]
			return secretOf(id), ok
		}}
		o.Authorizer = authz
		o.RepositoryTokens = af.tokens
	})
	af.arnA, _ = af.available(t, "a")
	af.arnB, _ = af.available(t, "b")
	allow := func(resources []string, actions ...string) policy.Statement {
		return policy.Statement{Effect: policy.Allow, Actions: actions, Resources: resources}
	}
	for id, p := range map[string]policy.Policy{
		keyUser: {Statements: []policy.Statement{
			allow([]string{af.arnA}, "codeconnections:UseConnection", "codeconnections:GetConnectionToken"),
		}},
		keyTokenOnly: {Statements: []policy.Statement{
			allow([]string{"*"}, "codeconnections:GetConnectionToken"),
			allow([]string{af.arnA}, "codeconnections:UseConnection"),
		}},
		keyReader: {Statements: []policy.Statement{
			allow([]string{"*"}, "codeconnections:Get*"),
			{Effect: policy.Deny, Actions: []string{"codeconnections:GetHost"}, Resources: []string{"*"}},
		}},
		keyLegacy: {Statements: []policy.Statement{
			allow([]string{strings.Replace(af.arnB, "codeconnections", "codestar-connections", 1)}, "codestar-connections:GetConnection"),
		}},
	} {
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		policies[id] = p
	}
	authz.set(policy.NewAuthorizer(testKeyID, policies))
	return af
}

// lateAuthorizer lets a fixture create its resources as root before the
// policies naming them are compiled, and a test change them between
// requests.
type lateAuthorizer struct {
	p atomic.Pointer[policy.Authorizer]
}

func newLateAuthorizer() *lateAuthorizer {
	l := &lateAuthorizer{}
	l.set(policy.NewAuthorizer(testKeyID, nil))
	return l
}

func (l *lateAuthorizer) set(a *policy.Authorizer) { l.p.Store(a) }

func (l *lateAuthorizer) Authorize(id string, r policy.Request) policy.Decision {
	return l.p.Load().Authorize(id, r)
}

func (l *lateAuthorizer) MayAllow(id, action string) bool { return l.p.Load().MayAllow(id, action) }

func (l *lateAuthorizer) UsesKey(id, action, prefix string) bool {
	return l.p.Load().UsesKey(id, action, prefix)
}

// available creates an AVAILABLE GitHub App connection and returns its
// ARN and id.
func (f *fixture) available(t *testing.T, name string) (string, string) {
	t.Helper()
	out, err := f.cc.CreateConnection(t.Context(), &codeconnections.CreateConnectionInput{
		ConnectionName: aws.String(name), ProviderType: cctypes.ProviderTypeGithub,
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.ConnectionArn)
	id := arn[strings.LastIndexByte(arn, '/')+1:]
	if err := f.store.SetConnectionCredential(t.Context(), id, store.Credential{Kind: store.CredentialGitHubApp, Sealed: []byte("x"), Account: "octo"}); err != nil {
		t.Fatal(err)
	}
	return arn, id
}

// signedCall calls op in forgelink's namespace signed with an access key,
// and returns the error code and message ("" on success) and the answer.
func (f *fixture) signedCall(t *testing.T, keyID, op, body string) (code, msg string, out map[string]any) {
	t.Helper()
	return f.signedTarget(t, keyID, ext+op, body)
}

// signedTarget calls the X-Amz-Target target (of either namespace) signed
// with an access key for the target's signing name.
func (f *fixture) signedTarget(t *testing.T, keyID, target, body string) (code, msg string, out map[string]any) {
	t.Helper()
	return f.signedTargetIn(t, testRegion, keyID, target, body)
}

// signedTargetIn is signedTarget signed for region.
func (f *fixture) signedTargetIn(t *testing.T, region, keyID, target, body string) (code, msg string, out map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/", bytes.NewBufferString(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", target)
	service := "forgelink"
	for _, ns := range namespaces[:2] {
		if strings.HasPrefix(target, ns.prefix+".") {
			service = ns.service
		}
	}
	sum := sha256.Sum256([]byte(body))
	secret := secretOf(keyID)
	if keyID == testKeyID {
		secret = testSecret
	}
	creds := aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(t.Context(), creds, req, hex.EncodeToString(sum[:]), service, region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s: answer %q is not JSON", target, raw)
	}
	if resp.StatusCode != http.StatusOK {
		code, _ = out["__type"].(string)
		msg, _ = out["message"].(string)
	}
	return code, msg, out
}

func (f *fixture) clientsFor(keyID string) (*codeconnections.Client, *codestarconnections.Client) {
	creds := credentials.NewStaticCredentialsProvider(keyID, secretOf(keyID), "")
	return codeconnections.New(codeconnections.Options{
			BaseEndpoint: aws.String(f.srv.URL), Region: testRegion, Credentials: creds, RetryMaxAttempts: 1,
		}), codestarconnections.New(codestarconnections.Options{
			BaseEndpoint: aws.String(f.srv.URL), Region: testRegion, Credentials: creds, RetryMaxAttempts: 1,
		})
}

// tokenBody asks a read-only token for repo through git at
// https://github.example (fakeRepoTokens' origin).
func tokenBody(arn, repo string) string {
	return tokenBodyFor(arn, repo, "https", "github.example", "")
}

func tokenBodyFor(arn, repo, protocol, host, permissions string) string {
	body := `{"ConnectionArn":"` + arn + `","Repository":"` + repo + `","Protocol":"` + protocol + `","Host":"` + host + `"`
	if permissions != "" {
		body += `,"Permissions":"` + permissions + `"`
	}
	return body + "}"
}

func TestAuthorizeConnectionToken(t *testing.T) {
	f := newAuthFixture(t)
	tests := []struct {
		name, key, arn string
		code           string
		msg            string // in the refusal
	}{
		{"user on A", keyUser, f.arnA, "", ""},
		{"user on B", keyUser, f.arnB, codeAccessDenied,
			"access key " + keyUser + " is not authorized to perform: codeconnections:GetConnectionToken on resource: " + f.arnB +
				" because no statement of its policy allows the codeconnections:GetConnectionToken action"},
		{"token-only on A", keyTokenOnly, f.arnA, "", ""},
		{"token-only on B lacks UseConnection", keyTokenOnly, f.arnB, codeAccessDenied,
			"access key " + keyTokenOnly + " is not authorized to perform: codeconnections:UseConnection on resource: " + f.arnB},
		{"legacy ARN of B is B", keyTokenOnly, strings.Replace(f.arnB, "codeconnections", "codestar-connections", 1), codeAccessDenied,
			"codeconnections:UseConnection on resource: " + f.arnB},
		// Get* covers GetConnectionToken, but a read-only key gets no token.
		{"reader's Get* does not reach UseConnection", keyReader, f.arnA, codeAccessDenied, "codeconnections:UseConnection on resource: " + f.arnA},
		{"root", testKeyID, f.arnB, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := f.tokens.count()
			code, msg, out := f.signedCall(t, tc.key, "GetConnectionToken", tokenBody(tc.arn, "octo/app"))
			if code != tc.code || !strings.Contains(msg, tc.msg) {
				t.Fatalf("%s: %s; want %s: %s", code, msg, tc.code, tc.msg)
			}
			if tc.code != "" {
				if f.tokens.count() != calls {
					t.Error("a refused caller reached the provider")
				}
				if strings.Contains(msg, secretOf(tc.key)) {
					t.Error("the refusal quotes the secret")
				}
				return
			}
			if out["Token"] != fakeToken || out["Username"] != "x-access-token" {
				t.Errorf("answer %v", out)
			}
		})
	}
}

func TestAuthorizeOperations(t *testing.T) {
	f := newAuthFixture(t)
	ctx := t.Context()
	userCC, _ := f.clientsFor(keyUser)
	readerCC, _ := f.clientsFor(keyReader)
	_, legacyCS := f.clientsFor(keyLegacy)
	legacyCC, _ := f.clientsFor(keyLegacy)
	legacyB := strings.Replace(f.arnB, "codeconnections", "codestar-connections", 1)
	hostARN := "arn:aws:codeconnections:us-east-1:123456789012:host/none-0123abcd"

	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"user without GetConnection", func() error {
			_, err := userCC.GetConnection(ctx, &codeconnections.GetConnectionInput{ConnectionArn: &f.arnA})
			return err
		}, codeAccessDenied},
		{"user cannot delete", func() error {
			_, err := userCC.DeleteConnection(ctx, &codeconnections.DeleteConnectionInput{ConnectionArn: &f.arnA})
			return err
		}, codeAccessDenied},
		{"user cannot create", func() error {
			_, err := userCC.CreateConnection(ctx, &codeconnections.CreateConnectionInput{ConnectionName: aws.String("c"), ProviderType: cctypes.ProviderTypeGitlab})
			return err
		}, codeAccessDenied},
		{"reader gets any connection", func() error {
			_, err := readerCC.GetConnection(ctx, &codeconnections.GetConnectionInput{ConnectionArn: &f.arnB})
			return err
		}, ""},
		{"reader cannot list (resource *, action not Get*)", func() error {
			_, err := readerCC.ListConnections(ctx, &codeconnections.ListConnectionsInput{})
			return err
		}, codeAccessDenied},
		{"reader's explicit deny on GetHost", func() error {
			_, err := readerCC.GetHost(ctx, &codeconnections.GetHostInput{HostArn: &hostARN})
			return err
		}, codeAccessDenied},
		{"allowed, then not found", func() error {
			missing := f.arnA[:strings.LastIndexByte(f.arnA, '/')+1] + "00000000-0000-0000-0000-000000000000"
			_, err := readerCC.GetConnection(ctx, &codeconnections.GetConnectionInput{ConnectionArn: &missing})
			return err
		}, codeNotFound},
		// A policy names a resource by the prefix it was created with: B
		// was created through codeconnections, so a policy naming its
		// codestar-connections spelling reaches it through neither API.
		{"legacy spelling of a codeconnections resource, legacy namespace", func() error {
			_, err := legacyCS.GetConnection(ctx, &codestarconnections.GetConnectionInput{ConnectionArn: &legacyB})
			return err
		}, codeAccessDenied},
		{"legacy spelling of a codeconnections resource, codeconnections namespace", func() error {
			_, err := legacyCC.GetConnection(ctx, &codeconnections.GetConnectionInput{ConnectionArn: &f.arnB})
			return err
		}, codeAccessDenied},
		{"legacy policy, other connection", func() error {
			_, err := legacyCC.GetConnection(ctx, &codeconnections.GetConnectionInput{ConnectionArn: &f.arnA})
			return err
		}, codeAccessDenied},
		{"root creates", func() error {
			_, err := f.cc.CreateConnection(ctx, &codeconnections.CreateConnectionInput{ConnectionName: aws.String("c"), ProviderType: cctypes.ProviderTypeGitlab})
			return err
		}, ""},
	}
	for _, tc := range tests {
		if code := apiCode(tc.call()); code != tc.code {
			t.Errorf("%s: code %q, want %q", tc.name, code, tc.code)
		}
	}
	// The refused delete changed nothing.
	if _, err := f.cc.GetConnection(ctx, &codeconnections.GetConnectionInput{ConnectionArn: &f.arnA}); err != nil {
		t.Errorf("connection A after a refused delete: %v", err)
	}
	// The explicit deny says so.
	_, err := readerCC.GetHost(ctx, &codeconnections.GetHostInput{HostArn: &hostARN})
	if err == nil || !strings.Contains(err.Error(), "codeconnections:GetHost on resource: "+hostARN+" with an explicit deny") {
		t.Errorf("explicit deny: %v", err)
	}
	// Forgelink's own operations are actions of the forgelink namespace,
	// which codeconnections:Get* does not reach.
	if code, _, _ := f.signedCall(t, keyReader, "ListEvents", `{}`); code != codeAccessDenied {
		t.Errorf("reader ListEvents: %q", code)
	}
	if code, msg, _ := f.signedCall(t, keyReader, "GetConnectionWebhook", `{"ConnectionArn":"`+f.arnA+`"}`); code != codeAccessDenied {
		t.Errorf("reader GetConnectionWebhook: %s: %s", code, msg)
	}
}

// TestDecodeExactMembers: members are matched as the protocol spells
// them; others (also a case-folded twin of a real member) are ignored.
func TestDecodeExactMembers(t *testing.T) {
	type tag struct{ Key, Value *string }
	type input struct {
		ConnectionArn *string
		Tags          []tag
		resolved      string
	}
	tests := []struct {
		body, arn string
		tagKey    string
		code      string
	}{
		{`{"ConnectionArn":"a"}`, "a", "", ""},
		{`{"ConnectionArn":"a","connectionarn":"b"}`, "a", "", ""},
		{`{"connectionArn":"b"}`, "", "", ""},
		{`{"ConnectionArn":"a","HostArn":"h","resolved":"x"}`, "a", "", ""},
		{`{"Tags":[{"Key":"k","key":"other","Value":"v"}]}`, "", "k", ""},
		{`{"Tags":[{"key":"other","Value":"v"}]}`, "", "", ""},
		{`{"ConnectionArn":"a","ConnectionArn":"b"}`, "b", "", ""},
		{``, "", "", ""},
		{`[]`, "", "", codeSerialization},
		{`{"ConnectionArn":5}`, "", "", codeSerialization},
		{`{"ConnectionArn":"a"} {}`, "", "", codeSerialization},
		{`{`, "", "", codeSerialization},
	}
	for _, tc := range tests {
		var in input
		err := decode([]byte(tc.body), &in)
		if e, _ := toWire(err); err != nil && e.code != tc.code || err == nil && tc.code != "" {
			t.Errorf("%s: %v, want %s", tc.body, err, tc.code)
			continue
		}
		if tc.code != "" {
			continue
		}
		if got := deref(in.ConnectionArn); got != tc.arn || in.resolved != "" {
			t.Errorf("%s: ConnectionArn %q (resolved %q), want %q", tc.body, got, in.resolved, tc.arn)
		}
		if len(in.Tags) > 0 && deref(in.Tags[0].Key) != tc.tagKey {
			t.Errorf("%s: tag key %q, want %q", tc.body, deref(in.Tags[0].Key), tc.tagKey)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"ConnectionArn":"a","Tags":[{"Key":"k","Value":"v"}],"MaxResults":3}`))
	f.Add([]byte(`{"connectionarn":"a","tags":[{"key":1}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var in struct {
			ConnectionArn *string
			Tags          []wireTag
			MaxResults    *int
		}
		if err := decode(body, &in); err != nil {
			if e, internal := toWire(err); internal || e.code != codeSerialization {
				t.Fatalf("decode error %v is not a SerializationException", err)
			}
		}
	})
}

// TestAuthorizerNeedsAuthentication: a loopback deployment without
// credentials authenticates nobody, and so authorizes everything.
func TestAuthorizerNeedsAuthentication(t *testing.T) {
	f := newFixture(t, Limits{}, false, func(o *Options) {
		o.Authorizer = policy.NewAuthorizer("", nil)
	})
	if code, msg := f.call(t, "ListEvents", `{}`, nil); code != "" {
		t.Errorf("unauthenticated ListEvents: %s: %s", code, msg)
	}
}

// countingStore counts the tag loads of the store it wraps.
type countingStore struct {
	Store
	listTags atomic.Int64
}

func (s *countingStore) ListTags(ctx context.Context, r store.ResourceRef) ([]store.Tag, error) {
	s.listTags.Add(1)
	return s.Store.ListTags(ctx, r)
}

// TestResourceTagsLoadedOnlyWhenRead: a resource's tags are loaded for
// the policies that can read aws:ResourceTag for the action, and only
// for them.
func TestResourceTagsLoadedOnlyWhenRead(t *testing.T) {
	const keyPlain, keyTagged, keyDenyTagged = "AKIDPLAINEVERYWHERE", "AKIDTEAMATAGGED0001", "AKIDDENYTEAMBDELETE"
	counting := &countingStore{}
	authz := newLateAuthorizer()
	f := newFixture(t, Limits{}, true, func(o *Options) {
		counting.Store = o.Store
		o.Store = counting
		o.Auth = &sigv4.Verifier{Regions: []string{testRegion}, Secret: func(id string) (string, bool) {
			if id == testKeyID {
				return testSecret, true
			}
			return secretOf(id), true
		}}
		o.Authorizer = authz
	})
	var arnA, arnB string
	for _, c := range []struct {
		arn  *string
		team string
	}{{&arnA, "a"}, {&arnB, "b"}} {
		out, err := f.cc.CreateConnection(t.Context(), &codeconnections.CreateConnectionInput{ConnectionName: aws.String(c.team),
			ProviderType: cctypes.ProviderTypeGithub, Tags: []cctypes.Tag{{Key: aws.String("team"), Value: aws.String(c.team)}}})
		if err != nil {
			t.Fatal(err)
		}
		*c.arn = aws.ToString(out.ConnectionArn)
	}
	everything := policy.Statement{Effect: policy.Allow, Actions: []string{"codeconnections:*"}, Resources: []string{"*"}}
	team := func(effect policy.Effect, action, value string) policy.Statement {
		return policy.Statement{Effect: effect, Actions: []string{action}, Resources: []string{"*"},
			Conditions: policy.Conditions{"StringEquals": {"aws:ResourceTag/team": {value}}}}
	}
	authz.set(policy.NewAuthorizer(testKeyID, map[string]policy.Policy{
		keyPlain:      {Statements: []policy.Statement{everything}},
		keyTagged:     {Statements: []policy.Statement{team(policy.Allow, "codeconnections:*Connection*", "a")}},
		keyDenyTagged: {Statements: []policy.Statement{everything, team(policy.Deny, "codeconnections:Delete*", "b")}},
	}))
	get := func(arn string) string { return `{"ConnectionArn":"` + arn + `"}` }
	tests := []struct {
		name, key, op, body string
		code                string
		loads               int64 // ListTags calls
		listed              int   // connections listed, for ListConnections
	}{
		{"root get", testKeyID, "GetConnection", get(arnA), "", 0, 0},
		{"root list", testKeyID, "ListConnections", `{}`, "", 0, 2},
		{"unconditioned get", keyPlain, "GetConnection", get(arnB), "", 0, 0},
		{"unconditioned list", keyPlain, "ListConnections", `{}`, "", 0, 2},
		{"tagged get, its team", keyTagged, "GetConnection", get(arnA), "", 1, 0},
		{"tagged get, other team", keyTagged, "GetConnection", get(arnB), codeAccessDenied, 1, 0},
		{"tagged list: a load per record", keyTagged, "ListConnections", `{}`, "", 2, 1},
		{"deny reads tags only for its actions", keyDenyTagged, "GetConnection", get(arnB), "", 0, 0},
		{"deny on the tagged team", keyDenyTagged, "DeleteConnection", get(arnB), codeAccessDenied, 1, 0},
	}
	for _, tc := range tests {
		counting.listTags.Store(0)
		code, msg, out := f.signedTarget(t, tc.key, cc+tc.op, tc.body)
		if code != tc.code {
			t.Errorf("%s: %s %s, want %q", tc.name, code, msg, tc.code)
		}
		if got := counting.listTags.Load(); got != tc.loads {
			t.Errorf("%s: %d ListTags, want %d", tc.name, got, tc.loads)
		}
		if conns, _ := out["Connections"].([]any); len(conns) != tc.listed {
			t.Errorf("%s: %d connections listed, want %d", tc.name, len(conns), tc.listed)
		}
	}
}
