package controlplane

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	cctypes "github.com/aws/aws-sdk-go-v2/service/codeconnections/types"
	"github.com/aws/aws-sdk-go-v2/service/codestarconnections"
	cstypes "github.com/aws/aws-sdk-go-v2/service/codestarconnections/types"
	"github.com/aws/smithy-go"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/relay/keyring"
	"github.com/forgelink/forgelink/relay/sigv4"
	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/sqlite"
	"github.com/forgelink/forgelink/store/sqlite/sqlitetest"
)

const (
	testKeyID  = "AKIDFORGELINKTEST"
	testSecret = "forgelink-test-secret"
	testRegion = "us-east-1"
)

type fixture struct {
	srv   *httptest.Server
	store *sqlite.Store
	cc    *codeconnections.Client
	cs    *codestarconnections.Client
}

// newFixture serves an API over a fresh store; configure may set further
// options.
func newFixture(t testing.TB, limits Limits, auth bool, configure ...func(*Options)) *fixture {
	t.Helper()
	st := sqlitetest.Open(t)
	if limits.Connections == 0 {
		limits.Connections = 250
	}
	if limits.Hosts == 0 {
		limits.Hosts = 50
	}
	kr, err := keyring.New(bytes.Repeat([]byte{1}, keyring.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Store: st, Log: zap.NewNop(), Keyring: kr, Region: testRegion, AccountID: "123456789012", Limits: limits,
		WebhookBaseURL: "https://forgelink.example", SecretOverlap: time.Hour}
	if auth {
		opts.Auth = &sigv4.Verifier{Regions: []string{testRegion}, Secret: func(id string) (string, bool) {
			return testSecret, id == testKeyID
		}}
	}
	for _, c := range configure {
		c(&opts)
	}
	srv := httptest.NewServer(New(opts))
	t.Cleanup(srv.Close)
	creds := credentials.NewStaticCredentialsProvider(testKeyID, testSecret, "")
	// A connection per request: reused keep-alive connections made an
	// occasional read of a large answer fail with "use of closed network
	// connection" on the client side (seen before the trust-boundary work
	// too); these tests are about the protocol, not connection reuse.
	httpClient := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	return &fixture{
		srv:   srv,
		store: st,
		cc: codeconnections.New(codeconnections.Options{
			BaseEndpoint: aws.String(srv.URL), Region: testRegion, Credentials: creds, RetryMaxAttempts: 1, HTTPClient: httpClient,
		}),
		cs: codestarconnections.New(codestarconnections.Options{
			BaseEndpoint: aws.String(srv.URL), Region: testRegion, Credentials: creds, RetryMaxAttempts: 1, HTTPClient: httpClient,
		}),
	}
}

// post sends a raw, unsigned request (the fixture must run without auth).
func (f *fixture) post(t *testing.T, target, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("response %q is not JSON: %v", raw, err)
	}
	if got := resp.Header.Get("X-Amzn-Errortype"); resp.StatusCode != 200 && got != out["__type"] {
		t.Errorf("X-Amzn-ErrorType %q, body __type %v", got, out["__type"])
	}
	return resp.StatusCode, out
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestConnectionLifecycleAcrossNamespaces(t *testing.T) {
	f := newFixture(t, Limits{}, true)
	ctx := context.Background()
	created, err := f.cc.CreateConnection(ctx, &codeconnections.CreateConnectionInput{
		ConnectionName: aws.String("my-github"),
		ProviderType:   cctypes.ProviderTypeGithub,
		Tags:           []cctypes.Tag{{Key: aws.String("team"), Value: aws.String("ci")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(created.ConnectionArn)
	if !strings.HasPrefix(arn, "arn:aws:codeconnections:us-east-1:123456789012:connection/") {
		t.Fatalf("ARN %q", arn)
	}
	if len(created.Tags) != 1 {
		t.Errorf("CreateConnection echoed tags %v", created.Tags)
	}

	// The legacy namespace reads the same record and returns its ARN as
	// created; it also takes the ARN in its own prefix.
	legacyARN := strings.Replace(arn, ":codeconnections:", ":codestar-connections:", 1)
	got, err := f.cs.GetConnection(ctx, &codestarconnections.GetConnectionInput{ConnectionArn: &legacyARN})
	if err != nil {
		t.Fatal(err)
	}
	c := got.Connection
	if aws.ToString(c.ConnectionArn) != arn || aws.ToString(c.ConnectionName) != "my-github" ||
		c.ConnectionStatus != cstypes.ConnectionStatusPending || c.ProviderType != cstypes.ProviderTypeGithub ||
		aws.ToString(c.OwnerAccountId) != "123456789012" || c.HostArn != nil {
		t.Errorf("GetConnection = %+v", c)
	}

	if _, err := f.cs.DeleteConnection(ctx, &codestarconnections.DeleteConnectionInput{ConnectionArn: &legacyARN}); err != nil {
		t.Fatal(err)
	}
	_, err = f.cc.GetConnection(ctx, &codeconnections.GetConnectionInput{ConnectionArn: &arn})
	var nf *cctypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("GetConnection after delete: %v, want ResourceNotFoundException", err)
	}
	_, err = f.cc.DeleteConnection(ctx, &codeconnections.DeleteConnectionInput{ConnectionArn: &arn})
	if !errors.As(err, &nf) {
		t.Fatalf("second DeleteConnection: %v, want ResourceNotFoundException", err)
	}
	// The name is free again, but the new connection gets a new id.
	again, err := f.cc.CreateConnection(ctx, &codeconnections.CreateConnectionInput{
		ConnectionName: aws.String("my-github"), ProviderType: cctypes.ProviderTypeGithub,
	})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(again.ConnectionArn) == arn {
		t.Error("a deleted connection's ARN was reused")
	}
}

func TestCreateConnectionDuplicateNameAndQuota(t *testing.T) {
	f := newFixture(t, Limits{Connections: 2}, true)
	ctx := context.Background()
	create := func(name string) error {
		_, err := f.cc.CreateConnection(ctx, &codeconnections.CreateConnectionInput{
			ConnectionName: aws.String(name), ProviderType: cctypes.ProviderTypeGitlab,
		})
		return err
	}
	if err := create("a"); err != nil {
		t.Fatal(err)
	}
	if code := apiCode(create("a")); code != codeAlreadyExists {
		t.Errorf("duplicate name: code %q, want %s", code, codeAlreadyExists)
	}
	if err := create("b"); err != nil {
		t.Fatal(err)
	}
	var le *cctypes.LimitExceededException
	if err := create("c"); !errors.As(err, &le) {
		t.Errorf("over quota: %v, want LimitExceededException", err)
	}
}

func TestHostsAndSelfManagedConnections(t *testing.T) {
	f := newFixture(t, Limits{}, true)
	ctx := context.Background()
	_, err := f.cc.CreateConnection(ctx, &codeconnections.CreateConnectionInput{
		ConnectionName: aws.String("ghes"), ProviderType: cctypes.ProviderTypeGithubEnterpriseServer,
	})
	if code := apiCode(err); code != codeInvalidInput {
		t.Errorf("GHES connection without host: %q, want %s", code, codeInvalidInput)
	}

	h, err := f.cc.CreateHost(ctx, &codeconnections.CreateHostInput{
		Name: aws.String("My Host"), ProviderType: cctypes.ProviderTypeGithubEnterpriseServer,
		ProviderEndpoint: aws.String("https://ghes.example.com/"),
	})
	if err != nil {
		t.Fatal(err)
	}
	hostARN := aws.ToString(h.HostArn)
	if !strings.HasPrefix(hostARN, "arn:aws:codeconnections:us-east-1:123456789012:host/My-Host-") {
		t.Fatalf("host ARN %q", hostARN)
	}
	gh, err := f.cs.GetHost(ctx, &codestarconnections.GetHostInput{HostArn: &hostARN})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(gh.Name) != "My Host" || aws.ToString(gh.Status) != store.StatusPending ||
		aws.ToString(gh.ProviderEndpoint) != "https://ghes.example.com" {
		t.Errorf("GetHost = %+v", gh)
	}

	// A PENDING host cannot carry connections.
	_, err = f.cc.CreateConnection(ctx, &codeconnections.CreateConnectionInput{ConnectionName: aws.String("c"), HostArn: &hostARN})
	var ru *cctypes.ResourceUnavailableException
	if !errors.As(err, &ru) {
		t.Fatalf("connection on PENDING host: %v, want ResourceUnavailableException", err)
	}
	hostID := hostARN[strings.LastIndexByte(hostARN, '/')+1:]
	if err := f.store.SetHostStatus(ctx, hostID, store.StatusAvailable, ""); err != nil {
		t.Fatal(err)
	}
	conn, err := f.cc.CreateConnection(ctx, &codeconnections.CreateConnectionInput{ConnectionName: aws.String("c"), HostArn: &hostARN})
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.cc.GetConnection(ctx, &codeconnections.GetConnectionInput{ConnectionArn: conn.ConnectionArn})
	if err != nil {
		t.Fatal(err)
	}
	if got.Connection.ProviderType != cctypes.ProviderTypeGithubEnterpriseServer || aws.ToString(got.Connection.HostArn) != hostARN {
		t.Errorf("connection on host = %+v", got.Connection)
	}
	list, err := f.cc.ListConnections(ctx, &codeconnections.ListConnectionsInput{HostArnFilter: &hostARN})
	if err != nil || len(list.Connections) != 1 {
		t.Fatalf("ListConnections(HostArnFilter) = %v, %v", list, err)
	}

	_, err = f.cc.DeleteHost(ctx, &codeconnections.DeleteHostInput{HostArn: &hostARN})
	if !errors.As(err, &ru) {
		t.Fatalf("DeleteHost in use: %v, want ResourceUnavailableException", err)
	}
	if _, err := f.cc.UpdateHost(ctx, &codeconnections.UpdateHostInput{HostArn: &hostARN, ProviderEndpoint: aws.String("https://ghes2.example.com")}); err != nil {
		t.Fatal(err)
	}
	hosts, err := f.cc.ListHosts(ctx, &codeconnections.ListHostsInput{})
	if err != nil || len(hosts.Hosts) != 1 {
		t.Fatalf("ListHosts = %v, %v", hosts, err)
	}
	if hh := hosts.Hosts[0]; aws.ToString(hh.ProviderEndpoint) != "https://ghes2.example.com" || aws.ToString(hh.Status) != store.StatusPending {
		t.Errorf("after endpoint change host = %+v, want new endpoint and PENDING", hh)
	}
	if _, err := f.cc.DeleteConnection(ctx, &codeconnections.DeleteConnectionInput{ConnectionArn: conn.ConnectionArn}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.cs.DeleteHost(ctx, &codestarconnections.DeleteHostInput{HostArn: &hostARN}); err != nil {
		t.Fatal(err)
	}
	_, err = f.cc.GetHost(ctx, &codeconnections.GetHostInput{HostArn: &hostARN})
	var nf *cctypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("GetHost after delete: %v", err)
	}
}

func TestTagLimits(t *testing.T) {
	f := newFixture(t, Limits{}, true)
	ctx := context.Background()
	c, err := f.cc.CreateConnection(ctx, &codeconnections.CreateConnectionInput{ConnectionName: aws.String("t"), ProviderType: cctypes.ProviderTypeBitbucket})
	if err != nil {
		t.Fatal(err)
	}
	arn := c.ConnectionArn
	tags := func(n, keyLen, valueLen int) []cctypes.Tag {
		out := make([]cctypes.Tag, n)
		for i := range out {
			key := strings.Repeat("k", keyLen-3) + string(rune('a'+i/26/26%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i%26))
			out[i] = cctypes.Tag{Key: aws.String(key), Value: aws.String(strings.Repeat("v", valueLen))}
		}
		return out
	}
	if _, err := f.cc.TagResource(ctx, &codeconnections.TagResourceInput{ResourceArn: arn, Tags: tags(200, 128, 256)}); err != nil {
		t.Fatalf("200 tags at maximum lengths: %v", err)
	}
	// Overwriting existing keys stays within the limit.
	if _, err := f.cc.TagResource(ctx, &codeconnections.TagResourceInput{ResourceArn: arn, Tags: tags(10, 128, 0)}); err != nil {
		t.Fatalf("overwrite: %v", err)
	}
	_, err = f.cc.TagResource(ctx, &codeconnections.TagResourceInput{ResourceArn: arn, Tags: []cctypes.Tag{{Key: aws.String("one-more"), Value: aws.String("")}}})
	var le *cctypes.LimitExceededException
	if !errors.As(err, &le) {
		t.Fatalf("201st tag: %v, want LimitExceededException", err)
	}
	for _, tc := range []struct {
		name string
		tags []cctypes.Tag
	}{
		{"key too long", tags(1, 129, 1)},
		{"value too long", tags(1, 10, 257)},
		{"too many in one call", tags(201, 10, 1)},
		{"empty key", []cctypes.Tag{{Key: aws.String(""), Value: aws.String("x")}}},
		{"reserved prefix", []cctypes.Tag{{Key: aws.String("aws:x"), Value: aws.String("x")}}},
	} {
		_, err := f.cc.TagResource(ctx, &codeconnections.TagResourceInput{ResourceArn: arn, Tags: tc.tags})
		if code := apiCode(err); code != codeValidation {
			t.Errorf("%s: code %q, want %s", tc.name, code, codeValidation)
		}
	}
	list, err := f.cc.ListTagsForResource(ctx, &codeconnections.ListTagsForResourceInput{ResourceArn: arn})
	if err != nil || len(list.Tags) != 200 {
		t.Fatalf("ListTagsForResource: %d tags, %v", len(list.Tags), err)
	}
	if v := aws.ToString(list.Tags[0].Value); v != "" {
		t.Errorf("overwritten tag value %q", v)
	}
	if _, err := f.cs.UntagResource(ctx, &codestarconnections.UntagResourceInput{ResourceArn: arn, TagKeys: []string{*list.Tags[0].Key, "no-such-key"}}); err != nil {
		t.Fatal(err)
	}
	list, err = f.cc.ListTagsForResource(ctx, &codeconnections.ListTagsForResourceInput{ResourceArn: arn})
	if err != nil {
		t.Fatalf("ListTagsForResource after untag: %v", err)
	}
	if len(list.Tags) != 199 {
		t.Errorf("after untag: %d tags, want 199", len(list.Tags))
	}
	missing := strings.Replace(aws.ToString(arn), "connection/", "connection/0", 1)
	_, err = f.cc.ListTagsForResource(ctx, &codeconnections.ListTagsForResourceInput{ResourceArn: &missing})
	var nf *cctypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("tags of unknown resource: %v", err)
	}
}

func TestListConnectionsPagination(t *testing.T) {
	f := newFixture(t, Limits{}, true)
	ctx := context.Background()
	want := map[string]bool{}
	for i, p := range []cctypes.ProviderType{"GitHub", "GitLab", "GitHub", "Bitbucket", "GitHub", "GitHub", "GitLab"} {
		out, err := f.cc.CreateConnection(ctx, &codeconnections.CreateConnectionInput{
			ConnectionName: aws.String(string(rune('a' + i))), ProviderType: p,
		})
		if err != nil {
			t.Fatal(err)
		}
		if p == "GitHub" {
			want[aws.ToString(out.ConnectionArn)] = true
		}
	}
	seen := map[string]bool{}
	pages := 0
	pager := codeconnections.NewListConnectionsPaginator(f.cc, &codeconnections.ListConnectionsInput{
		ProviderTypeFilter: cctypes.ProviderTypeGithub, MaxResults: 3,
	})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page.Connections) > 3 {
			t.Errorf("page of %d", len(page.Connections))
		}
		for _, c := range page.Connections {
			if seen[aws.ToString(c.ConnectionArn)] {
				t.Errorf("%s listed twice", aws.ToString(c.ConnectionArn))
			}
			seen[aws.ToString(c.ConnectionArn)] = true
		}
	}
	if pages != 2 || len(seen) != len(want) {
		t.Errorf("%d pages, %d connections; want 2 pages, %d connections", pages, len(seen), len(want))
	}
	for arn := range want {
		if !seen[arn] {
			t.Errorf("%s missing", arn)
		}
	}
	// A token only resumes the listing it came from.
	first, err := f.cc.ListConnections(ctx, &codeconnections.ListConnectionsInput{ProviderTypeFilter: "GitHub", MaxResults: 1})
	if err != nil || first.NextToken == nil {
		t.Fatalf("first page: %v %v", first, err)
	}
	_, err = f.cc.ListConnections(ctx, &codeconnections.ListConnectionsInput{ProviderTypeFilter: "GitLab", NextToken: first.NextToken})
	if code := apiCode(err); code != codeValidation {
		t.Errorf("token replayed on another filter: %q", code)
	}
}

// TestBadInput sends malformed requests and checks each gets its typed
// error and leaves the store as it was.
func TestBadInput(t *testing.T) {
	f := newFixture(t, Limits{}, false)
	const cc = "CodeConnections_20231201."
	status, out := f.post(t, cc+"CreateConnection", `{"ConnectionName":"keep","ProviderType":"GitHub"}`)
	if status != 200 {
		t.Fatalf("seed connection: %d %v", status, out)
	}
	keepARN := out["ConnectionArn"].(string)
	long := strings.Repeat("x", 33)
	tests := []struct {
		name, target, body, code string
		status                   int
	}{
		{"missing target", "", `{}`, codeUnknownOperation, 400},
		{"unknown operation", cc + "StartPipeline", `{}`, codeUnknownOperation, 400},
		{"unknown namespace", "CodeCommit_20150413.GetRepository", `{}`, codeUnknownOperation, 400},
		{"not JSON", cc + "CreateConnection", `{"ConnectionName":`, codeSerialization, 400},
		{"wrong JSON type", cc + "CreateConnection", `{"ConnectionName":5,"ProviderType":"GitHub"}`, codeSerialization, 400},
		{"missing name", cc + "CreateConnection", `{"ProviderType":"GitHub"}`, codeValidation, 400},
		{"empty name", cc + "CreateConnection", `{"ConnectionName":"","ProviderType":"GitHub"}`, codeValidation, 400},
		{"name over 32", cc + "CreateConnection", `{"ConnectionName":"` + long + `","ProviderType":"GitHub"}`, codeValidation, 400},
		{"unknown provider", cc + "CreateConnection", `{"ConnectionName":"x","ProviderType":"SourceHut"}`, codeValidation, 400},
		{"AzureDevOps unsupported", cc + "CreateConnection", `{"ConnectionName":"x","ProviderType":"AzureDevOps"}`, codeUnsupportedProvider, 400},
		{"AzureDevOps not in legacy enum", "CodeStar_connections_20191201.CreateConnection", `{"ConnectionName":"x","ProviderType":"AzureDevOps"}`, codeValidation, 400},
		{"no provider or host", cc + "CreateConnection", `{"ConnectionName":"x"}`, codeValidation, 400},
		{"bad host ARN", cc + "CreateConnection", `{"ConnectionName":"x","HostArn":"host/abc"}`, codeValidation, 400},
		{"unknown host", cc + "CreateConnection", `{"ConnectionName":"x","HostArn":"arn:aws:codeconnections:us-east-1:123456789012:host/nope-12345678"}`, codeNotFound, 400},
		{"duplicate tag keys", cc + "CreateConnection", `{"ConnectionName":"x","ProviderType":"GitHub","Tags":[{"Key":"a","Value":"1"},{"Key":"a","Value":"2"}]}`, codeValidation, 400},
		{"tag without value", cc + "CreateConnection", `{"ConnectionName":"x","ProviderType":"GitHub","Tags":[{"Key":"a"}]}`, codeValidation, 400},
		{"bad connection ARN", cc + "GetConnection", `{"ConnectionArn":"arn:aws:s3:::bucket"}`, codeValidation, 400},
		{"host ARN as connection", cc + "DeleteConnection", `{"ConnectionArn":"arn:aws:codeconnections:us-east-1:123456789012:host/h-12345678"}`, codeValidation, 400},
		{"other account", cc + "DeleteConnection", `{"ConnectionArn":"` + strings.Replace(keepARN, "123456789012", "999999999999", 1) + `"}`, codeNotFound, 400},
		{"other region", cc + "DeleteConnection", `{"ConnectionArn":"` + strings.Replace(keepARN, "us-east-1", "eu-west-1", 1) + `"}`, codeNotFound, 400},
		{"unknown connection", cc + "DeleteConnection", `{"ConnectionArn":"arn:aws:codeconnections:us-east-1:123456789012:connection/00000000-0000-0000-0000-000000000000"}`, codeNotFound, 400},
		{"missing ARN", cc + "GetConnection", `{}`, codeValidation, 400},
		{"MaxResults over 100", cc + "ListConnections", `{"MaxResults":101}`, codeValidation, 400},
		{"MaxResults negative", cc + "ListConnections", `{"MaxResults":-1}`, codeValidation, 400},
		{"garbage NextToken", cc + "ListConnections", `{"NextToken":"not-a-token"}`, codeValidation, 400},
		{"host token on connections", cc + "ListConnections", `{"NextToken":"aG9zdHMAdXMtZWFzdC0xAHg"}`, codeValidation, 400},
		{"bad provider filter", cc + "ListConnections", `{"ProviderTypeFilter":"Gitea"}`, codeValidation, 400},
		{"host for cloud provider", cc + "CreateHost", `{"Name":"h","ProviderType":"GitHub","ProviderEndpoint":"https://x.example"}`, codeInvalidInput, 400},
		{"host endpoint not a URL", cc + "CreateHost", `{"Name":"h","ProviderType":"GitLabSelfManaged","ProviderEndpoint":"gitlab"}`, codeValidation, 400},
		{"host endpoint plain http", cc + "CreateHost", `{"Name":"h","ProviderType":"GitLabSelfManaged","ProviderEndpoint":"http://gitlab.lan"}`, codeInvalidInput, 400},
		{"host name over 64", cc + "CreateHost", `{"Name":"` + strings.Repeat("h", 65) + `","ProviderType":"GitLabSelfManaged","ProviderEndpoint":"https://gitlab.lan"}`, codeValidation, 400},
		{"host bad VPC", cc + "CreateHost", `{"Name":"h","ProviderType":"GitLabSelfManaged","ProviderEndpoint":"https://gitlab.lan","VpcConfiguration":{"VpcId":"vpc-1","SubnetIds":["subnet-12345678"],"SecurityGroupIds":["sg-12345678"]}}`, codeValidation, 400},
		{"host TlsCertificate not PEM", cc + "CreateHost", `{"Name":"h","ProviderType":"GitLabSelfManaged","ProviderEndpoint":"https://gitlab.lan","VpcConfiguration":{"VpcId":"vpc-12345678","SubnetIds":["subnet-12345678"],"SecurityGroupIds":["sg-12345678"],"TlsCertificate":"my CA"}}`, codeValidation, 400},
		{"host TlsCertificate a private key", cc + "CreateHost", `{"Name":"h","ProviderType":"GitLabSelfManaged","ProviderEndpoint":"https://gitlab.lan","VpcConfiguration":{"VpcId":"vpc-12345678","SubnetIds":["subnet-12345678"],"SecurityGroupIds":["sg-12345678"],"TlsCertificate":"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"}}`, codeValidation, 400},
		{"tag unknown resource type", cc + "TagResource", `{"ResourceArn":"arn:aws:codeconnections:us-east-1:123456789012:pipeline/x","Tags":[]}`, codeValidation, 400},
		{"tag without Tags", cc + "TagResource", `{"ResourceArn":"` + keepARN + `"}`, codeValidation, 400},
		{"untag without keys", cc + "UntagResource", `{"ResourceArn":"` + keepARN + `"}`, codeValidation, 400},
		{"untag empty key", cc + "UntagResource", `{"ResourceArn":"` + keepARN + `","TagKeys":[""]}`, codeValidation, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, out := f.post(t, tc.target, tc.body)
			if status != tc.status || out["__type"] != tc.code {
				t.Fatalf("got %d %v, want %d %s", status, out, tc.status, tc.code)
			}
			if msg, _ := out["message"].(string); msg == "" {
				t.Error("empty error message")
			}
		})
	}
	// Nothing was created, changed or removed.
	_, out = f.post(t, cc+"ListConnections", `{}`)
	conns := out["Connections"].([]any)
	if len(conns) != 1 || conns[0].(map[string]any)["ConnectionArn"] != keepARN {
		t.Errorf("connections after bad input: %v", conns)
	}
	_, out = f.post(t, cc+"ListHosts", `{}`)
	if hosts := out["Hosts"].([]any); len(hosts) != 0 {
		t.Errorf("hosts after bad input: %v", hosts)
	}
	_, out = f.post(t, cc+"ListTagsForResource", `{"ResourceArn":"`+keepARN+`"}`)
	if tags := out["Tags"].([]any); len(tags) != 0 {
		t.Errorf("tags after bad input: %v", tags)
	}
}

func TestTargetSpellings(t *testing.T) {
	f := newFixture(t, Limits{}, false)
	for _, target := range []string{
		"CodeConnections_20231201.ListHosts",
		"com.amazonaws.codeconnections.CodeConnections_20231201.ListHosts",
		"CodeStar_connections_20191201.ListHosts",
		"com.amazonaws.codestar.connections.CodeStar_connections_20191201.ListHosts",
	} {
		if status, out := f.post(t, target, ``); status != 200 {
			t.Errorf("%s: %d %v", target, status, out)
		}
	}
	if status, out := f.post(t, "com.example.CodeConnections_20231201.ListHosts", `{}`); status != 400 || out["__type"] != codeUnknownOperation {
		t.Errorf("foreign qualified prefix: %d %v", status, out)
	}
}

func TestSignatureFailuresChangeNothing(t *testing.T) {
	f := newFixture(t, Limits{}, true)
	ctx := context.Background()
	bad := codeconnections.New(codeconnections.Options{
		BaseEndpoint: aws.String(f.srv.URL), Region: testRegion, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(testKeyID, "wrong-secret", ""),
	})
	_, err := bad.CreateConnection(ctx, &codeconnections.CreateConnectionInput{ConnectionName: aws.String("x"), ProviderType: "GitHub"})
	if code := apiCode(err); code != "InvalidSignatureException" {
		t.Errorf("wrong secret: %q", code)
	}
	unknown := codeconnections.New(codeconnections.Options{
		BaseEndpoint: aws.String(f.srv.URL), Region: testRegion, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDUNKNOWN", testSecret, ""),
	})
	_, err = unknown.CreateConnection(ctx, &codeconnections.CreateConnectionInput{ConnectionName: aws.String("x"), ProviderType: "GitHub"})
	if code := apiCode(err); code != "UnrecognizedClientException" {
		t.Errorf("unknown key: %q", code)
	}
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/", bytes.NewBufferString(`{"ConnectionName":"x","ProviderType":"GitHub"}`))
	req.Header.Set("X-Amz-Target", "CodeConnections_20231201.CreateConnection")
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-Errortype") != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"))
	}
	list, err := f.cc.ListConnections(ctx, &codeconnections.ListConnectionsInput{})
	if err != nil || len(list.Connections) != 0 {
		t.Errorf("after refused requests: %v %v", list, err)
	}
}
