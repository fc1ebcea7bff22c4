//go:build unix

package main_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	cctypes "github.com/aws/aws-sdk-go-v2/service/codeconnections/types"
	"github.com/aws/aws-sdk-go-v2/service/codestarconnections"
	cstypes "github.com/aws/aws-sdk-go-v2/service/codestarconnections/types"
)

// createConnection creates a connection through codeconnections, in the
// client's region, and returns its ARN.
func createConnection(t *testing.T, c *codeconnections.Client, name, provider string, tags ...cctypes.Tag) string {
	t.Helper()
	out, err := c.CreateConnection(t.Context(), &codeconnections.CreateConnectionInput{
		ConnectionName: aws.String(name), ProviderType: cctypes.ProviderType(provider), Tags: tags,
	})
	if err != nil {
		t.Fatalf("CreateConnection %s: %v", name, err)
	}
	arn := aws.ToString(out.ConnectionArn)
	if !strings.HasPrefix(arn, arnPrefixIn(c.Options().Region, "codeconnections", "connection")) {
		t.Fatalf("CreateConnection %s: ARN %q", name, arn)
	}
	return arn
}

// createHost creates a host through codeconnections, in the client's
// region, and returns its ARN.
func createHost(t *testing.T, c *codeconnections.Client, name, provider, endpoint string, tags ...cctypes.Tag) string {
	t.Helper()
	out, err := c.CreateHost(t.Context(), &codeconnections.CreateHostInput{
		Name: aws.String(name), ProviderType: cctypes.ProviderType(provider), ProviderEndpoint: aws.String(endpoint), Tags: tags,
	})
	if err != nil {
		t.Fatalf("CreateHost %s: %v", name, err)
	}
	arn := aws.ToString(out.HostArn)
	if !strings.HasPrefix(arn, arnPrefixIn(c.Options().Region, "codeconnections", "host")+name+"-") {
		t.Fatalf("CreateHost %s: ARN %q", name, arn)
	}
	return arn
}

func tag(k, v string) cctypes.Tag { return cctypes.Tag{Key: aws.String(k), Value: aws.String(v)} }

// manyTags returns n tags with distinct keys of keyLen digits and values of
// valueLen characters.
func manyTags(n, keyLen, valueLen int) []cctypes.Tag {
	tags := make([]cctypes.Tag, n)
	for i := range tags {
		tags[i] = tag(fmt.Sprintf("%0*d", keyLen, i), strings.Repeat("v", valueLen))
	}
	return tags
}

// listTags returns a resource's tags as a map.
func listTags(t *testing.T, c *codeconnections.Client, arn string) map[string]string {
	t.Helper()
	out, err := c.ListTagsForResource(t.Context(), &codeconnections.ListTagsForResourceInput{ResourceArn: &arn})
	if err != nil {
		t.Fatalf("ListTagsForResource %s: %v", arn, err)
	}
	tags := map[string]string{}
	for _, tg := range out.Tags {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	if len(tags) != len(out.Tags) {
		t.Errorf("ListTagsForResource %s: duplicate keys in %d tags", arn, len(out.Tags))
	}
	return tags
}

// listConnections lists every connection with the SDK paginator and
// returns the ARNs in order and the number of pages.
func listConnections(ctx context.Context, c *codeconnections.Client, in *codeconnections.ListConnectionsInput) ([]string, int, error) {
	var arns []string
	pages := 0
	p := codeconnections.NewListConnectionsPaginator(c, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, pages, err
		}
		pages++
		if in.MaxResults > 0 && len(page.Connections) > int(in.MaxResults) {
			return nil, pages, fmt.Errorf("page %d has %d connections, MaxResults is %d", pages, len(page.Connections), in.MaxResults)
		}
		for _, conn := range page.Connections {
			arns = append(arns, aws.ToString(conn.ConnectionArn))
		}
	}
	return arns, pages, nil
}

// connection is a connection as either namespace reports it.
type connection struct {
	ARN, Name, Provider, Status, Owner string
}

// namespaceClient is what TestE2EConnectionsAcrossNamespaces needs from
// one namespace's SDK client.
type namespaceClient struct {
	service  string
	create   func(ctx context.Context, name, provider string) (string, error)
	get      func(ctx context.Context, arn string) (connection, error)
	del      func(ctx context.Context, arn string) error
	notFound func(error) bool // the namespace's typed ResourceNotFoundException
}

func codeconnectionsNamespace(c *codeconnections.Client) namespaceClient {
	return namespaceClient{
		service: "codeconnections",
		create: func(ctx context.Context, name, provider string) (string, error) {
			out, err := c.CreateConnection(ctx, &codeconnections.CreateConnectionInput{ConnectionName: &name, ProviderType: cctypes.ProviderType(provider)})
			if err != nil {
				return "", err
			}
			return aws.ToString(out.ConnectionArn), nil
		},
		get: func(ctx context.Context, arn string) (connection, error) {
			out, err := c.GetConnection(ctx, &codeconnections.GetConnectionInput{ConnectionArn: &arn})
			if err != nil {
				return connection{}, err
			}
			cn := out.Connection
			return connection{aws.ToString(cn.ConnectionArn), aws.ToString(cn.ConnectionName), string(cn.ProviderType), string(cn.ConnectionStatus), aws.ToString(cn.OwnerAccountId)}, nil
		},
		del: func(ctx context.Context, arn string) error {
			_, err := c.DeleteConnection(ctx, &codeconnections.DeleteConnectionInput{ConnectionArn: &arn})
			return err
		},
		notFound: func(err error) bool { return errors.As(err, new(*cctypes.ResourceNotFoundException)) },
	}
}

func codestarNamespace(c *codestarconnections.Client) namespaceClient {
	return namespaceClient{
		service: "codestar-connections",
		create: func(ctx context.Context, name, provider string) (string, error) {
			out, err := c.CreateConnection(ctx, &codestarconnections.CreateConnectionInput{ConnectionName: &name, ProviderType: cstypes.ProviderType(provider)})
			if err != nil {
				return "", err
			}
			return aws.ToString(out.ConnectionArn), nil
		},
		get: func(ctx context.Context, arn string) (connection, error) {
			out, err := c.GetConnection(ctx, &codestarconnections.GetConnectionInput{ConnectionArn: &arn})
			if err != nil {
				return connection{}, err
			}
			cn := out.Connection
			return connection{aws.ToString(cn.ConnectionArn), aws.ToString(cn.ConnectionName), string(cn.ProviderType), string(cn.ConnectionStatus), aws.ToString(cn.OwnerAccountId)}, nil
		},
		del: func(ctx context.Context, arn string) error {
			_, err := c.DeleteConnection(ctx, &codestarconnections.DeleteConnectionInput{ConnectionArn: &arn})
			return err
		},
		notFound: func(err error) bool { return errors.As(err, new(*cstypes.ResourceNotFoundException)) },
	}
}

// TestE2EConnectionsAcrossNamespaces creates a connection in one namespace
// and reads and deletes it in the other.
func TestE2EConnectionsAcrossNamespaces(t *testing.T) {
	e2e(t)
	d := startDaemon(t, daemonOptions{})
	cc, cs := codeconnectionsNamespace(d.cc()), codestarNamespace(d.cs())
	for _, tc := range []struct{ from, to namespaceClient }{{cc, cs}, {cs, cc}} {
		t.Run(tc.from.service+" to "+tc.to.service, func(t *testing.T) {
			ctx := t.Context()
			name := "via-" + tc.from.service
			arn, err := tc.from.create(ctx, name, "GitHub")
			if err != nil {
				t.Fatalf("CreateConnection: %v", err)
			}
			if !strings.HasPrefix(arn, arnPrefix(tc.from.service, "connection")) {
				t.Fatalf("CreateConnection: ARN %q", arn)
			}
			got, err := tc.to.get(ctx, arn)
			if err != nil {
				t.Fatalf("GetConnection: %v", err)
			}
			// The ARN as created, whichever namespace reads it.
			want := connection{ARN: arn, Name: name, Provider: "GitHub", Status: "PENDING", Owner: accountID}
			if got != want {
				t.Errorf("GetConnection = %+v, want %+v", got, want)
			}
			if err := tc.to.del(ctx, arn); err != nil {
				t.Fatalf("DeleteConnection: %v", err)
			}
			for _, ns := range []namespaceClient{tc.from, tc.to} {
				if _, err := ns.get(ctx, arn); !ns.notFound(err) {
					t.Errorf("%s GetConnection after delete: %v, want ResourceNotFoundException", ns.service, err)
				}
				if err := ns.del(ctx, arn); !ns.notFound(err) {
					t.Errorf("%s DeleteConnection after delete: %v, want ResourceNotFoundException", ns.service, err)
				}
			}
			// The name is free again; the ARN is never reused.
			again, err := tc.from.create(ctx, name, "GitLab")
			if err != nil {
				t.Fatalf("CreateConnection with the deleted connection's name: %v", err)
			}
			if again == arn {
				t.Errorf("the deleted connection's ARN %s was reused", arn)
			}
		})
	}
}

func TestE2EListConnections(t *testing.T) {
	e2e(t)
	d := startDaemon(t, daemonOptions{})
	cc := d.cc()
	var all []string
	byProvider := map[string][]string{}
	for i, p := range []string{"GitHub", "GitLab", "GitHub", "Bitbucket", "GitHub", "GitLab", "GitHub", "GitHub"} {
		arn := createConnection(t, cc, fmt.Sprintf("conn-%d", i), p)
		all = append(all, arn)
		byProvider[p] = append(byProvider[p], arn)
	}
	host := createHost(t, cc, "gitlab", "GitLabSelfManaged", "https://gitlab.example.com")
	unknownHost := arnPrefix("codeconnections", "host") + "nope-12345678"

	tests := []struct {
		name  string
		in    codeconnections.ListConnectionsInput
		want  []string
		pages int
		code  string // expected error code, if any
	}{
		{name: "all in one page", in: codeconnections.ListConnectionsInput{}, want: all, pages: 1},
		{name: "all in pages of 3", in: codeconnections.ListConnectionsInput{MaxResults: 3}, want: all, pages: 3},
		{name: "GitHub in pages of 2", in: codeconnections.ListConnectionsInput{ProviderTypeFilter: "GitHub", MaxResults: 2}, want: byProvider["GitHub"], pages: 3},
		{name: "GitLab fills one page exactly", in: codeconnections.ListConnectionsInput{ProviderTypeFilter: "GitLab", MaxResults: 2}, want: byProvider["GitLab"], pages: 1},
		{name: "Bitbucket", in: codeconnections.ListConnectionsInput{ProviderTypeFilter: "Bitbucket"}, want: byProvider["Bitbucket"], pages: 1},
		{name: "no GitHubEnterpriseServer", in: codeconnections.ListConnectionsInput{ProviderTypeFilter: "GitHubEnterpriseServer"}, pages: 1},
		{name: "host without connections", in: codeconnections.ListConnectionsInput{HostArnFilter: &host, MaxResults: 1}, pages: 1},
		{name: "unknown host", in: codeconnections.ListConnectionsInput{HostArnFilter: &unknownHost}, code: "ResourceNotFoundException"},
		{name: "unknown provider", in: codeconnections.ListConnectionsInput{ProviderTypeFilter: "Gitea"}, code: "ValidationException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, pages, err := listConnections(t.Context(), cc, &tc.in)
			if tc.code != "" {
				wantCode(t, "ListConnections", err, tc.code)
				return
			}
			if err != nil {
				t.Fatalf("ListConnections: %v", err)
			}
			if !sameSet(got, tc.want) || pages != tc.pages {
				t.Errorf("ListConnections: %d pages of %v, want %d pages of %v", pages, got, tc.pages, tc.want)
			}
		})
	}

	t.Run("codestar-connections", func(t *testing.T) {
		out, err := d.cs().ListConnections(t.Context(), &codestarconnections.ListConnectionsInput{ProviderTypeFilter: "GitLab"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range out.Connections {
			got = append(got, aws.ToString(c.ConnectionArn))
		}
		want := byProvider["GitLab"] // as created, through codeconnections
		if !sameSet(got, want) || out.NextToken != nil {
			t.Errorf("ListConnections = %v (NextToken %v), want %v", got, out.NextToken, want)
		}
	})
}

// sameSet reports whether a and b hold the same strings, each once.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b) && len(slices.Compact(a)) == len(b)
}

func TestE2EHosts(t *testing.T) {
	e2e(t)
	d := startDaemon(t, daemonOptions{})
	ctx := t.Context()
	cc, cs := d.cc(), d.cs()

	ghes := createHost(t, cc, "ghes", "GitHubEnterpriseServer", "https://ghes.example.com/")
	gitlab := createHost(t, cc, "gitlab", "GitLabSelfManaged", "https://gitlab.example.com")
	_, err := cc.CreateHost(ctx, &codeconnections.CreateHostInput{
		Name: aws.String("ghes"), ProviderType: "GitHubEnterpriseServer", ProviderEndpoint: aws.String("https://other.example.com"),
	})
	wantCode(t, "CreateHost with a taken name", err, "ResourceAlreadyExistsException")
	_, err = cc.CreateHost(ctx, &codeconnections.CreateHostInput{
		Name: aws.String("cloud"), ProviderType: "GitHub", ProviderEndpoint: aws.String("https://github.com"),
	})
	// InvalidInputException is not in CreateHost's model, so the SDK has no
	// typed error for it here.
	wantCode(t, "CreateHost for a cloud provider", err, "InvalidInputException")

	// The legacy namespace reads the host; the endpoint lost its trailing slash.
	got, err := cs.GetHost(ctx, &codestarconnections.GetHostInput{HostArn: &ghes})
	if err != nil {
		t.Fatalf("GetHost: %v", err)
	}
	if aws.ToString(got.Name) != "ghes" || aws.ToString(got.Status) != "PENDING" ||
		got.ProviderType != "GitHubEnterpriseServer" || aws.ToString(got.ProviderEndpoint) != "https://ghes.example.com" {
		t.Errorf("GetHost = name %q status %q provider %q endpoint %q", aws.ToString(got.Name), aws.ToString(got.Status),
			got.ProviderType, aws.ToString(got.ProviderEndpoint))
	}

	// A PENDING host cannot carry connections.
	_, err = cc.CreateConnection(ctx, &codeconnections.CreateConnectionInput{ConnectionName: aws.String("on-ghes"), HostArn: &ghes})
	wantError[*cctypes.ResourceUnavailableException](t, "CreateConnection on a PENDING host", err)

	if _, err := cc.UpdateHost(ctx, &codeconnections.UpdateHostInput{HostArn: &ghes, ProviderEndpoint: aws.String("https://ghes2.example.com")}); err != nil {
		t.Fatalf("UpdateHost: %v", err)
	}

	// ListHosts, one host per page.
	hosts := map[string]cctypes.Host{}
	pages := 0
	for p := codeconnections.NewListHostsPaginator(cc, &codeconnections.ListHostsInput{MaxResults: 1}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListHosts: %v", err)
		}
		pages++
		for _, h := range page.Hosts {
			hosts[aws.ToString(h.HostArn)] = h
		}
	}
	if pages != 2 || len(hosts) != 2 {
		t.Fatalf("ListHosts: %d pages, hosts %v; want 2 pages of 1 host", pages, hosts)
	}
	if h := hosts[ghes]; aws.ToString(h.ProviderEndpoint) != "https://ghes2.example.com" || aws.ToString(h.Status) != "PENDING" {
		t.Errorf("updated host = endpoint %q status %q, want the new endpoint and PENDING", aws.ToString(h.ProviderEndpoint), aws.ToString(h.Status))
	}
	if h := hosts[gitlab]; aws.ToString(h.Name) != "gitlab" || h.ProviderType != "GitLabSelfManaged" {
		t.Errorf("host %s = %+v", gitlab, h)
	}

	// Deleted through the legacy namespace, gone from both.
	if _, err := cs.DeleteHost(ctx, &codestarconnections.DeleteHostInput{HostArn: &ghes}); err != nil {
		t.Fatalf("DeleteHost: %v", err)
	}
	_, err = cc.GetHost(ctx, &codeconnections.GetHostInput{HostArn: &ghes})
	wantError[*cctypes.ResourceNotFoundException](t, "GetHost after delete", err)
	_, err = cc.UpdateHost(ctx, &codeconnections.UpdateHostInput{HostArn: &ghes, ProviderEndpoint: aws.String("https://ghes3.example.com")})
	wantError[*cctypes.ResourceNotFoundException](t, "UpdateHost after delete", err)
	_, err = cs.DeleteHost(ctx, &codestarconnections.DeleteHostInput{HostArn: &ghes})
	wantError[*cstypes.ResourceNotFoundException](t, "DeleteHost after delete", err)
	list, err := cs.ListHosts(ctx, &codestarconnections.ListHostsInput{})
	if err != nil {
		t.Fatalf("ListHosts: %v", err)
	}
	if len(list.Hosts) != 1 || aws.ToString(list.Hosts[0].HostArn) != gitlab {
		t.Errorf("ListHosts after delete = %+v, want only %s as created", list.Hosts, gitlab)
	}
}

func TestE2ETags(t *testing.T) {
	e2e(t)
	d := startDaemon(t, daemonOptions{})
	cc, cs := d.cc(), d.cs()
	resources := []struct{ kind, arn string }{
		{"connection", createConnection(t, cc, "tagged", "Bitbucket", tag("team", "ci"))},
		{"host", createHost(t, cc, "tagged", "GitLabSelfManaged", "https://gitlab.example.com", tag("team", "ci"))},
	}
	for _, r := range resources {
		t.Run(r.kind, func(t *testing.T) {
			ctx := t.Context()
			arn := r.arn
			tagResource := func(tags []cctypes.Tag) error {
				_, err := cc.TagResource(ctx, &codeconnections.TagResourceInput{ResourceArn: &arn, Tags: tags})
				return err
			}
			if got := listTags(t, cc, arn); len(got) != 1 || got["team"] != "ci" {
				t.Fatalf("tags given at creation: %v", got)
			}
			// 199 more at the maximum lengths make 200, the limit.
			if err := tagResource(manyTags(199, 128, 256)); err != nil {
				t.Fatalf("TagResource up to 200 tags: %v", err)
			}
			// Overwriting a key adds no tag.
			if err := tagResource([]cctypes.Tag{tag("team", "cd")}); err != nil {
				t.Fatalf("TagResource overwriting a key at the limit: %v", err)
			}
			wantError[*cctypes.LimitExceededException](t, "201st tag", tagResource([]cctypes.Tag{tag("one-more", "")}))
			for _, tc := range []struct {
				name string
				tags []cctypes.Tag
			}{
				{"key of 129 characters", manyTags(1, 129, 1)},
				{"value of 257 characters", []cctypes.Tag{tag("team", strings.Repeat("v", 257))}},
				{"reserved aws: prefix", []cctypes.Tag{tag("aws:team", "x")}},
			} {
				wantCode(t, tc.name, tagResource(tc.tags), "ValidationException")
			}
			got := listTags(t, cc, arn)
			if len(got) != 200 || got["team"] != "cd" {
				t.Fatalf("after refused tags: %d tags, team=%q; want 200 and team=cd", len(got), got["team"])
			}
			for k, v := range got {
				if k != "team" && (len(k) != 128 || len(v) != 256) {
					t.Fatalf("tag %q=%q was not stored at its full length", k, v)
				}
			}

			if _, err := cs.UntagResource(ctx, &codestarconnections.UntagResourceInput{
				ResourceArn: aws.String(otherNamespace(arn)), TagKeys: []string{"team", "no-such-key"},
			}); err != nil {
				t.Fatalf("UntagResource: %v", err)
			}
			out, err := cs.ListTagsForResource(ctx, &codestarconnections.ListTagsForResourceInput{ResourceArn: &arn})
			if err != nil {
				t.Fatalf("ListTagsForResource: %v", err)
			}
			if len(out.Tags) != 199 || slices.ContainsFunc(out.Tags, func(tg cstypes.Tag) bool { return aws.ToString(tg.Key) == "team" }) {
				t.Errorf("after UntagResource: %d tags (team among them?); want 199 without team", len(out.Tags))
			}
		})
	}

	missing := arnPrefix("codeconnections", "connection") + "00000000-0000-0000-0000-000000000000"
	_, err := cc.ListTagsForResource(t.Context(), &codeconnections.ListTagsForResourceInput{ResourceArn: &missing})
	wantError[*cctypes.ResourceNotFoundException](t, "ListTagsForResource of an unknown connection", err)
	_, err = cc.TagResource(t.Context(), &codeconnections.TagResourceInput{ResourceArn: &missing, Tags: []cctypes.Tag{tag("a", "b")}})
	wantError[*cctypes.ResourceNotFoundException](t, "TagResource of an unknown connection", err)
}

// TestE2EQuotas checks the account quotas set through the environment.
func TestE2EQuotas(t *testing.T) {
	e2e(t)
	d := startDaemon(t, daemonOptions{env: []string{"FORGELINK_MAX_CONNECTIONS=2", "FORGELINK_MAX_HOSTS=1"}})
	ctx := t.Context()
	cc := d.cc()
	first := createConnection(t, cc, "first", "GitHub")
	createConnection(t, cc, "second", "GitLab")
	_, err := cc.CreateConnection(ctx, &codeconnections.CreateConnectionInput{ConnectionName: aws.String("third"), ProviderType: "GitHub"})
	wantError[*cctypes.LimitExceededException](t, "third connection", err)
	// A deleted connection frees its place.
	if _, err := cc.DeleteConnection(ctx, &codeconnections.DeleteConnectionInput{ConnectionArn: &first}); err != nil {
		t.Fatal(err)
	}
	createConnection(t, cc, "third", "GitHub")

	createHost(t, cc, "only", "GitLabSelfManaged", "https://gitlab.example.com")
	_, err = cc.CreateHost(ctx, &codeconnections.CreateHostInput{
		Name: aws.String("second"), ProviderType: "GitLabSelfManaged", ProviderEndpoint: aws.String("https://gitlab2.example.com"),
	})
	wantError[*cctypes.LimitExceededException](t, "second host", err)
}

// TestE2ESignatureFailures sends requests that would change the store with
// bad or missing signatures: each is refused with the error AWS gives, and
// nothing changes.
func TestE2ESignatureFailures(t *testing.T) {
	e2e(t)
	d := startDaemon(t, daemonOptions{})
	cc := d.cc()
	keep := createConnection(t, cc, "keep", "GitHub", tag("team", "ci"))

	withCredentials := func(id, secret string) *codeconnections.Client {
		return d.cc(credentials.NewStaticCredentialsProvider(id, secret, ""))
	}
	tests := []struct {
		name   string
		send   func(t *testing.T) (status int, code string)
		status int
		code   string
	}{
		{"wrong secret", func(t *testing.T) (int, string) {
			_, err := withCredentials(rootKeyID, "wrong-secret").CreateConnection(t.Context(), &codeconnections.CreateConnectionInput{
				ConnectionName: aws.String("intruder"), ProviderType: "GitHub",
			})
			return sdkOutcome(err)
		}, http.StatusForbidden, "InvalidSignatureException"},
		{"unknown access key", func(t *testing.T) (int, string) {
			_, err := withCredentials("AKIDUNKNOWN", rootSecret).DeleteConnection(t.Context(), &codeconnections.DeleteConnectionInput{ConnectionArn: &keep})
			return sdkOutcome(err)
		}, http.StatusBadRequest, "UnrecognizedClientException"},
		{"anonymous SDK client", func(t *testing.T) (int, string) {
			_, err := d.cc(aws.AnonymousCredentials{}).UntagResource(t.Context(), &codeconnections.UntagResourceInput{ResourceArn: &keep, TagKeys: []string{"team"}})
			return sdkOutcome(err)
		}, http.StatusBadRequest, "MissingAuthenticationTokenException"},
		{"unsigned raw POST", func(t *testing.T) (int, string) {
			return rawPost(t, d.url, "CodeConnections_20231201.TagResource", `{"ResourceArn":"`+keep+`","Tags":[{"Key":"x","Value":"y"}]}`)
		}, http.StatusBadRequest, "MissingAuthenticationTokenException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, code := tc.send(t)
			if status != tc.status || code != tc.code {
				t.Errorf("got HTTP %d %s, want HTTP %d %s", status, code, tc.status, tc.code)
			}
		})
	}

	arns, _, err := listConnections(t.Context(), cc, &codeconnections.ListConnectionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(arns, []string{keep}) {
		t.Errorf("connections after refused requests: %v, want only %s", arns, keep)
	}
	if got := listTags(t, cc, keep); len(got) != 1 || got["team"] != "ci" {
		t.Errorf("tags after refused requests: %v, want team=ci", got)
	}
}

// sdkOutcome is the HTTP status and wire error code of an SDK call's error.
func sdkOutcome(err error) (int, string) {
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		return 0, fmt.Sprintf("no HTTP response error: %v", err)
	}
	return re.HTTPStatusCode(), apiCode(err)
}

// rawPost sends an unsigned AWS JSON 1.0 request and returns the HTTP
// status and the error code, which the X-Amzn-ErrorType header and the
// body's __type must agree on.
func rawPost(t *testing.T, url, target, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", target)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Type string `json:"__type"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s: response body is not JSON: %v", target, err)
	}
	code := resp.Header.Get("X-Amzn-ErrorType")
	if code != out.Type {
		t.Errorf("%s: X-Amzn-ErrorType %q but __type %q", target, code, out.Type)
	}
	return resp.StatusCode, code
}
