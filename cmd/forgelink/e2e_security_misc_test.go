//go:build unix

package main_test

// End-to-end tests of issue 9's finding 8, the smaller items: host
// endpoints in loopback, link-local and private ranges; a github.com
// App's deliveries kept off GHES connections that share its ids; the
// previous webhook secret revoked at once on request.

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	cctypes "github.com/aws/aws-sdk-go-v2/service/codeconnections/types"
	"github.com/aws/smithy-go"
	"github.com/google/uuid"

	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/sqlite"
)

// wantInvalidInput fails the test unless err is the service's
// InvalidInputException. CreateHost's and UpdateHost's models do not list
// it, so the SDK gives it as its generic API error, with the code.
func wantInvalidInput(t *testing.T, what string, err error) {
	t.Helper()
	var generic *smithy.GenericAPIError
	if !errors.As(err, &generic) || generic.Code != "InvalidInputException" {
		t.Errorf("%s: got error %v, want InvalidInputException", what, err)
	}
}

// hostNames lists the names of the hosts root sees.
func hostNames(t *testing.T, cc *codeconnections.Client) []string {
	t.Helper()
	out, err := cc.ListHosts(t.Context(), &codeconnections.ListHostsInput{})
	if err != nil {
		t.Fatalf("ListHosts: %v", err)
	}
	var names []string
	for _, h := range out.Hosts {
		names = append(names, aws.ToString(h.Name))
	}
	return names
}

// TestE2ESecurityHostEndpoints: a host's ProviderEndpoint may not be this
// machine, link-local (the cloud metadata service) or, unless the operator
// allows it, private; a refused creation creates nothing and a refused
// update leaves the endpoint as it was.
func TestE2ESecurityHostEndpoints(t *testing.T) {
	e2e(t)
	d := startDaemon(t, daemonOptions{})
	cc := d.cc()
	for i, endpoint := range []string{
		"https://169.254.169.254", "https://127.0.0.1:8443", "https://[::1]", "https://localhost", "https://10.0.0.5",
	} {
		_, err := cc.CreateHost(t.Context(), &codeconnections.CreateHostInput{
			Name: aws.String("refused-" + strconv.Itoa(i)), ProviderType: cctypes.ProviderTypeGithubEnterpriseServer,
			ProviderEndpoint: aws.String(endpoint),
		})
		wantInvalidInput(t, "CreateHost at "+endpoint, err)
	}
	if names := hostNames(t, cc); len(names) != 0 {
		t.Errorf("hosts after the refusals: %v, want none", names)
	}

	host := createHost(t, cc, "ghes", "GitHubEnterpriseServer", "https://ghes.example.com")
	_, err := cc.UpdateHost(t.Context(), &codeconnections.UpdateHostInput{
		HostArn: &host, ProviderEndpoint: aws.String("https://169.254.169.254")})
	wantInvalidInput(t, "UpdateHost to 169.254.169.254", err)
	got, err := cc.GetHost(t.Context(), &codeconnections.GetHostInput{HostArn: &host})
	if err != nil || aws.ToString(got.ProviderEndpoint) != "https://ghes.example.com" {
		t.Errorf("host after the refused update: endpoint %q, %v; want https://ghes.example.com", aws.ToString(got.ProviderEndpoint), err)
	}

	// The operator may allow private addresses; never link-local ones.
	cfgPath := filepath.Join(t.TempDir(), "forgelink.yaml")
	writeFile(t, cfgPath, "allowPrivateProviderEndpoints: true\n")
	private := startDaemon(t, daemonOptions{env: []string{"FORGELINK_CONFIG=" + cfgPath}})
	createHost(t, private.cc(), "private", "GitLabSelfManaged", "https://10.0.0.5")
	_, err = private.cc().CreateHost(t.Context(), &codeconnections.CreateHostInput{
		Name: aws.String("metadata"), ProviderType: cctypes.ProviderTypeGitlabSelfManaged,
		ProviderEndpoint: aws.String("https://169.254.169.254")})
	wantInvalidInput(t, "CreateHost at 169.254.169.254 with private endpoints allowed", err)
	if names := hostNames(t, private.cc()); len(names) != 1 || names[0] != "private" {
		t.Errorf("hosts with private endpoints allowed: %v, want [private]", names)
	}
}

// inStore runs change on a stopped daemon's store, for what the API
// cannot arrange (a host or connection AVAILABLE without a provider).
func inStore(t *testing.T, dataDir string, change func(*sqlite.Store) error) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(dataDir, "forgelink.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = change(st)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestE2ESecurityAppDeliveryStaysOnGitHub: a github.com App and a GHES
// host's App may have the same App id and installation id; a delivery to
// the github.com App's URL is recorded for the github.com connection of
// that installation and never for the GHES connection.
func TestE2ESecurityAppDeliveryStaysOnGitHub(t *testing.T) {
	e2e(t)
	const (
		appID          = 4242
		installationID = 51234567 // push_branch.json's
		appSecret      = "e2e-github-app-webhook-secret"
	)
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "hook-secret"), appSecret+"\n")
	cfgPath := filepath.Join(dir, "forgelink.yaml")
	// An App whose webhooks forgelink only receives.
	writeFile(t, cfgPath, "githubApps:\n  - appId: "+strconv.Itoa(appID)+"\n    webhookSecretFile: hook-secret\n")
	opts := daemonOptions{dataDir: dataDir, env: []string{"FORGELINK_CONFIG=" + cfgPath}}

	d := startDaemon(t, opts)
	hostARN := createHost(t, d.cc(), "ghes", "GitHubEnterpriseServer", "https://ghes.example.com")
	dotcom := createConnection(t, d.cc(), "dotcom", "GitHub")
	d.stop(t)
	hostID := hostARN[strings.LastIndexByte(hostARN, '/')+1:]
	inStore(t, dataDir, func(st *sqlite.Store) error {
		return st.SetHostStatus(t.Context(), hostID, store.StatusAvailable, "")
	})

	d = startDaemon(t, opts)
	created, err := d.cc().CreateConnection(t.Context(), &codeconnections.CreateConnectionInput{
		ConnectionName: aws.String("ghes"), HostArn: &hostARN})
	if err != nil {
		t.Fatalf("CreateConnection on the GHES host: %v", err)
	}
	ghes := aws.ToString(created.ConnectionArn)
	d.stop(t)
	inStore(t, dataDir, func(st *sqlite.Store) error {
		for _, arn := range []string{dotcom, ghes} {
			id := arn[strings.LastIndexByte(arn, '/')+1:]
			inst := store.GitHubInstallation{AppID: appID, InstallationID: installationID}
			if err := st.SetGitHubInstallation(t.Context(), id, inst); err != nil {
				return err
			}
			if err := st.SetConnectionStatus(t.Context(), id, store.StatusAvailable, ""); err != nil {
				return err
			}
		}
		return nil
	})

	d = startDaemon(t, opts)
	body, err := os.ReadFile(filepath.Join("..", "..", "providers", "github", "testdata", "push_branch.json"))
	if err != nil {
		t.Fatal(err)
	}
	dl := delivery{provider: store.ProviderGitHub, event: "push", id: uuid.NewString(), body: body, secret: appSecret}
	req, err := dl.request(t.Context(), d.url+"/webhooks/github-app/"+strconv.Itoa(appID))
	if err != nil {
		t.Fatal(err)
	}
	if a, err := send(newHookClient(t), req); err != nil || a.code != 202 || a.Status != "accepted" {
		t.Fatalf("github.com App delivery: %+v, %v; want 202 accepted", a, err)
	}
	cli := cliFor(t, d)
	if events := cli.listEvents(t, "--connection-arn", dotcom); len(events) != 1 || events[0].DeliveryID != dl.id {
		t.Errorf("events of the github.com connection: %+v, want the delivery %s", events, dl.id)
	}
	if events := cli.listEvents(t, "--connection-arn", ghes); len(events) != 0 {
		t.Errorf("events of the GHES connection: %+v, want none: the delivery was github.com's App's", events)
	}
}

// TestE2ESecurityRevokePreviousSecret: after a plain rotation the previous
// webhook secret is still accepted (hooks not yet updated keep working);
// after rotate-secret --revoke-now neither earlier secret is, from the
// very next delivery, and nothing is recorded for them.
func TestE2ESecurityRevokePreviousSecret(t *testing.T) {
	e2e(t)
	d := startDaemon(t, daemonOptions{})
	cli := cliFor(t, d)
	client := newHookClient(t)
	first := newHookConn(t, cli, "rotated", store.ProviderGitHub)
	deliver := func(secret string, code int, status string) {
		t.Helper()
		ingressCase{name: status, conn: first, dl: first.delivery(t, "push", "push_branch.json", uuid.NewString()).withSecret(secret),
			code: code, status: status}.check(t, d, client)
	}

	var second, third webhookInfo
	cli.decode(t, &second, "connections", "rotate-secret", first.arn)
	if second.Secret == first.secret || second.PreviousSecretValidUntil == nil {
		t.Fatalf("rotate-secret = %+v, want a new secret and the previous one still valid", second)
	}
	deliver(first.secret, 202, "held") // loads the ingress's cache with both secrets
	deliver(second.Secret, 202, "held")

	cli.decode(t, &third, "connections", "rotate-secret", first.arn, "--revoke-now")
	if third.Secret == second.Secret || third.PreviousSecretValidUntil != nil {
		t.Fatalf("rotate-secret --revoke-now = %+v, want a new secret and no previous one", third)
	}
	before := len(cli.listEvents(t, "--connection-arn", first.arn))
	deliver(second.Secret, 401, "")
	deliver(first.secret, 401, "")
	if after := len(cli.listEvents(t, "--connection-arn", first.arn)); after != before {
		t.Errorf("%d events after the refused deliveries, want %d", after, before)
	}
	deliver(third.Secret, 202, "held")
}
