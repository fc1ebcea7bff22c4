package controlplane

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	cctypes "github.com/aws/aws-sdk-go-v2/service/codeconnections/types"

	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/relay/sigv4"
	"github.com/forgelink/forgelink/store"
)

// keyScoped is allowed every action of both namespaces, on connection A
// only: finding 1 of issue 9.
const keyScoped = "AKIDSCOPEDTOCONNA01"

const cc = "CodeConnections_20231201."

// scopeFixture holds two teams' resources: connection A (team a) and
// everything else (team b): connection B, host H, links LA (on A) and LB
// (on B), an event with a delivery on each connection, a pipeline on
// each. Policies are set per test with allow.
type scopeFixture struct {
	*fixture
	authz                        *lateAuthorizer
	policies                     map[string]policy.Policy
	setup                        *fakeSetup
	console                      *fakeConsoleLinks
	tokens                       *fakeRepoTokens
	arnA, arnB, idA, idB, host   string
	linkA, linkB                 string // ids
	eventA, eventB               string
	deliveryA, deliveryB         string
	pipelineA, pipelineB, arnLnB string
}

func newScopeFixture(t *testing.T) *scopeFixture {
	t.Helper()
	sf := &scopeFixture{authz: newLateAuthorizer(),
		setup: &fakeSetup{}, console: &fakeConsoleLinks{}, tokens: &fakeRepoTokens{}}
	pipelines := fakePipelines{}
	sf.fixture = newFixture(t, Limits{}, true, func(o *Options) {
		o.Auth = &sigv4.Verifier{Regions: []string{testRegion}, Secret: func(id string) (string, bool) {
			if id == testKeyID {
				return testSecret, true
			}
			return secretOf(id), true
		}}
		o.Authorizer = sf.authz
		o.Setup, o.ConsoleLinks, o.RepositoryTokens = sf.setup, sf.console, sf.tokens
		o.Tokens = &fakeTokens{}
		o.Pipelines = &pipelines
	})
	ctx := t.Context()
	sf.arnA, sf.idA = sf.available(t, "a")
	sf.arnB, sf.idB = sf.available(t, "b")
	for arn, team := range map[string]string{sf.arnA: "a", sf.arnB: "b"} {
		if _, err := sf.cc.TagResource(ctx, &codeconnections.TagResourceInput{ResourceArn: aws.String(arn),
			Tags: []cctypes.Tag{{Key: aws.String("team"), Value: aws.String(team)}}}); err != nil {
			t.Fatal(err)
		}
	}
	host, err := sf.cc.CreateHost(ctx, &codeconnections.CreateHostInput{Name: aws.String("lab"), ProviderType: "GitLabSelfManaged",
		ProviderEndpoint: aws.String("https://gitlab.example.com")})
	if err != nil {
		t.Fatal(err)
	}
	sf.host = aws.ToString(host.HostArn)
	la, err := sf.link(t, sf.arnA, "octo", "a")
	if err != nil {
		t.Fatal(err)
	}
	lb, err := sf.link(t, sf.arnB, "octo", "b")
	if err != nil {
		t.Fatal(err)
	}
	sf.linkA, sf.linkB, sf.arnLnB = aws.ToString(la.RepositoryLinkId), aws.ToString(lb.RepositoryLinkId), aws.ToString(lb.RepositoryLinkArn)
	sf.pipelineA, sf.pipelineB = "deploy-a", "deploy-b"
	pipelines = fakePipelines{
		{Name: sf.pipelineA, ConnectionArn: sf.arnA, Repository: "octo/a", Target: "t-" + sf.pipelineA},
		{Name: sf.pipelineB, ConnectionArn: sf.arnB, Repository: "octo/b", Target: "t-" + sf.pipelineB},
	}
	var ds []string
	sf.eventA, ds = recordEvent(t, sf.store, sf.idA, "octo/a", time.Now(), sf.pipelineA)
	sf.deliveryA = ds[0]
	sf.eventB, ds = recordEvent(t, sf.store, sf.idB, "octo/b", time.Now(), sf.pipelineB)
	sf.deliveryB = ds[0]
	sf.allow(keyScoped, policy.Statement{Effect: policy.Allow, Actions: []string{"codeconnections:*", "forgelink:*"}, Resources: []string{sf.arnA}})
	return sf
}

// allow sets the policy of key (and keeps the others).
func (sf *scopeFixture) allow(key string, statements ...policy.Statement) {
	policies := map[string]policy.Policy{}
	for k, p := range sf.policies {
		policies[k] = p
	}
	policies[key] = policy.Policy{Statements: statements}
	sf.policies = policies
	sf.authz.set(policy.NewAuthorizer(testKeyID, policies))
}

// state is everything stored that a refused request could change.
func (sf *scopeFixture) state(t *testing.T) string {
	t.Helper()
	ctx := t.Context()
	page := store.Page{Limit: 1000}
	var parts []any
	add := func(v any, err error) {
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, v)
	}
	add(sf.store.ListConnections(ctx, store.ConnectionFilter{}, page))
	add(sf.store.ListHosts(ctx, store.HostFilter{Region: testRegion}, page))
	add(sf.store.ListRepositoryLinks(ctx, store.RepositoryLinkFilter{}, page))
	add(sf.store.ListDeliveries(ctx, store.DeliveryFilter{}, page))
	add(sf.store.WebhookSecrets(ctx, sf.idB, time.Now()))
	add(sf.store.GetConnectionCredential(ctx, sf.idB))
	hostID := sf.host[strings.LastIndexByte(sf.host, '/')+1:]
	for _, r := range []store.ResourceRef{{Kind: store.KindConnection, ID: sf.idB}, {Kind: store.KindHost, ID: hostID},
		{Kind: store.KindRepositoryLink, ID: sf.linkB}} {
		add(sf.store.ListTags(ctx, r))
	}
	parts = append(parts, sf.setup.asked, sf.console.calls.Load(), sf.tokens.count())
	raw, err := json.Marshal(parts)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// TestScopedKeyDecoys reproduces finding 1: a key allowed everything on
// connection A only calls every operation on the resources of team b,
// with A's ARN as a decoy member. Each is AccessDeniedException, and
// nothing stored (or asked of a provider) changes.
func TestScopedKeyDecoys(t *testing.T) {
	sf := newScopeFixture(t)
	decoy := `"ConnectionArn":"` + sf.arnA + `"`
	missingEvent := "00000000-0000-7000-8000-000000000000"
	tests := []struct{ target, body string }{
		{cc + "GetConnection", `{"ConnectionArn":"` + sf.arnB + `"}`},
		{cc + "DeleteConnection", `{"ConnectionArn":"` + sf.arnB + `"}`},
		{cc + "CreateConnection", `{"ConnectionName":"x","ProviderType":"GitHub",` + decoy + `}`},
		{cc + "CreateHost", `{"Name":"h","ProviderType":"GitLabSelfManaged","ProviderEndpoint":"https://g.example.com",` + decoy + `}`},
		{cc + "GetHost", `{"HostArn":"` + sf.host + `",` + decoy + `}`},
		{cc + "UpdateHost", `{"HostArn":"` + sf.host + `","ProviderEndpoint":"https://evil.example.com",` + decoy + `}`},
		{cc + "DeleteHost", `{"HostArn":"` + sf.host + `",` + decoy + `}`},
		{cc + "ListHosts", `{` + decoy + `}`}, // allowed, but shows nothing: see TestScopedKeyListings
		{cc + "TagResource", `{"ResourceArn":"` + sf.arnB + `","Tags":[{"Key":"team","Value":"a"}],` + decoy + `}`},
		{cc + "TagResource", `{"ResourceArn":"` + sf.host + `","Tags":[{"Key":"x","Value":"y"}],` + decoy + `}`},
		{cc + "UntagResource", `{"ResourceArn":"` + sf.arnB + `","TagKeys":["team"],` + decoy + `}`},
		{cc + "ListTagsForResource", `{"ResourceArn":"` + sf.arnB + `",` + decoy + `}`},
		{cc + "CreateRepositoryLink", `{"ConnectionArn":"` + sf.arnB + `","OwnerId":"octo","RepositoryName":"c"}`},
		{cc + "GetRepositoryLink", `{"RepositoryLinkId":"` + sf.linkB + `",` + decoy + `}`},
		{cc + "UpdateRepositoryLink", `{"RepositoryLinkId":"` + sf.linkB + `",` + decoy + `}`},
		{cc + "UpdateRepositoryLink", `{"RepositoryLinkId":"` + sf.linkA + `","ConnectionArn":"` + sf.arnB + `"}`},
		{cc + "DeleteRepositoryLink", `{"RepositoryLinkId":"` + sf.linkB + `",` + decoy + `}`},
		{cc + "CreateSyncConfiguration", `{` + decoy + `}`},
		{ext + "GetConnectionWebhook", `{"ConnectionArn":"` + sf.arnB + `"}`},
		{ext + "RotateConnectionWebhookSecret", `{"ConnectionArn":"` + sf.arnB + `"}`},
		{ext + "GetEvent", `{"EventId":"` + sf.eventB + `",` + decoy + `}`},
		{ext + "GetEvent", `{"EventId":"` + missingEvent + `",` + decoy + `}`},
		{ext + "ExplainEvent", `{"EventId":"` + sf.eventB + `",` + decoy + `}`},
		{ext + "GetDelivery", `{"DeliveryId":"` + sf.deliveryB + `",` + decoy + `}`},
		{ext + "RedeliverDelivery", `{"DeliveryId":"` + sf.deliveryB + `",` + decoy + `}`},
		{ext + "DiscardDelivery", `{"DeliveryId":"` + sf.deliveryB + `",` + decoy + `}`},
		{ext + "DiscardDelivery", `{"DeliveryId":"` + missingEvent + `",` + decoy + `}`},
		{ext + "GetPipeline", `{"Name":"` + sf.pipelineB + `",` + decoy + `}`},
		{ext + "GetPipeline", `{"Name":"nope",` + decoy + `}`},
		{ext + "CompleteConnection", `{"ConnectionArn":"` + sf.arnB + `","Token":"` + goodToken + `"}`},
		{ext + "StartConnectionSetup", `{"ConnectionArn":"` + sf.arnB + `"}`},
		{ext + "StartHostSetup", `{"HostArn":"` + sf.host + `",` + decoy + `}`},
		{ext + "ConfigureHostApp", `{"HostArn":"` + sf.host + `","ClientId":"i","ClientSecret":"s",` + decoy + `}`},
		{ext + "StartGitHubAppSetup", `{` + decoy + `}`},
		{ext + "GetConnectionToken", tokenBody(sf.arnB, "octo/b")},
		{ext + "CreateConsoleLink", `{` + decoy + `}`},
	}
	before := sf.state(t)
	for _, tc := range tests {
		code, msg, out := sf.signedTarget(t, keyScoped, tc.target, tc.body)
		if tc.target == cc+"ListHosts" {
			if code != "" || len(out["Hosts"].([]any)) != 0 {
				t.Errorf("%s: %s %v, want an empty list", tc.target, code, out)
			}
			continue
		}
		if code != codeAccessDenied || !strings.Contains(msg, keyScoped) {
			t.Errorf("%s %s: %s: %s; want AccessDeniedException", tc.target, tc.body, code, msg)
		}
	}
	if after := sf.state(t); after != before {
		t.Errorf("refused requests changed the store:\nbefore %s\nafter  %s", before, after)
	}
	// The same key may act on A, so the refusals above are about B.
	for _, tc := range []struct{ target, body string }{
		{cc + "GetConnection", `{"ConnectionArn":"` + sf.arnA + `"}`},
		{ext + "GetEvent", `{"EventId":"` + sf.eventA + `"}`},
		{ext + "GetDelivery", `{"DeliveryId":"` + sf.deliveryA + `"}`},
		{ext + "GetPipeline", `{"Name":"` + sf.pipelineA + `"}`},
		{ext + "GetConnectionWebhook", `{"ConnectionArn":"` + sf.arnA + `"}`},
		{ext + "GetConnectionToken", tokenBody(sf.arnA, "octo/app")},
		{cc + "ListTagsForResource", `{"ResourceArn":"` + sf.arnA + `"}`},
	} {
		if code, msg, _ := sf.signedTarget(t, keyScoped, tc.target, tc.body); code != "" {
			t.Errorf("%s on A: %s: %s", tc.target, code, msg)
		}
	}
	// Root is told what does not exist.
	if code, _, _ := sf.signedTarget(t, testKeyID, ext+"GetEvent", `{"EventId":"`+missingEvent+`"}`); code != codeNotFound {
		t.Errorf("root GetEvent of a missing event: %s", code)
	}
}

// TestScopedKeyListings: listings show only what the key may list; a key
// with no List permission at all, or an explicit Deny, is refused.
func TestScopedKeyListings(t *testing.T) {
	sf := newScopeFixture(t)
	idMember := map[string]string{"Connections": "ConnectionArn", "Hosts": "HostArn", "RepositoryLinks": "RepositoryLinkId",
		"Events": "EventId", "Deliveries": "DeliveryId", "Pipelines": "Name"}
	list := func(key, target, body, member string) (string, []string) {
		code, _, out := sf.signedTarget(t, key, target, body)
		var ids []string
		items, _ := out[member].([]any)
		for _, it := range items {
			ids = append(ids, it.(map[string]any)[idMember[member]].(string))
		}
		return code, ids
	}
	tests := []struct {
		target, body, member string
		want                 []string
	}{
		{cc + "ListConnections", `{"ConnectionArn":"` + sf.arnB + `"}`, "Connections", []string{sf.arnA}},
		{cc + "ListConnections", `{"ProviderTypeFilter":"GitHub"}`, "Connections", []string{sf.arnA}},
		{cc + "ListHosts", `{}`, "Hosts", nil},
		{cc + "ListRepositoryLinks", `{}`, "RepositoryLinks", nil},
		{ext + "ListEvents", `{}`, "Events", []string{sf.eventA}},
		{ext + "ListDeliveries", `{"EventId":"` + sf.eventB + `"}`, "Deliveries", nil},
		{ext + "ListDeliveries", `{}`, "Deliveries", []string{sf.deliveryA}},
		{ext + "ListPipelines", `{}`, "Pipelines", []string{sf.pipelineA}},
	}
	for _, tc := range tests {
		code, got := list(keyScoped, tc.target, tc.body, tc.member)
		if code != "" || !slices.Equal(got, tc.want) {
			t.Errorf("%s %s: %s %v, want %v", tc.target, tc.body, code, got, tc.want)
		}
	}
	// Root sees both teams.
	if _, got := list(testKeyID, ext+"ListEvents", `{}`, "Events"); len(got) != 2 {
		t.Errorf("root ListEvents: %v", got)
	}
	// Filtering by B's connection is asking about B.
	if code, _, _ := sf.signedTarget(t, keyScoped, ext+"ListEvents", `{"ConnectionArn":"`+sf.arnB+`"}`); code != codeAccessDenied {
		t.Errorf("ListEvents filtered on B: %q", code)
	}
	// No List statement at all, or an explicit Deny: refused.
	const keyGetOnly, keyDenied = "AKIDGETONLYONCONNA1", "AKIDLISTDENIED00001"
	sf.allow(keyGetOnly, policy.Statement{Effect: policy.Allow, Actions: []string{"codeconnections:GetConnection"}, Resources: []string{"*"}})
	sf.allow(keyDenied,
		policy.Statement{Effect: policy.Allow, Actions: []string{"codeconnections:*", "forgelink:*"}, Resources: []string{"*"}},
		policy.Statement{Effect: policy.Deny, Actions: []string{"codeconnections:ListConnections", "forgelink:ListEvents"}, Resources: []string{"*"}})
	for _, key := range []string{keyGetOnly, keyDenied} {
		for _, target := range []string{cc + "ListConnections", ext + "ListEvents"} {
			if code, _, _ := sf.signedTarget(t, key, target, `{}`); code != codeAccessDenied {
				t.Errorf("%s %s: %q, want AccessDeniedException", key, target, code)
			}
		}
	}
}

// TestScopedListingPages: a filtered page may be short, and NextToken
// still continues after the records read, not those shown.
func TestScopedListingPages(t *testing.T) {
	sf := newScopeFixture(t)
	for i := range 4 {
		sf.available(t, fmt.Sprintf("b%d", i))
	}
	var seen []string
	token := ""
	for range 10 {
		body := `{"MaxResults":2}`
		if token != "" {
			body = `{"MaxResults":2,"NextToken":"` + token + `"}`
		}
		code, msg, out := sf.signedTarget(t, keyScoped, cc+"ListConnections", body)
		if code != "" {
			t.Fatalf("%s: %s", code, msg)
		}
		for _, c := range out["Connections"].([]any) {
			seen = append(seen, c.(map[string]any)["ConnectionArn"].(string))
		}
		next, _ := out["NextToken"].(string)
		if token = next; token == "" {
			break
		}
	}
	if !slices.Equal(seen, []string{sf.arnA}) {
		t.Errorf("pages showed %v, want only A", seen)
	}
}

// TestUpdateRepositoryLinkNeedsBoth: moving a link needs the link and the
// destination connection.
func TestUpdateRepositoryLinkNeedsBoth(t *testing.T) {
	sf := newScopeFixture(t)
	const keyMover = "AKIDMOVESLINKS00001"
	linkARN := func(id string) string {
		return formatARN(namespaces[0], testRegion, "123456789012", store.KindRepositoryLink, id)
	}
	move := func(link, to string) string {
		code, _, _ := sf.signedTarget(t, keyMover, cc+"UpdateRepositoryLink", `{"RepositoryLinkId":"`+link+`","ConnectionArn":"`+to+`"}`)
		return code
	}
	all := []string{"codeconnections:*"}
	tests := []struct {
		name      string
		resources []string
		link, to  string
		code      string
	}{
		{"the connection only", []string{sf.arnA}, sf.linkB, sf.arnA, codeAccessDenied},
		{"the link only", []string{linkARN(sf.linkB)}, sf.linkB, sf.arnA, codeAccessDenied},
		{"link and destination", []string{linkARN(sf.linkB), sf.arnA}, sf.linkB, sf.arnA, ""},
	}
	for _, tc := range tests {
		sf.allow(keyMover, policy.Statement{Effect: policy.Allow, Actions: all, Resources: tc.resources})
		if code := move(tc.link, tc.to); code != tc.code {
			t.Errorf("%s: %q, want %q", tc.name, code, tc.code)
		}
	}
	l, err := sf.store.GetRepositoryLink(t.Context(), sf.linkB)
	if err != nil || l.ConnectionID != sf.idA {
		t.Errorf("link after the allowed move: %+v %v", l, err)
	}
}

// TestConditionsInRequests: the condition keys each operation carries,
// against policies that test them.
func TestConditionsInRequests(t *testing.T) {
	sf := newScopeFixture(t)
	const key = "AKIDCONDITIONS00001"
	cond := func(op, k string, v ...string) policy.Conditions {
		return policy.Conditions{op: {k: policy.Values(v)}}
	}
	allow := func(actions []string, c policy.Conditions) policy.Statement {
		return policy.Statement{Effect: policy.Allow, Actions: actions, Resources: []string{"*"}, Conditions: c}
	}
	missing := sf.arnA[:strings.LastIndexByte(sf.arnA, '/')+1] + "00000000-0000-0000-0000-000000000000"
	tests := []struct {
		name      string
		statement policy.Statement
		target    string
		body      string
		code      string
	}{
		{"resource tag matches", allow([]string{"codeconnections:GetConnection"}, cond("StringEquals", "aws:ResourceTag/team", "a")),
			cc + "GetConnection", `{"ConnectionArn":"` + sf.arnA + `"}`, ""},
		{"resource tag differs", allow([]string{"codeconnections:GetConnection"}, cond("StringEquals", "aws:ResourceTag/team", "a")),
			cc + "GetConnection", `{"ConnectionArn":"` + sf.arnB + `"}`, codeAccessDenied},
		{"no tags: denied, not not found", allow([]string{"codeconnections:GetConnection"}, cond("StringEquals", "aws:ResourceTag/team", "a")),
			cc + "GetConnection", `{"ConnectionArn":"` + missing + `"}`, codeAccessDenied},
		{"event through its connection's tag", allow([]string{"forgelink:GetEvent"}, cond("StringEquals", "aws:ResourceTag/team", "b")),
			ext + "GetEvent", `{"EventId":"` + sf.eventB + `"}`, ""},
		{"provider type allowed", allow([]string{"codeconnections:CreateConnection"}, cond("StringEquals", "codeconnections:ProviderType", "GitHub")),
			cc + "CreateConnection", `{"ConnectionName":"gh","ProviderType":"GitHub"}`, ""},
		{"provider type refused", allow([]string{"codeconnections:CreateConnection"}, cond("StringEquals", "codeconnections:ProviderType", "GitHub")),
			cc + "CreateConnection", `{"ConnectionName":"gl","ProviderType":"GitLab"}`, codeAccessDenied},
		{"tag keys within", allow([]string{"codeconnections:TagResource"}, cond("ForAllValues:StringEquals", "aws:TagKeys", "team", "env")),
			cc + "TagResource", `{"ResourceArn":"` + sf.arnA + `","Tags":[{"Key":"env","Value":"x"}]}`, ""},
		{"tag keys beyond", allow([]string{"codeconnections:TagResource"}, cond("ForAllValues:StringEquals", "aws:TagKeys", "team", "env")),
			cc + "TagResource", `{"ResourceArn":"` + sf.arnA + `","Tags":[{"Key":"owner","Value":"x"}]}`, codeAccessDenied},
		{"request tag", allow([]string{"codeconnections:CreateConnection"}, cond("StringEquals", "aws:RequestTag/team", "a")),
			cc + "CreateConnection", `{"ConnectionName":"t","ProviderType":"GitHub","Tags":[{"Key":"team","Value":"b"}]}`, codeAccessDenied},
		{"host VPC", allow([]string{"codeconnections:CreateHost"}, cond("StringEquals", "codeconnections:VpcId", "vpc-12345678")),
			cc + "CreateHost", `{"Name":"v","ProviderType":"GitLabSelfManaged","ProviderEndpoint":"https://v.example.com"}`, codeAccessDenied},
		{"host set-up with HostArn", allow([]string{"codeconnections:StartAppRegistrationHandshake"}, cond("StringEquals", "codeconnections:HostArn", sf.host)),
			ext + "StartHostSetup", `{"HostArn":"` + sf.host + `"}`, ""},
		{"list filter", allow([]string{"codeconnections:ListConnections"}, cond("StringEquals", "codeconnections:ProviderTypeFilter", "GitHub")),
			cc + "ListConnections", `{"ProviderTypeFilter":"GitHub"}`, ""},
	}
	for _, tc := range tests {
		sf.allow(key, tc.statement)
		if code, msg, _ := sf.signedTarget(t, key, tc.target, tc.body); code != tc.code {
			t.Errorf("%s: %s: %s; want %q", tc.name, code, msg, tc.code)
		}
	}
	// A listing whose filter the policy does not allow shows nothing (the
	// key may list something, so it is filtered rather than refused).
	sf.allow(key, allow([]string{"codeconnections:ListConnections"}, cond("StringEquals", "codeconnections:ProviderTypeFilter", "GitLab")))
	if code, _, out := sf.signedTarget(t, key, cc+"ListConnections", `{"ProviderTypeFilter":"GitHub"}`); code != "" || len(out["Connections"].([]any)) != 0 {
		t.Errorf("ListConnections with a filter the policy does not allow: %s %v", code, out)
	}
}

// TestConnectionTokenConditions: a build host's key scoped to one
// repository, read-only, as README recommends.
func TestConnectionTokenConditions(t *testing.T) {
	sf := newScopeFixture(t)
	const key = "AKIDBUILDHOSTREADER"
	sf.allow(key,
		policy.Statement{Effect: policy.Allow, Actions: []string{"codeconnections:GetConnectionToken"}, Resources: []string{sf.arnA}},
		policy.Statement{Effect: policy.Allow, Actions: []string{"codeconnections:UseConnection"}, Resources: []string{sf.arnA},
			Conditions: policy.Conditions{"StringEquals": {
				"codeconnections:FullRepositoryId":            {"octo/app"},
				"codeconnections:ProviderPermissionsRequired": {"read_only"},
				"codeconnections:ProviderAction":              {"GitPull"},
			}}})
	tests := []struct{ name, body, code string }{
		{"its repository, read-only", tokenBody(sf.arnA, "octo/app"), ""},
		{"another repository", tokenBody(sf.arnA, "octo/noexpiry"), codeAccessDenied},
		{"read_write", tokenBodyFor(sf.arnA, "octo/app", "https", "github.example", "read_write"), codeAccessDenied},
		{"another connection", tokenBody(sf.arnB, "octo/app"), codeAccessDenied},
	}
	for _, tc := range tests {
		if code, msg, _ := sf.signedTarget(t, key, ext+"GetConnectionToken", tc.body); code != tc.code {
			t.Errorf("%s: %s: %s; want %q", tc.name, code, msg, tc.code)
		}
	}
}

// TestContentType: only the AWS JSON content types reach an operation;
// the types a browser sends cross-site without a preflight do not.
func TestContentType(t *testing.T) {
	f := newFixture(t, Limits{}, false)
	tests := []struct {
		contentType string
		status      int
	}{
		{"application/x-amz-json-1.0", http.StatusOK},
		{"application/x-amz-json-1.0; charset=utf-8", http.StatusOK},
		{"application/x-amz-json-1.1", http.StatusOK},
		{"", http.StatusUnsupportedMediaType},
		{"text/plain", http.StatusUnsupportedMediaType},
		{"application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"multipart/form-data; boundary=x", http.StatusUnsupportedMediaType},
		{"application/json", http.StatusUnsupportedMediaType},
		{"application/x-amz-json-1.0x", http.StatusUnsupportedMediaType},
	}
	for i, tc := range tests {
		body := fmt.Sprintf(`{"ConnectionName":"c%d","ProviderType":"GitHub"}`, i)
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/", strings.NewReader(body))
		req.Header.Set("X-Amz-Target", cc+"CreateConnection")
		if tc.contentType != "" {
			req.Header.Set("Content-Type", tc.contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("Content-Type %q: HTTP %d, want %d", tc.contentType, resp.StatusCode, tc.status)
		}
		if tc.status != http.StatusOK && resp.Header.Get("X-Amzn-Errortype") != codeUnsupportedMediaType {
			t.Errorf("Content-Type %q: error type %q", tc.contentType, resp.Header.Get("X-Amzn-Errortype"))
		}
	}
	list, err := f.cc.ListConnections(t.Context(), &codeconnections.ListConnectionsInput{})
	if err != nil || len(list.Connections) != 3 {
		t.Errorf("after the refusals: %d connections, %v; want the 3 accepted", len(list.Connections), err)
	}
}

// TestHostEndpointAddresses: endpoints on this machine, link-local or
// multicast are refused; private ranges unless allowed.
func TestHostEndpointAddresses(t *testing.T) {
	tests := []struct {
		endpoint string
		strict   bool // accepted without AllowPrivateEndpoints
		lax      bool // accepted with it
	}{
		{"https://git.example.com", true, true},
		{"https://8.8.8.8", true, true},
		{"https://[2001:db8::1]:8443", true, true},
		{"https://127.0.0.1", false, false},
		{"https://127.1.2.3:8443", false, false},
		{"https://localhost", false, false},
		{"https://LocalHost.", false, false},
		{"https://git.localhost", false, false},
		{"https://[::1]", false, false},
		{"https://[::ffff:127.0.0.1]", false, false},
		{"https://0.0.0.0", false, false},
		{"https://[::]", false, false},
		{"https://169.254.169.254", false, false},
		{"https://[fe80::1%25eth0]", false, false},
		{"https://224.0.0.1", false, false},
		{"https://[ff02::1]", false, false},
		{"https://2130706433", false, false},
		{"https://0x7f.1", false, false},
		{"https://10.1.2.3", false, true},
		{"https://172.16.0.1", false, true},
		{"https://192.168.1.1", false, true},
		{"https://100.64.0.1", false, true},
		{"https://[fd00::1]", false, true},
		{"https://172.32.0.1", true, true},
	}
	for _, allow := range []bool{false, true} {
		f := newFixture(t, Limits{AllowPrivateEndpoints: allow}, false)
		ok, err := f.cc.CreateHost(t.Context(), &codeconnections.CreateHostInput{Name: aws.String("ok"), ProviderType: "GitLabSelfManaged",
			ProviderEndpoint: aws.String("https://git.example.com")})
		if err != nil {
			t.Fatal(err)
		}
		for i, tc := range tests {
			want := tc.strict
			if allow {
				want = tc.lax
			}
			_, err := f.cc.CreateHost(t.Context(), &codeconnections.CreateHostInput{Name: aws.String(fmt.Sprint("h", i)),
				ProviderType: "GitLabSelfManaged", ProviderEndpoint: aws.String(tc.endpoint)})
			if (err == nil) != want || err != nil && apiCode(err) != codeInvalidInput {
				t.Errorf("allow private %v: CreateHost %s: %v, want accepted %v", allow, tc.endpoint, err, want)
			}
			_, err = f.cc.UpdateHost(t.Context(), &codeconnections.UpdateHostInput{HostArn: ok.HostArn, ProviderEndpoint: aws.String(tc.endpoint)})
			if (err == nil) != want {
				t.Errorf("allow private %v: UpdateHost %s: %v, want accepted %v", allow, tc.endpoint, err, want)
			}
		}
	}
}

func FuzzCheckEndpointHost(f *testing.F) {
	for _, h := range []string{"git.example.com", "127.0.0.1", "::1", "fe80::1%eth0", "2130706433", "localhost.", "10.0.0.1"} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, host string) {
		err := checkEndpointHost(host, false)
		if err == nil {
			if a, perr := netip.ParseAddr(host); perr == nil && (a.Unmap().IsLoopback() || a.Unmap().IsLinkLocalUnicast() || a.Unmap().IsPrivate()) {
				t.Fatalf("checkEndpointHost(%q) accepted %s", host, a)
			}
		} else if e, _ := toWire(err); e.code != codeInvalidInput {
			t.Fatalf("checkEndpointHost(%q): %v", host, err)
		}
	})
}
