package controlplane

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	cctypes "github.com/aws/aws-sdk-go-v2/service/codeconnections/types"

	"github.com/forgelink/forgelink/store"
)

// fakeHooks records what the control plane asks of the hook registry.
type fakeHooks struct {
	mu      sync.Mutex
	synced  []string
	removed []string
	err     error // RemoveAll's answer
}

func (h *fakeHooks) Sync(connID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.synced = append(h.synced, connID)
}

func (h *fakeHooks) RemoveAll(_ context.Context, conn store.Connection) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removed = append(h.removed, conn.ID)
	return h.err
}

// take returns and forgets what was synced and removed so far.
func (h *fakeHooks) take() (synced, removed []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	synced, removed = h.synced, h.removed
	h.synced, h.removed = nil, nil
	return synced, removed
}

func newLinkFixture(t *testing.T, limits Limits) (*fixture, *fakeHooks) {
	t.Helper()
	hooks := &fakeHooks{}
	return newFixture(t, limits, true, func(o *Options) { o.Hooks = hooks }), hooks
}

func (f *fixture) mustConnection(t *testing.T, name string, p cctypes.ProviderType) string {
	t.Helper()
	out, err := f.cc.CreateConnection(t.Context(), &codeconnections.CreateConnectionInput{
		ConnectionName: aws.String(name), ProviderType: p,
	})
	if err != nil {
		t.Fatalf("CreateConnection(%s): %v", name, err)
	}
	return aws.ToString(out.ConnectionArn)
}

func (f *fixture) link(t *testing.T, connARN, owner, name string) (*cctypes.RepositoryLinkInfo, error) {
	t.Helper()
	out, err := f.cc.CreateRepositoryLink(t.Context(), &codeconnections.CreateRepositoryLinkInput{
		ConnectionArn: &connARN, OwnerId: &owner, RepositoryName: &name,
	})
	if err != nil {
		return nil, err
	}
	return out.RepositoryLinkInfo, nil
}

func linkString(l *cctypes.RepositoryLinkInfo) string {
	return fmt.Sprintf("%s %s %s %s %s %s %s", aws.ToString(l.RepositoryLinkId), aws.ToString(l.RepositoryLinkArn),
		aws.ToString(l.ConnectionArn), l.ProviderType, aws.ToString(l.OwnerId), aws.ToString(l.RepositoryName), aws.ToString(l.EncryptionKeyArn))
}

func connIDOf(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }

func TestRepositoryLinkLifecycle(t *testing.T) {
	f, hooks := newLinkFixture(t, Limits{})
	ctx := t.Context()
	gitlab := f.mustConnection(t, "gl", cctypes.ProviderTypeGitlab)
	gitlab2 := f.mustConnection(t, "gl2", cctypes.ProviderTypeGitlab)
	github := f.mustConnection(t, "gh", cctypes.ProviderTypeGithub)
	key := "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

	created, err := f.cc.CreateRepositoryLink(ctx, &codeconnections.CreateRepositoryLinkInput{
		ConnectionArn: &gitlab, OwnerId: aws.String("group/sub"), RepositoryName: aws.String("app"),
		EncryptionKeyArn: &key, Tags: []cctypes.Tag{{Key: aws.String("team"), Value: aws.String("ci")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	info := created.RepositoryLinkInfo
	id := aws.ToString(info.RepositoryLinkId)
	if aws.ToString(info.RepositoryLinkArn) != "arn:aws:codeconnections:us-east-1:123456789012:repository-link/"+id ||
		aws.ToString(info.ConnectionArn) != gitlab || aws.ToString(info.OwnerId) != "group/sub" ||
		aws.ToString(info.RepositoryName) != "app" || info.ProviderType != cctypes.ProviderTypeGitlab ||
		aws.ToString(info.EncryptionKeyArn) != key {
		t.Errorf("CreateRepositoryLink = %+v", info)
	}
	if synced, _ := hooks.take(); !slices.Equal(synced, []string{connIDOf(gitlab)}) {
		t.Errorf("after create, hooks synced %v, want the connection", synced)
	}

	got, err := f.cc.GetRepositoryLink(ctx, &codeconnections.GetRepositoryLinkInput{RepositoryLinkId: &id})
	if err != nil {
		t.Fatal(err)
	}
	if g, w := linkString(got.RepositoryLinkInfo), linkString(info); g != w {
		t.Errorf("GetRepositoryLink = %s, want %s", g, w)
	}

	var exists *cctypes.ResourceAlreadyExistsException
	if _, err := f.link(t, gitlab, "Group/Sub", "APP"); !errors.As(err, &exists) {
		t.Errorf("second link of the repository: %v, want ResourceAlreadyExistsException", err)
	}

	// Moving the link: same provider type only.
	var invalid *cctypes.InvalidInputException
	_, err = f.cc.UpdateRepositoryLink(ctx, &codeconnections.UpdateRepositoryLinkInput{RepositoryLinkId: &id, ConnectionArn: &github})
	if !errors.As(err, &invalid) {
		t.Errorf("move to a GitHub connection: %v, want InvalidInputException", err)
	}
	updated, err := f.cc.UpdateRepositoryLink(ctx, &codeconnections.UpdateRepositoryLinkInput{RepositoryLinkId: &id, ConnectionArn: &gitlab2})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(updated.RepositoryLinkInfo.ConnectionArn) != gitlab2 || aws.ToString(updated.RepositoryLinkInfo.EncryptionKeyArn) != key {
		t.Errorf("UpdateRepositoryLink = %+v", updated.RepositoryLinkInfo)
	}
	if synced, _ := hooks.take(); !slices.Equal(synced, []string{connIDOf(gitlab), connIDOf(gitlab2)}) {
		t.Errorf("after the move, hooks synced %v, want the old and the new connection", synced)
	}

	// A connection with links is not deleted; without, its hooks go first.
	if _, err := f.cc.DeleteConnection(ctx, &codeconnections.DeleteConnectionInput{ConnectionArn: &gitlab2}); apiCode(err) != codeUnavailable {
		t.Errorf("DeleteConnection of a linked connection: %v, want %s", err, codeUnavailable)
	}
	if _, removed := hooks.take(); len(removed) != 0 {
		t.Errorf("refused delete removed hooks of %v", removed)
	}

	if _, err := f.cc.DeleteRepositoryLink(ctx, &codeconnections.DeleteRepositoryLinkInput{RepositoryLinkId: &id}); err != nil {
		t.Fatal(err)
	}
	if synced, _ := hooks.take(); !slices.Equal(synced, []string{connIDOf(gitlab2)}) {
		t.Errorf("after delete, hooks synced %v", synced)
	}
	var nf *cctypes.ResourceNotFoundException
	if _, err := f.cc.GetRepositoryLink(ctx, &codeconnections.GetRepositoryLinkInput{RepositoryLinkId: &id}); !errors.As(err, &nf) {
		t.Errorf("GetRepositoryLink after delete: %v, want ResourceNotFoundException", err)
	}
	if _, err := f.cc.DeleteRepositoryLink(ctx, &codeconnections.DeleteRepositoryLinkInput{RepositoryLinkId: &id}); !errors.As(err, &nf) {
		t.Errorf("second DeleteRepositoryLink: %v, want ResourceNotFoundException", err)
	}
	_, err = f.cc.UpdateRepositoryLink(ctx, &codeconnections.UpdateRepositoryLinkInput{RepositoryLinkId: &id, EncryptionKeyArn: &key})
	if !errors.As(err, &nf) {
		t.Errorf("UpdateRepositoryLink after delete: %v, want ResourceNotFoundException", err)
	}

	hooks.err = errors.New("provider unreachable")
	if _, err := f.cc.DeleteConnection(ctx, &codeconnections.DeleteConnectionInput{ConnectionArn: &gitlab2}); err != nil {
		t.Fatalf("DeleteConnection, provider unreachable: %v", err)
	}
	if _, removed := hooks.take(); !slices.Equal(removed, []string{connIDOf(gitlab2)}) {
		t.Errorf("DeleteConnection removed the hooks of %v", removed)
	}
}

func TestListRepositoryLinksPages(t *testing.T) {
	f, _ := newLinkFixture(t, Limits{})
	conn := f.mustConnection(t, "gh", cctypes.ProviderTypeGithub)
	var want []string
	for i := range 5 {
		info, err := f.link(t, conn, "org", fmt.Sprintf("repo-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, aws.ToString(info.RepositoryLinkId))
	}
	p := codeconnections.NewListRepositoryLinksPaginator(f.cc, &codeconnections.ListRepositoryLinksInput{MaxResults: 2})
	var got []string
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, l := range out.RepositoryLinks {
			got = append(got, aws.ToString(l.RepositoryLinkId))
		}
	}
	if pages != 3 || !slices.Equal(got, want) {
		t.Errorf("%d pages of %v, want 3 pages of %v", pages, got, want)
	}
	_, err := f.cc.ListRepositoryLinks(t.Context(), &codeconnections.ListRepositoryLinksInput{NextToken: aws.String("bogus")})
	if apiCode(err) != codeValidation {
		t.Errorf("bogus NextToken: %v, want %s", err, codeValidation)
	}
}

func TestRepositoryLinkQuota(t *testing.T) {
	f, _ := newLinkFixture(t, Limits{RepositoryLinks: 1})
	conn := f.mustConnection(t, "gh", cctypes.ProviderTypeGithub)
	if _, err := f.link(t, conn, "org", "a"); err != nil {
		t.Fatal(err)
	}
	var le *cctypes.LimitExceededException
	if _, err := f.link(t, conn, "org", "b"); !errors.As(err, &le) {
		t.Errorf("over quota: %v, want LimitExceededException", err)
	}
}

func TestRepositoryLinkInputErrors(t *testing.T) {
	f := newFixture(t, Limits{}, false)
	gh := f.mustConnection(t, "gh", cctypes.ProviderTypeGithub)
	bb := f.mustConnection(t, "bb", cctypes.ProviderTypeBitbucket)
	missing := "arn:aws:codeconnections:us-east-1:123456789012:connection/0190a4c2-0000-7000-8000-000000000000"
	const target = "CodeConnections_20231201."
	tests := []struct {
		name, op, body, code string
	}{
		{"no owner", "CreateRepositoryLink", `{"ConnectionArn":"` + gh + `","RepositoryName":"r"}`, codeValidation},
		{"empty name", "CreateRepositoryLink", `{"ConnectionArn":"` + gh + `","OwnerId":"o","RepositoryName":""}`, codeValidation},
		{"long owner", "CreateRepositoryLink", `{"ConnectionArn":"` + gh + `","OwnerId":"` + strings.Repeat("o", 256) + `","RepositoryName":"r"}`, codeValidation},
		{"nested GitHub owner", "CreateRepositoryLink", `{"ConnectionArn":"` + gh + `","OwnerId":"a/b","RepositoryName":"r"}`, codeInvalidInput},
		{"nested Bitbucket owner", "CreateRepositoryLink", `{"ConnectionArn":"` + bb + `","OwnerId":"a/b","RepositoryName":"r"}`, codeInvalidInput},
		{"slash in name", "CreateRepositoryLink", `{"ConnectionArn":"` + gh + `","OwnerId":"o","RepositoryName":"a/b"}`, codeInvalidInput},
		{"dot-dot name", "CreateRepositoryLink", `{"ConnectionArn":"` + gh + `","OwnerId":"o","RepositoryName":".."}`, codeInvalidInput},
		{"query in name", "CreateRepositoryLink", `{"ConnectionArn":"` + gh + `","OwnerId":"o","RepositoryName":"r?x=1"}`, codeInvalidInput},
		{"bad key", "CreateRepositoryLink", `{"ConnectionArn":"` + gh + `","OwnerId":"o","RepositoryName":"r","EncryptionKeyArn":"alias/x"}`, codeValidation},
		{"unknown connection", "CreateRepositoryLink", `{"ConnectionArn":"` + missing + `","OwnerId":"o","RepositoryName":"r"}`, codeInvalidInput},
		{"host ARN", "CreateRepositoryLink", `{"ConnectionArn":"arn:aws:codeconnections:us-east-1:123456789012:host/h-12345678","OwnerId":"o","RepositoryName":"r"}`, codeValidation},
		{"bad tag", "CreateRepositoryLink", `{"ConnectionArn":"` + gh + `","OwnerId":"o","RepositoryName":"r","Tags":[{"Key":"aws:x","Value":""}]}`, codeValidation},
		{"bad id", "GetRepositoryLink", `{"RepositoryLinkId":"not-a-uuid"}`, codeValidation},
		{"no id", "DeleteRepositoryLink", `{}`, codeValidation},
		{"update bad key", "UpdateRepositoryLink", `{"RepositoryLinkId":"0190a4c2-0000-7000-8000-000000000000","EncryptionKeyArn":"x"}`, codeValidation},
		{"big page", "ListRepositoryLinks", `{"MaxResults":101}`, codeValidation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := f.post(t, target+tt.op, tt.body)
			if status != 400 || out["__type"] != tt.code {
				t.Errorf("%s %s: %d %v, want %s", tt.op, tt.body, status, out, tt.code)
			}
		})
	}
	// Nothing was created by the refused requests.
	out, err := f.cc.ListRepositoryLinks(t.Context(), &codeconnections.ListRepositoryLinksInput{})
	if err != nil || len(out.RepositoryLinks) != 0 {
		t.Errorf("ListRepositoryLinks = %+v, %v; want none", out, err)
	}
	// A GitLab owner is a group path; a PENDING connection may be linked.
	gl := f.mustConnection(t, "gl", cctypes.ProviderTypeGitlab)
	if _, err := f.link(t, gl, "group/sub-group/team", "svc.api"); err != nil {
		t.Errorf("GitLab subgroup link: %v", err)
	}
}

func TestSyncOperationsUnsupported(t *testing.T) {
	f := newFixture(t, Limits{}, true)
	_, err := f.cc.GetSyncConfiguration(t.Context(), &codeconnections.GetSyncConfigurationInput{
		ResourceName: aws.String("stack"), SyncType: cctypes.SyncConfigurationTypeCfnStackSync,
	})
	if apiCode(err) != codeUnsupportedOp || !strings.Contains(err.Error(), "does not implement Git sync") {
		t.Errorf("GetSyncConfiguration: %v, want %s about Git sync", err, codeUnsupportedOp)
	}
	unsigned := newFixture(t, Limits{}, false)
	for _, ns := range []string{"CodeConnections_20231201.", "CodeStar_connections_20191201."} {
		for _, op := range syncOperations {
			status, out := unsigned.post(t, ns+op, `{}`)
			if status != 400 || out["__type"] != codeUnsupportedOp {
				t.Errorf("%s%s: %d %v", ns, op, status, out)
			}
		}
	}
}

func TestRotateSecretSyncsHooks(t *testing.T) {
	hooks := &fakeHooks{}
	f := newFixture(t, Limits{}, false, func(o *Options) { o.Hooks = hooks })
	conn := f.mustConnection(t, "gh", cctypes.ProviderTypeGithub)
	status, out := f.post(t, "Forgelink_20261125.RotateConnectionWebhookSecret", `{"ConnectionArn":"`+conn+`"}`)
	if status != 200 {
		t.Fatalf("RotateConnectionWebhookSecret: %d %v", status, out)
	}
	if synced, _ := hooks.take(); !slices.Equal(synced, []string{connIDOf(conn)}) {
		t.Errorf("after rotation, hooks synced %v, want the connection", synced)
	}
}

func TestRepositoryLinkTags(t *testing.T) {
	f, _ := newLinkFixture(t, Limits{})
	ctx := t.Context()
	conn := f.mustConnection(t, "gh", cctypes.ProviderTypeGithub)
	created, err := f.cc.CreateRepositoryLink(ctx, &codeconnections.CreateRepositoryLinkInput{
		ConnectionArn: &conn, OwnerId: aws.String("octo-org"), RepositoryName: aws.String("widget"),
		Tags: []cctypes.Tag{{Key: aws.String("team"), Value: aws.String("ci")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := created.RepositoryLinkInfo.RepositoryLinkArn
	tags := func() map[string]string {
		t.Helper()
		out, err := f.cc.ListTagsForResource(ctx, &codeconnections.ListTagsForResourceInput{ResourceArn: arn})
		if err != nil {
			t.Fatalf("ListTagsForResource: %v", err)
		}
		m := map[string]string{}
		for _, tag := range out.Tags {
			m[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
		return m
	}
	if got := tags(); len(got) != 1 || got["team"] != "ci" {
		t.Errorf("tags given at creation = %v", got)
	}
	if _, err := f.cc.TagResource(ctx, &codeconnections.TagResourceInput{ResourceArn: arn,
		Tags: []cctypes.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.cc.UntagResource(ctx, &codeconnections.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"team"}}); err != nil {
		t.Fatal(err)
	}
	if got := tags(); len(got) != 1 || got["env"] != "prod" {
		t.Errorf("tags after tag and untag = %v", got)
	}

	var nf *cctypes.ResourceNotFoundException
	otherRegion := strings.Replace(aws.ToString(arn), ":us-east-1:", ":eu-west-1:", 1)
	if _, err := f.cc.ListTagsForResource(ctx, &codeconnections.ListTagsForResourceInput{ResourceArn: &otherRegion}); !errors.As(err, &nf) {
		t.Errorf("tags of the link's ARN in another region: %v, want ResourceNotFoundException", err)
	}
	if _, err := f.cc.DeleteRepositoryLink(ctx, &codeconnections.DeleteRepositoryLinkInput{RepositoryLinkId: created.RepositoryLinkInfo.RepositoryLinkId}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.cc.ListTagsForResource(ctx, &codeconnections.ListTagsForResourceInput{ResourceArn: arn}); !errors.As(err, &nf) {
		t.Errorf("tags of a deleted link: %v, want ResourceNotFoundException", err)
	}
}
