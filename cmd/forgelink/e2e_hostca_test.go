//go:build unix

package main_test

// Hosts behind a private CA, and hooks re-checked at the provider on
// demand, by the real daemon against fake GitHubs.

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	cctypes "github.com/aws/aws-sdk-go-v2/service/codeconnections/types"

	"github.com/forgelink/forgelink/providers/github/githubtest"
	"github.com/forgelink/forgelink/relay/tlstest"
	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/sqlite"
)

// TestE2EHostPrivateCA: a GitHub Enterprise Server behind a private CA.
// Without the CA as the host's TlsCertificate the token check fails,
// naming x509's unknown authority; with it (UpdateHost, no restart) the
// connection completes and a linked repository gets its hook.
func TestE2EHostPrivateCA(t *testing.T) {
	e2e(t)
	ca := tlstest.NewCA(t)
	gh := githubtest.New(t, githubtest.Options{APIPrefix: "/api/v3", User: "e2e", TLS: ca.ServerConfig(t)})
	gh.AddRepo("octo-org/widget")
	gh.AddToken(e2eToken, githubtest.Admin)
	dataDir := t.TempDir()
	cfgPath := filepath.Join(t.TempDir(), "forgelink.yaml")
	// The fake listens on loopback, which a host endpoint may not; naming
	// its origin as a configured provider URL is the operator's way to
	// let the daemon dial it. Certificates are checked all the same.
	writeFile(t, cfgPath, "providers:\n  githubAPIURL: "+gh.URL+"/\n")
	opts := daemonOptions{dataDir: dataDir, env: []string{"FORGELINK_CONFIG=" + cfgPath}}

	d := startDaemon(t, opts)
	hostARN := createHost(t, d.cc(), "ghes", "GitHubEnterpriseServer", "https://ghes.example.com")
	d.stop(t)
	hostID := hostARN[strings.LastIndexByte(hostARN, '/')+1:]
	inStore(t, dataDir, func(st *sqlite.Store) error {
		if _, err := st.UpdateHost(t.Context(), hostID, store.HostUpdate{ProviderEndpoint: &gh.URL}); err != nil {
			return err
		}
		return st.SetHostStatus(t.Context(), hostID, store.StatusAvailable, "")
	})
	d = startDaemon(t, opts)
	ctx := t.Context()
	created, err := d.cc().CreateConnection(ctx, &codeconnections.CreateConnectionInput{ConnectionName: aws.String("ghes"), HostArn: &hostARN})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(created.ConnectionArn)
	cli := cliFor(t, d)
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeFile(t, tokenFile, e2eToken+"\n")

	res := cli.run(t, "connections", "complete", arn, "--token-file", tokenFile)
	if res.code == 0 || !strings.Contains(res.stderr, "certificate signed by unknown authority") ||
		!strings.Contains(res.stderr, "TlsCertificate") || strings.Contains(res.stderr+res.stdout, e2eToken) {
		t.Fatalf("complete without the host's CA: exit %d\n%s%s\nwant a failure naming x509's unknown authority and TlsCertificate, without the token",
			res.code, res.stdout, res.stderr)
	}

	_, err = d.cc().UpdateHost(ctx, &codeconnections.UpdateHostInput{HostArn: &hostARN, VpcConfiguration: &cctypes.VpcConfiguration{
		VpcId: aws.String("vpc-0e1f2a3b"), SubnetIds: []string{"subnet-0a1b2c3d"}, SecurityGroupIds: []string{"sg-0a1b2c3d"},
		TlsCertificate: aws.String(string(ca.PEM)),
	}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "complete with the host's CA", 10*time.Second, func() (bool, string) {
		res = cli.run(t, "connections", "complete", arn, "--token-file", tokenFile)
		return res.code == 0 && strings.Contains(res.stdout, `"AVAILABLE"`), res.stdout + res.stderr
	})

	if _, err := d.cc().CreateRepositoryLink(ctx, &codeconnections.CreateRepositoryLinkInput{
		ConnectionArn: &arn, OwnerId: aws.String("octo-org"), RepositoryName: aws.String("widget"),
	}); err != nil {
		t.Fatal(err)
	}
	id := arn[strings.LastIndexByte(arn, '/')+1:]
	waitFor(t, "the link's hook on the GHES behind the CA", 20*time.Second, func() (bool, string) {
		hooks := gh.Hooks("octo-org/widget")
		return len(hooks) == 1 && strings.HasPrefix(hooks[0].URL, d.url+"/webhooks/"+id+"/"), fmt.Sprintf("%+v", hooks)
	})
	if strings.Contains(d.out.String(), e2eToken) {
		t.Error("the daemon's log contains the token")
	}
}

// TestE2EHooksRecheckedOnSIGHUP: SIGHUP asks the provider about every
// hook again, so one deleted there by hand is back at once, not at the
// next round; and a pipeline removed by SIGHUP takes the hook of its
// repository with it when nothing else wants it.
func TestE2EHooksRecheckedOnSIGHUP(t *testing.T) {
	e2e(t)
	gh := githubtest.New(t, githubtest.Options{User: "e2e"})
	gh.AddRepo("octo-org/widget")
	gh.AddRepo("octo-org/gadget")
	gh.AddToken(e2eToken, githubtest.Admin)
	cfgDir := t.TempDir()
	cfgPath := filepath.Join(cfgDir, "forgelink.yaml")
	base := "providers:\n  githubAPIURL: " + gh.APIURL + "\n"
	writeFile(t, cfgPath, base)
	newSigningSecret(t, cfgDir, "signing-secret")
	d := startDaemon(t, daemonOptions{env: []string{"FORGELINK_CONFIG=" + cfgPath}})
	cli := cliFor(t, d)
	conn := newHookConn(t, cli, "recheck", store.ProviderGitHub)
	cli.complete(t, conn)
	if _, err := d.cc().CreateRepositoryLink(t.Context(), &codeconnections.CreateRepositoryLinkInput{
		ConnectionArn: &conn.arn, OwnerId: aws.String("octo-org"), RepositoryName: aws.String("widget"),
	}); err != nil {
		t.Fatal(err)
	}
	hooksAre := func(repo string, n int) func() (bool, string) {
		return func() (bool, string) {
			hooks := gh.Hooks(repo)
			ok := len(hooks) == n
			for _, h := range hooks {
				ok = ok && h.URL == conn.url(d) && h.Secret == conn.secret && h.Active
			}
			return ok, fmt.Sprintf("%s: %+v", repo, hooks)
		}
	}
	waitFor(t, "the link's hook", 20*time.Second, hooksAre("octo-org/widget", 1))

	writeFile(t, cfgPath, base+fmt.Sprintf(`targets:
  - name: ci
    type: http
    http:
      url: http://127.0.0.1:9/ci
      secretFile: signing-secret
pipelines:
  - name: gadget
    connectionArn: %s
    repository: octo-org/gadget
    target: ci
    triggers:
      push:
        - branches: {includes: [main]}
`, conn.arn))
	d.hup(t)
	waitFor(t, "the pipeline's hook after SIGHUP", 20*time.Second, hooksAre("octo-org/gadget", 1))

	gh.RemoveHook("octo-org/widget", gh.Hooks("octo-org/widget")[0].ID)
	d.hup(t)
	waitFor(t, "the hook deleted at GitHub, repaired after SIGHUP", 20*time.Second, hooksAre("octo-org/widget", 1))

	writeFile(t, cfgPath, base)
	d.hup(t)
	waitFor(t, "the removed pipeline's hook deleted after SIGHUP", 20*time.Second, hooksAre("octo-org/gadget", 0))
	if ok, seen := hooksAre("octo-org/widget", 1)(); !ok {
		t.Errorf("the linked repository's hook after the pipeline went: %s", seen)
	}
}
