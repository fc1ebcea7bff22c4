package main_test

// Webhook registration by the real daemon against a fake GitHub: linking a
// repository makes its hook, rotating the secret pushes the new one, and
// unlinking removes it.

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"

	"github.com/forgelink/forgelink/providers/github/githubtest"
	"github.com/forgelink/forgelink/store"
)

func TestE2ERepositoryLinkHooks(t *testing.T) {
	e2e(t)
	gh := githubtest.New(t, githubtest.Options{User: "e2e"})
	gh.AddRepo("octo-org/widget")
	gh.AddToken(e2eToken, githubtest.Admin)
	cfgPath := filepath.Join(t.TempDir(), "forgelink.yaml")
	writeFile(t, cfgPath, "providers:\n  githubAPIURL: "+gh.APIURL+"\n")
	d := startDaemon(t, daemonOptions{env: []string{"FORGELINK_CONFIG=" + cfgPath}})
	cli := cliFor(t, d)
	conn := newHookConn(t, cli, "hooks", store.ProviderGitHub)
	cli.complete(t, conn)

	ctx := t.Context()
	link, err := d.cc().CreateRepositoryLink(ctx, &codeconnections.CreateRepositoryLinkInput{
		ConnectionArn: &conn.arn, OwnerId: aws.String("octo-org"), RepositoryName: aws.String("widget"),
	})
	if err != nil {
		t.Fatal(err)
	}
	hookWith := func(secret string) func() (bool, string) {
		return func() (bool, string) {
			hooks := gh.Hooks("octo-org/widget")
			ok := len(hooks) == 1 && hooks[0].URL == conn.url(d) && hooks[0].Secret == secret && hooks[0].Active &&
				hooks[0].ContentType == "json" && slices.Equal(slices.Sorted(slices.Values(hooks[0].Events)), []string{"pull_request", "push"})
			return ok, fmt.Sprintf("%+v", hooks)
		}
	}
	waitFor(t, "the link's hook on GitHub", 20*time.Second, hookWith(conn.secret))

	// A rotated secret reaches the hook.
	var rotated webhookInfo
	cli.decode(t, &rotated, "connections", "rotate-secret", conn.arn)
	if rotated.Secret == conn.secret {
		t.Fatal("rotate-secret returned the old secret")
	}
	waitFor(t, "the rotated secret on the hook", 20*time.Second, hookWith(rotated.Secret))

	// A linked connection is not deleted; unlinked, its hook goes.
	if _, err := d.cc().DeleteConnection(ctx, &codeconnections.DeleteConnectionInput{ConnectionArn: &conn.arn}); apiCode(err) != "ResourceUnavailableException" {
		t.Errorf("DeleteConnection of a linked connection: %v, want ResourceUnavailableException", err)
	}
	if _, err := d.cc().DeleteRepositoryLink(ctx, &codeconnections.DeleteRepositoryLinkInput{
		RepositoryLinkId: link.RepositoryLinkInfo.RepositoryLinkId,
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the hook removed after unlinking", 20*time.Second, func() (bool, string) {
		hooks := gh.Hooks("octo-org/widget")
		return len(hooks) == 0, fmt.Sprintf("%+v", hooks)
	})
	if _, err := d.cc().DeleteConnection(ctx, &codeconnections.DeleteConnectionInput{ConnectionArn: &conn.arn}); err != nil {
		t.Errorf("DeleteConnection after unlinking: %v", err)
	}
}
