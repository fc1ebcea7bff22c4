package controlplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	cctypes "github.com/aws/aws-sdk-go-v2/service/codeconnections/types"
	"github.com/aws/aws-sdk-go-v2/service/codestarconnections"
	cstypes "github.com/aws/aws-sdk-go-v2/service/codestarconnections/types"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/relay/sigv4"
	"github.com/forgelink/forgelink/store"
)

// otherRegion is the second region of the multi-region fixtures.
const otherRegion = "eu-south-1"

// regionFixture serves testRegion (the default) and otherRegion, with an
// SDK client of each namespace per region.
type regionFixture struct {
	*fixture
	ccIn    map[string]*codeconnections.Client
	csIn    map[string]*codestarconnections.Client
	metrics *Metrics
}

func newRegionFixture(t *testing.T, limits Limits) *regionFixture {
	t.Helper()
	rf := &regionFixture{ccIn: map[string]*codeconnections.Client{}, csIn: map[string]*codestarconnections.Client{},
		metrics: NewMetrics(prometheus.NewRegistry())}
	rf.fixture = newFixture(t, limits, true, func(o *Options) {
		o.Regions = []string{testRegion, otherRegion}
		o.Auth = &sigv4.Verifier{Regions: o.Regions, Secret: func(id string) (string, bool) { return testSecret, id == testKeyID }}
		o.Tokens = &fakeTokens{}
		o.ProviderURLs = config.Providers{GitHubAPIURL: "https://api.octo.ghe.com/"}
		o.Setup = &fakeSetup{}
		o.Metrics = rf.metrics
	})
	creds := credentials.NewStaticCredentialsProvider(testKeyID, testSecret, "")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, region := range []string{testRegion, otherRegion, "ap-south-1"} {
		rf.ccIn[region] = codeconnections.New(codeconnections.Options{
			BaseEndpoint: aws.String(rf.srv.URL), Region: region, Credentials: creds, RetryMaxAttempts: 1, HTTPClient: client,
		})
		rf.csIn[region] = codestarconnections.New(codestarconnections.Options{
			BaseEndpoint: aws.String(rf.srv.URL), Region: region, Credentials: creds, RetryMaxAttempts: 1, HTTPClient: client,
		})
	}
	return rf
}

// connectionIn creates a GitHub connection through the codeconnections
// namespace in region and returns its ARN.
func (rf *regionFixture) connectionIn(t *testing.T, region, name string) string {
	t.Helper()
	out, err := rf.ccIn[region].CreateConnection(t.Context(), &codeconnections.CreateConnectionInput{
		ConnectionName: aws.String(name), ProviderType: cctypes.ProviderTypeGithub,
		Tags: []cctypes.Tag{{Key: aws.String("team"), Value: aws.String("core")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ConnectionArn)
}

// linkOf links octo/<name> to the connection at arn, from its home region.
func (rf *regionFixture) linkOf(t *testing.T, arn, name string) string {
	t.Helper()
	out, err := rf.ccIn[testRegion].CreateRepositoryLink(t.Context(), &codeconnections.CreateRepositoryLinkInput{
		ConnectionArn: &arn, OwnerId: aws.String("octo"), RepositoryName: aws.String(name),
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.RepositoryLinkInfo.RepositoryLinkId)
}

// ext calls one of forgelink's own operations signed for region.
func (rf *regionFixture) ext(t *testing.T, region, op, body string) error {
	t.Helper()
	if code, msg, _ := rf.signedTargetIn(t, region, testKeyID, ext+op, body); code != "" {
		return fmt.Errorf("%s: %s", code, msg)
	}
	return nil
}

// state is what a refused change must leave as it was.
func (rf *regionFixture) state(t *testing.T, arn, linkID string) string {
	t.Helper()
	ctx := t.Context()
	c, err := rf.cc.GetConnection(ctx, &codeconnections.GetConnectionInput{ConnectionArn: &arn})
	if err != nil {
		return "connection: " + apiCode(err)
	}
	links, err := rf.cc.ListRepositoryLinks(ctx, &codeconnections.ListRepositoryLinksInput{})
	if err != nil {
		t.Fatal(err)
	}
	s := fmt.Sprintf("%s tags=%d links=%d", c.Connection.ConnectionStatus, rf.tagCount(t, arn), len(links.RepositoryLinks))
	if linkID != "" {
		l, err := rf.cc.GetRepositoryLink(ctx, &codeconnections.GetRepositoryLinkInput{RepositoryLinkId: &linkID})
		if err != nil {
			return s + " link: " + apiCode(err)
		}
		info := l.RepositoryLinkInfo
		s += fmt.Sprintf(" link=%s key=%s tags=%d", aws.ToString(info.RepositoryName), aws.ToString(info.EncryptionKeyArn),
			rf.tagCount(t, aws.ToString(info.RepositoryLinkArn)))
	}
	secrets, err := rf.store.WebhookSecrets(ctx, arn[strings.LastIndexByte(arn, '/')+1:], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return s + fmt.Sprintf(" secrets=%d", len(secrets))
}

func (rf *regionFixture) tagCount(t *testing.T, arn string) int {
	t.Helper()
	tags, err := rf.cc.ListTagsForResource(t.Context(), &codeconnections.ListTagsForResourceInput{ResourceArn: &arn})
	if err != nil {
		t.Fatal(err)
	}
	return len(tags.Tags)
}

func TestChangesOnlyInHomeRegion(t *testing.T) {
	const kmsKey = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	tests := []struct {
		name     string
		link     bool // the case needs a repository link of the connection
		noEffect bool // the change answers a link and changes no record
		change   func(t *testing.T, rf *regionFixture, region, arn, linkID string) error
	}{
		{name: "DeleteConnection", change: func(t *testing.T, rf *regionFixture, region, arn, _ string) error {
			_, err := rf.ccIn[region].DeleteConnection(t.Context(), &codeconnections.DeleteConnectionInput{ConnectionArn: &arn})
			return err
		}},
		{name: "DeleteConnection, legacy namespace and ARN", change: func(t *testing.T, rf *regionFixture, region, arn, _ string) error {
			legacy := strings.Replace(arn, ":codeconnections:", ":codestar-connections:", 1)
			_, err := rf.csIn[region].DeleteConnection(t.Context(), &codestarconnections.DeleteConnectionInput{ConnectionArn: &legacy})
			return err
		}},
		{name: "TagResource", change: func(t *testing.T, rf *regionFixture, region, arn, _ string) error {
			_, err := rf.ccIn[region].TagResource(t.Context(), &codeconnections.TagResourceInput{
				ResourceArn: &arn, Tags: []cctypes.Tag{{Key: aws.String("env"), Value: aws.String("prod")}},
			})
			return err
		}},
		{name: "UntagResource", change: func(t *testing.T, rf *regionFixture, region, arn, _ string) error {
			_, err := rf.ccIn[region].UntagResource(t.Context(), &codeconnections.UntagResourceInput{ResourceArn: &arn, TagKeys: []string{"team"}})
			return err
		}},
		{name: "CompleteConnection", change: func(t *testing.T, rf *regionFixture, region, arn, _ string) error {
			return rf.ext(t, region, "CompleteConnection", completeBody(arn, goodToken))
		}},
		{name: "StartConnectionSetup", noEffect: true, change: func(t *testing.T, rf *regionFixture, region, arn, _ string) error {
			return rf.ext(t, region, "StartConnectionSetup", fmt.Sprintf(`{"ConnectionArn":%q}`, arn))
		}},
		{name: "RotateConnectionWebhookSecret", change: func(t *testing.T, rf *regionFixture, region, arn, _ string) error {
			return rf.ext(t, region, "RotateConnectionWebhookSecret", fmt.Sprintf(`{"ConnectionArn":%q,"OverlapSeconds":60}`, arn))
		}},
		{name: "CreateRepositoryLink", change: func(t *testing.T, rf *regionFixture, region, arn, _ string) error {
			_, err := rf.ccIn[region].CreateRepositoryLink(t.Context(), &codeconnections.CreateRepositoryLinkInput{
				ConnectionArn: &arn, OwnerId: aws.String("octo"), RepositoryName: aws.String("new"),
			})
			return err
		}},
		{name: "UpdateRepositoryLink", link: true, change: func(t *testing.T, rf *regionFixture, region, _, linkID string) error {
			_, err := rf.ccIn[region].UpdateRepositoryLink(t.Context(), &codeconnections.UpdateRepositoryLinkInput{
				RepositoryLinkId: &linkID, EncryptionKeyArn: aws.String(kmsKey),
			})
			return err
		}},
		{name: "DeleteRepositoryLink", link: true, change: func(t *testing.T, rf *regionFixture, region, _, linkID string) error {
			_, err := rf.ccIn[region].DeleteRepositoryLink(t.Context(), &codeconnections.DeleteRepositoryLinkInput{RepositoryLinkId: &linkID})
			return err
		}},
		{name: "TagResource on a link", link: true, change: func(t *testing.T, rf *regionFixture, region, _, linkID string) error {
			l, err := rf.cc.GetRepositoryLink(t.Context(), &codeconnections.GetRepositoryLinkInput{RepositoryLinkId: &linkID})
			if err != nil {
				t.Fatal(err)
			}
			_, err = rf.ccIn[region].TagResource(t.Context(), &codeconnections.TagResourceInput{
				ResourceArn: l.RepositoryLinkInfo.RepositoryLinkArn, Tags: []cctypes.Tag{{Key: aws.String("env"), Value: aws.String("prod")}},
			})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rf := newRegionFixture(t, Limits{})
			arn := rf.connectionIn(t, testRegion, "home")
			linkID := ""
			if tt.link {
				linkID = rf.linkOf(t, arn, "app")
			}
			before := rf.state(t, arn, linkID)
			err := tt.change(t, rf, otherRegion, arn, linkID)
			if code := apiCode(err); code != codeInvalidInput && !strings.HasPrefix(fmt.Sprint(err), codeInvalidInput) {
				t.Fatalf("from %s: %v, want %s", otherRegion, err, codeInvalidInput)
			}
			if !strings.Contains(err.Error(), "home region "+testRegion) {
				t.Errorf("the refusal does not name the home region: %v", err)
			}
			if after := rf.state(t, arn, linkID); after != before {
				t.Errorf("a refused change changed %q to %q", before, after)
			}
			if err := tt.change(t, rf, testRegion, arn, linkID); err != nil {
				t.Fatalf("from the home region %s: %v", testRegion, err)
			}
			if after := rf.state(t, arn, linkID); after == before && !tt.noEffect {
				t.Errorf("the change from the home region changed nothing: %q", after)
			}
		})
	}
}

func TestConnectionsAreGlobal(t *testing.T) {
	rf := newRegionFixture(t, Limits{})
	ctx := t.Context()
	home := map[string]string{
		testRegion:  rf.connectionIn(t, testRegion, "east"),
		otherRegion: rf.connectionIn(t, otherRegion, "south"),
	}
	for region, arn := range home {
		if !strings.Contains(arn, ":"+region+":") {
			t.Errorf("a connection created in %s has the ARN %s", region, arn)
		}
	}
	var want []string
	for _, arn := range home {
		want = append(want, arn)
	}
	slices.Sort(want)
	for _, region := range []string{testRegion, otherRegion} {
		list, err := rf.ccIn[region].ListConnections(ctx, &codeconnections.ListConnectionsInput{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range list.Connections {
			got = append(got, aws.ToString(c.ConnectionArn))
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("ListConnections in %s = %v, want every region's %v", region, got, want)
		}
		for _, arn := range home {
			if _, err := rf.ccIn[region].GetConnection(ctx, &codeconnections.GetConnectionInput{ConnectionArn: &arn}); err != nil {
				t.Errorf("GetConnection(%s) in %s: %v", arn, region, err)
			}
			if err := rf.ext(t, region, "GetConnectionWebhook", fmt.Sprintf(`{"ConnectionArn":%q}`, arn)); err != nil {
				t.Errorf("GetConnectionWebhook(%s) in %s: %v", arn, region, err)
			}
		}
	}
	// An ARN naming another region than the connection's home names nothing.
	moved := strings.Replace(home[testRegion], ":"+testRegion+":", ":"+otherRegion+":", 1)
	var nf *cctypes.ResourceNotFoundException
	if _, err := rf.cc.GetConnection(ctx, &codeconnections.GetConnectionInput{ConnectionArn: &moved}); !errors.As(err, &nf) {
		t.Errorf("GetConnection(%s): %v, want ResourceNotFoundException", moved, err)
	}
	// A request signed for a region the deployment does not serve is
	// refused as AWS refuses it, and changes nothing.
	_, err := rf.ccIn["ap-south-1"].CreateConnection(ctx, &codeconnections.CreateConnectionInput{
		ConnectionName: aws.String("nowhere"), ProviderType: cctypes.ProviderTypeGithub,
	})
	if code := apiCode(err); code != sigv4.CodeInvalidSignature {
		t.Errorf("a request for an unserved region: %v, want %s", err, sigv4.CodeInvalidSignature)
	}
	if n := counted(t, rf.metrics, "ListConnections", otherRegion, "success"); n != 1 {
		t.Errorf("ListConnections in %s counted %v times, want 1", otherRegion, n)
	}
	if n := counted(t, rf.metrics, "CreateConnection", "none", sigv4.CodeInvalidSignature); n != 1 {
		t.Errorf("the unserved region's request counted %v times under region none, want 1", n)
	}
}

// counted reads forgelink_api_requests_total{operation,region,outcome}.
func counted(t *testing.T, m *Metrics, op, region, outcome string) float64 {
	t.Helper()
	var out dto.Metric
	if err := m.requests.WithLabelValues(op, region, outcome).Write(&out); err != nil {
		t.Fatal(err)
	}
	return out.GetCounter().GetValue()
}

func TestConnectionQuotaPerHomeRegion(t *testing.T) {
	rf := newRegionFixture(t, Limits{Connections: 1})
	rf.connectionIn(t, testRegion, "east")
	var le *cctypes.LimitExceededException
	_, err := rf.ccIn[testRegion].CreateConnection(t.Context(), &codeconnections.CreateConnectionInput{
		ConnectionName: aws.String("east-2"), ProviderType: cctypes.ProviderTypeGithub,
	})
	if !errors.As(err, &le) {
		t.Fatalf("second connection in %s: %v, want LimitExceededException", testRegion, err)
	}
	rf.connectionIn(t, otherRegion, "south") // another region has its own quota
}

func TestHostsAreRegional(t *testing.T) {
	rf := newRegionFixture(t, Limits{})
	ctx := t.Context()
	h := store.Host{ID: "ghes-0123abcd", Name: "ghes", ProviderType: store.ProviderGitHubEnterpriseServer,
		ProviderEndpoint: "https://ghes.example.com", Region: testRegion, Status: store.StatusAvailable}
	if err := rf.store.CreateHost(ctx, h, nil, 0); err != nil {
		t.Fatal(err)
	}
	hostARN := formatARN(namespaces[0], testRegion, "123456789012", store.KindHost, h.ID)
	south, err := rf.ccIn[otherRegion].CreateHost(ctx, &codeconnections.CreateHostInput{
		Name: aws.String("gitlab"), ProviderType: cctypes.ProviderTypeGitlabSelfManaged, ProviderEndpoint: aws.String("https://gitlab.example.com"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(aws.ToString(south.HostArn), ":"+otherRegion+":") {
		t.Errorf("a host created in %s: %s", otherRegion, aws.ToString(south.HostArn))
	}
	for region, want := range map[string]string{testRegion: hostARN, otherRegion: aws.ToString(south.HostArn)} {
		list, err := rf.ccIn[region].ListHosts(ctx, &codeconnections.ListHostsInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Hosts) != 1 || aws.ToString(list.Hosts[0].HostArn) != want {
			t.Errorf("ListHosts in %s = %+v, want only %s", region, list.Hosts, want)
		}
	}

	var nf *cctypes.ResourceNotFoundException
	other := rf.ccIn[otherRegion]
	refused := map[string]error{}
	_, refused["GetHost"] = other.GetHost(ctx, &codeconnections.GetHostInput{HostArn: &hostARN})
	_, refused["UpdateHost"] = other.UpdateHost(ctx, &codeconnections.UpdateHostInput{HostArn: &hostARN, ProviderEndpoint: aws.String("https://moved.example.com")})
	_, refused["DeleteHost"] = other.DeleteHost(ctx, &codeconnections.DeleteHostInput{HostArn: &hostARN})
	_, refused["TagResource"] = other.TagResource(ctx, &codeconnections.TagResourceInput{ResourceArn: &hostARN, Tags: []cctypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	_, refused["ListTagsForResource"] = other.ListTagsForResource(ctx, &codeconnections.ListTagsForResourceInput{ResourceArn: &hostARN})
	_, refused["CreateConnection"] = other.CreateConnection(ctx, &codeconnections.CreateConnectionInput{ConnectionName: aws.String("far"), HostArn: &hostARN})
	refused["StartHostSetup"] = rf.ext(t, otherRegion, "StartHostSetup", fmt.Sprintf(`{"HostArn":%q}`, hostARN))
	for op, err := range refused {
		if !errors.As(err, &nf) && !strings.HasPrefix(fmt.Sprint(err), codeNotFound) {
			t.Errorf("%s from %s on a host of %s: %v, want ResourceNotFoundException", op, otherRegion, testRegion, err)
		}
	}
	got, err := rf.cc.GetHost(ctx, &codeconnections.GetHostInput{HostArn: &hostARN})
	if err != nil || aws.ToString(got.ProviderEndpoint) != h.ProviderEndpoint {
		t.Errorf("the host after refused changes: %+v, %v", got, err)
	}

	// A connection on the host names it, whatever the region it is read in.
	conn, err := rf.cc.CreateConnection(ctx, &codeconnections.CreateConnectionInput{ConnectionName: aws.String("near"), HostArn: &hostARN})
	if err != nil {
		t.Fatal(err)
	}
	for _, region := range []string{testRegion, otherRegion} {
		c, err := rf.ccIn[region].GetConnection(ctx, &codeconnections.GetConnectionInput{ConnectionArn: conn.ConnectionArn})
		if err != nil || aws.ToString(c.Connection.HostArn) != hostARN {
			t.Errorf("GetConnection in %s: host %v, %v; want %s", region, c, err, hostARN)
		}
	}
}

func TestARNsKeepTheirCreationPrefix(t *testing.T) {
	rf := newRegionFixture(t, Limits{})
	ctx := t.Context()
	modern := rf.connectionIn(t, testRegion, "modern")
	created, err := rf.cs.CreateConnection(ctx, &codestarconnections.CreateConnectionInput{
		ConnectionName: aws.String("legacy"), ProviderType: cstypes.ProviderTypeGithub,
	})
	if err != nil {
		t.Fatal(err)
	}
	legacy := aws.ToString(created.ConnectionArn)
	if !strings.HasPrefix(legacy, "arn:aws:codestar-connections:"+testRegion+":") {
		t.Fatalf("created through codestar-connections: %s", legacy)
	}
	swap := func(arn string) string {
		if strings.Contains(arn, ":codestar-connections:") {
			return strings.Replace(arn, ":codestar-connections:", ":codeconnections:", 1)
		}
		return strings.Replace(arn, ":codeconnections:", ":codestar-connections:", 1)
	}
	for _, stored := range []string{modern, legacy} {
		for _, asked := range []string{stored, swap(stored)} {
			a, err := rf.cc.GetConnection(ctx, &codeconnections.GetConnectionInput{ConnectionArn: &asked})
			if err != nil || aws.ToString(a.Connection.ConnectionArn) != stored {
				t.Errorf("codeconnections GetConnection(%s) = %v, %v; want %s", asked, a, err, stored)
			}
			b, err := rf.cs.GetConnection(ctx, &codestarconnections.GetConnectionInput{ConnectionArn: &asked})
			if err != nil || aws.ToString(b.Connection.ConnectionArn) != stored {
				t.Errorf("codestar-connections GetConnection(%s) = %v, %v; want %s", asked, b, err, stored)
			}
		}
	}
	list, err := rf.cc.ListConnections(ctx, &codeconnections.ListConnectionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range list.Connections {
		got = append(got, aws.ToString(c.ConnectionArn))
	}
	if !slices.Contains(got, legacy) || !slices.Contains(got, modern) {
		t.Errorf("ListConnections = %v, want both ARNs as created", got)
	}
	host, err := rf.cs.CreateHost(ctx, &codestarconnections.CreateHostInput{
		Name: aws.String("ghes"), ProviderType: cstypes.ProviderTypeGithubEnterpriseServer, ProviderEndpoint: aws.String("https://ghes.example.com"),
	})
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := rf.cc.ListHosts(ctx, &codeconnections.ListHostsInput{})
	if err != nil || len(hosts.Hosts) != 1 || aws.ToString(hosts.Hosts[0].HostArn) != aws.ToString(host.HostArn) ||
		!strings.Contains(aws.ToString(host.HostArn), ":codestar-connections:") {
		t.Errorf("a host created through codestar-connections, listed through codeconnections: %+v %v; created %s", hosts, err, aws.ToString(host.HostArn))
	}
}

func TestUnsignedRequestRegion(t *testing.T) {
	f := newFixture(t, Limits{}, false, func(o *Options) { o.Regions = []string{testRegion, otherRegion} })
	create := func(header, name string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/", strings.NewReader(fmt.Sprintf(`{"ConnectionName":%q,"ProviderType":"GitHub"}`, name)))
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		req.Header.Set("X-Amz-Target", "CodeConnections_20231201.CreateConnection")
		if header != "" {
			req.Header.Set(RegionHeader, header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, out
	}
	tests := []struct {
		header, wantRegion, wantCode string
	}{
		{header: "", wantRegion: testRegion},
		{header: otherRegion, wantRegion: otherRegion},
		{header: "ap-south-1", wantCode: codeValidation},
	}
	for i, tt := range tests {
		status, out := create(tt.header, fmt.Sprintf("c%d", i))
		switch arn, _ := out["ConnectionArn"].(string); {
		case tt.wantCode != "" && out["__type"] != tt.wantCode:
			t.Errorf("%s %q: %d %v, want %s", RegionHeader, tt.header, status, out, tt.wantCode)
		case tt.wantCode == "" && !strings.Contains(arn, ":"+tt.wantRegion+":"):
			t.Errorf("%s %q: %d %v, want a connection in %s", RegionHeader, tt.header, status, out, tt.wantRegion)
		}
	}
}

func TestAuthorizedOnTheResourcesOwnARN(t *testing.T) {
	af := newAuthFixture(t)
	ctx := t.Context()
	out, err := af.cs.CreateConnection(ctx, &codestarconnections.CreateConnectionInput{
		ConnectionName: aws.String("legacy"), ProviderType: cstypes.ProviderTypeGithub,
	})
	if err != nil {
		t.Fatal(err)
	}
	legacy := aws.ToString(out.ConnectionArn)
	asModern := strings.Replace(legacy, ":codestar-connections:", ":codeconnections:", 1)
	missing := asModern[:len(asModern)-12] + "000000000000"
	cc, _ := af.clientsFor(keyUser)
	for _, tt := range []struct{ sent, authorised string }{
		{sent: asModern, authorised: legacy}, // the connection's own ARN, whichever form was sent
		{sent: missing, authorised: missing}, // nothing: the ARN as sent tells nothing
		{sent: legacy, authorised: legacy},   // the own form itself
	} {
		_, err := cc.GetConnection(ctx, &codeconnections.GetConnectionInput{ConnectionArn: aws.String(tt.sent)})
		if apiCode(err) != codeAccessDenied || !strings.Contains(err.Error(), "on resource: "+tt.authorised+" ") {
			t.Errorf("GetConnection(%s) by a key without it: %v, want AccessDeniedException on %s", tt.sent, err, tt.authorised)
		}
	}
	// IAM compares resource ARNs as written: a policy naming the
	// codeconnections spelling does not reach a connection created through
	// the legacy API, one naming its own spelling does.
	for pattern, want := range map[string]policy.Decision{asModern: policy.NotAllowed, legacy: policy.Allowed} {
		p := policy.Policy{Statements: []policy.Statement{{Effect: policy.Allow, Actions: []string{"codeconnections:GetConnection"}, Resources: []string{pattern}}}}
		if got := p.Evaluate(policy.Request{Action: "codeconnections:GetConnection", Resource: legacy}); got != want {
			t.Errorf("policy on %s for the connection %s: %v, want %v", pattern, legacy, got, want)
		}
	}
	reader, _ := af.clientsFor(keyReader) // Get* on *
	got, err := reader.GetConnection(ctx, &codeconnections.GetConnectionInput{ConnectionArn: &asModern})
	if err != nil || aws.ToString(got.Connection.ConnectionArn) != legacy {
		t.Errorf("GetConnection by a reader: %+v, %v", got, err)
	}
}

func TestMissingRecordsAuthorisedOnEveryRegion(t *testing.T) {
	const keyRegional, keyEverywhere = "AKIDEVENTSINUSEAST1", "AKIDEVENTSEVERYWHERE"
	grant := func(resource string) policy.Policy {
		return policy.Policy{Statements: []policy.Statement{{Effect: policy.Allow, Actions: []string{"forgelink:GetEvent"}, Resources: []string{resource}}}}
	}
	policies := map[string]policy.Policy{
		keyRegional:   grant("arn:aws:codeconnections:" + testRegion + ":123456789012:connection/*"),
		keyEverywhere: grant("arn:aws:codeconnections:*:123456789012:connection/*"),
	}
	f := newFixture(t, Limits{}, true, func(o *Options) {
		o.Regions = []string{testRegion, otherRegion}
		o.Auth = &sigv4.Verifier{Regions: o.Regions, Secret: func(id string) (string, bool) {
			_, ok := policies[id]
			return secretOf(id), ok
		}}
		o.Authorizer = policy.NewAuthorizer(testKeyID, policies)
	})
	// An event that does not exist may be one of any region's connection:
	// only a key allowed on all of them learns that it does not exist.
	body := fmt.Sprintf(`{"EventId":%q}`, uuid.NewString())
	for key, want := range map[string]string{keyRegional: codeAccessDenied, keyEverywhere: codeNotFound} {
		if code, msg, _ := f.signedCall(t, key, "GetEvent", body); code != want {
			t.Errorf("GetEvent(missing) by %s: %s %s, want %s", key, code, msg, want)
		}
	}
}
