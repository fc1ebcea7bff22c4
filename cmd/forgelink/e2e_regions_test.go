package main_test

// Regions as CodeConnections has them (issue 11), with the built binary:
// one daemon serving two regions, and two daemons of different regions on
// one PostgreSQL store behaving as one multi-region service.

import (
	"cmp"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	cctypes "github.com/aws/aws-sdk-go-v2/service/codeconnections/types"
	"github.com/aws/aws-sdk-go-v2/service/codestarconnections"
	cstypes "github.com/aws/aws-sdk-go-v2/service/codestarconnections/types"

	"github.com/forgelink/forgelink/providers/github/githubtest"
)

// secondRegion is the other region of the multi-region tests (Europe
// (Milan), the region with its own provider apps).
const secondRegion = "eu-south-1"

// ccIn is cc signing for region, as root.
func (d *daemon) ccIn(region string) *codeconnections.Client {
	return codeconnections.New(codeconnections.Options{
		BaseEndpoint: aws.String(d.url), Region: region, Credentials: rootCredentials(),
		RetryMaxAttempts: 1, HTTPClient: d.http,
	})
}

// csIn is cs signing for region, as root.
func (d *daemon) csIn(region string) *codestarconnections.Client {
	return codestarconnections.New(codestarconnections.Options{
		BaseEndpoint: aws.String(d.url), Region: region, Credentials: rootCredentials(),
		RetryMaxAttempts: 1, HTTPClient: d.http,
	})
}

// homeOnly checks that a connection created in home can be read and listed
// through other, but neither tagged nor deleted there, and that home can
// change it: the refusal is InvalidInputException naming the home region.
func homeOnly(t *testing.T, home, other *codeconnections.Client, homeRegion, arn string) {
	t.Helper()
	ctx := t.Context()
	got, err := other.GetConnection(ctx, &codeconnections.GetConnectionInput{ConnectionArn: &arn})
	if err != nil || aws.ToString(got.Connection.ConnectionArn) != arn {
		t.Fatalf("GetConnection from another region: %+v, %v", got, err)
	}
	list, err := other.ListConnections(ctx, &codeconnections.ListConnectionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(list.Connections, func(c cctypes.Connection) bool { return aws.ToString(c.ConnectionArn) == arn }) {
		t.Errorf("ListConnections from another region lacks %s", arn)
	}
	refusals := map[string]error{}
	_, refusals["TagResource"] = other.TagResource(ctx, &codeconnections.TagResourceInput{ResourceArn: &arn, Tags: []cctypes.Tag{tag("env", "prod")}})
	_, refusals["UntagResource"] = other.UntagResource(ctx, &codeconnections.UntagResourceInput{ResourceArn: &arn, TagKeys: []string{"team"}})
	_, refusals["DeleteConnection"] = other.DeleteConnection(ctx, &codeconnections.DeleteConnectionInput{ConnectionArn: &arn})
	for op, err := range refusals {
		wantCode(t, op+" from another region", err, "InvalidInputException")
		if err != nil && !strings.Contains(err.Error(), "home region "+homeRegion) {
			t.Errorf("%s from another region: %v does not name the home region %s", op, err, homeRegion)
		}
	}
	if tags := listTags(t, home, arn); len(tags) != 1 || tags["team"] != "core" {
		t.Errorf("tags after refused changes: %v, want only team=core", tags)
	}
	if _, err := home.TagResource(ctx, &codeconnections.TagResourceInput{ResourceArn: &arn, Tags: []cctypes.Tag{tag("env", "prod")}}); err != nil {
		t.Errorf("TagResource from the home region: %v", err)
	}
	if _, err := home.DeleteConnection(ctx, &codeconnections.DeleteConnectionInput{ConnectionArn: &arn}); err != nil {
		t.Errorf("DeleteConnection from the home region: %v", err)
	}
	_, err = other.GetConnection(ctx, &codeconnections.GetConnectionInput{ConnectionArn: &arn})
	wantError[*cctypes.ResourceNotFoundException](t, "GetConnection after the home region deleted it", err)
}

func TestE2ERegionsInOneDaemon(t *testing.T) {
	e2e(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "forgelink.yaml")
	writeFile(t, cfgPath, "regions: ["+region+", "+secondRegion+"]\n")
	d := startDaemon(t, daemonOptions{env: []string{"FORGELINK_CONFIG=" + cfgPath}})
	east, south := d.ccIn(region), d.ccIn(secondRegion)
	ctx := t.Context()

	arn := createConnection(t, east, "east", "GitHub", tag("team", "core")) // checks the ARN's region
	southARN := createConnection(t, south, "south", "GitLab", tag("team", "core"))
	homeOnly(t, east, south, region, arn)
	homeOnly(t, south, east, secondRegion, southARN)

	// Hosts are visible only in their region.
	host := createHost(t, south, "gitlab", "GitLabSelfManaged", "https://gitlab.example.com")
	_, err := east.GetHost(ctx, &codeconnections.GetHostInput{HostArn: &host})
	wantError[*cctypes.ResourceNotFoundException](t, "GetHost from another region", err)
	for r, want := range map[string]int{region: 0, secondRegion: 1} {
		list, err := d.ccIn(r).ListHosts(ctx, &codeconnections.ListHostsInput{})
		if err != nil || len(list.Hosts) != want {
			t.Errorf("ListHosts in %s: %+v, %v; want %d hosts", r, list, err, want)
		}
	}

	// A connection keeps the prefix of the namespace that created it.
	legacy, err := d.csIn(secondRegion).CreateConnection(ctx, &codestarconnections.CreateConnectionInput{
		ConnectionName: aws.String("legacy"), ProviderType: cstypes.ProviderTypeGithub,
	})
	if err != nil {
		t.Fatal(err)
	}
	legacyARN := aws.ToString(legacy.ConnectionArn)
	got, err := east.GetConnection(ctx, &codeconnections.GetConnectionInput{ConnectionArn: aws.String(otherNamespace(legacyARN))})
	if err != nil || aws.ToString(got.Connection.ConnectionArn) != legacyARN || !strings.HasPrefix(legacyARN, "arn:aws:codestar-connections:"+secondRegion+":") {
		t.Errorf("a connection created through codestar-connections in %s, read through codeconnections in %s: %+v, %v; created %s",
			secondRegion, region, got, err, legacyARN)
	}

	// A region the daemon does not serve is refused as AWS refuses it.
	_, err = d.ccIn("ap-south-1").ListConnections(ctx, &codeconnections.ListConnectionsInput{})
	wantCode(t, "a request signed for an unserved region", err, "InvalidSignatureException")
	series := `forgelink_api_requests_total{operation="GetConnection",outcome="success",region="` + secondRegion + `"}`
	if n := scrape(t, d)[series]; n < 1 {
		t.Errorf("/metrics: %s = %v, want at least 1", series, n)
	}
}

func TestE2ERegionsOnPostgres(t *testing.T) {
	e2e(t)
	env := postgresEnv(t)
	a := startDaemon(t, daemonOptions{env: append(env, "FORGELINK_REGION="+region)})
	b := startDaemon(t, daemonOptions{env: append(env, "FORGELINK_REGIONS="+secondRegion)})
	east, south := a.ccIn(region), b.ccIn(secondRegion)

	homeOnly(t, east, south, region, createConnection(t, east, "made-in-east", "GitHub", tag("team", "core")))
	homeOnly(t, south, east, secondRegion, createConnection(t, south, "made-in-south", "GitHub", tag("team", "core")))

	// Each daemon serves only its own region.
	_, err := b.ccIn(region).ListConnections(t.Context(), &codeconnections.ListConnectionsInput{})
	wantCode(t, "a request for "+region+" to the "+secondRegion+" daemon", err, "InvalidSignatureException")
}

// TestE2ERegionsUnsignedCLI: against a daemon without credentials the
// CLI's --region travels in the region header, since nothing is signed.
func TestE2ERegionsUnsignedCLI(t *testing.T) {
	e2e(t)
	d := startDaemon(t, daemonOptions{authless: true, env: []string{"FORGELINK_REGIONS=" + region + "," + secondRegion}})
	cli := forgelinkCLI{url: d.url, env: environ("AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true", "HOME="+t.TempDir())}
	arns := map[string]string{}
	for _, r := range []string{"", secondRegion} {
		args := []string{"connections", "create", "--name", "made-in-" + r, "--provider-type", "GitHub"}
		if r != "" {
			args = append(args, "--region", r)
		}
		var out struct{ ConnectionArn string }
		cli.decode(t, &out, args...)
		want := cmp.Or(r, region) // no --region: the daemon's default
		if !strings.Contains(out.ConnectionArn, ":"+want+":") {
			t.Errorf("forgelink %s: %s, want a connection of %s", strings.Join(args, " "), out.ConnectionArn, want)
		}
		arns[want] = out.ConnectionArn
	}
	res := cli.run(t, "connections", "delete", arns[secondRegion], "--region", region)
	if res.code == 0 || !strings.Contains(res.stderr, "InvalidInputException") || !strings.Contains(res.stderr, "home region "+secondRegion) {
		t.Errorf("delete from %s: exit %d, %s; want InvalidInputException naming %s", region, res.code, res.stderr, secondRegion)
	}
	if res := cli.run(t, "connections", "delete", arns[secondRegion], "--region", secondRegion); res.code != 0 {
		t.Errorf("delete from the home region: exit %d, %s", res.code, res.stderr)
	}
}

// TestE2ERegionSpecificApps: the configured GitHub App serves us-east-1
// only, as a Europe (Milan) connection needs an App of its own: a Milan
// connection gets no set-up link from it.
func TestE2ERegionSpecificApps(t *testing.T) {
	e2e(t)
	gh := githubtest.New(t, githubtest.Options{})
	app := gh.AddApp(githubtest.App{ID: 4545, Name: "forgelink east"})
	d := startGitHubAppDaemon(t, gh, app, "    regions: ["+region+"]", "regions: ["+region+", "+secondRegion+"]")
	east := createConnection(t, d.ccIn(region), "east", "GitHub")
	milan := createConnection(t, d.ccIn(secondRegion), "milan", "GitHub")
	setupLink(t, d, east)
	res := runCommand(t, clientEnv(t), forgelinkBin, "connections", "setup", "--endpoint-url", d.url, "--region", secondRegion, milan)
	if res.code == 0 || !strings.Contains(res.stderr, "InvalidInputException") || !strings.Contains(res.stderr, "does not serve "+secondRegion) {
		t.Errorf("set-up of a %s connection with an App of %s only: exit %d, %s", secondRegion, region, res.code, res.stderr)
	}
}
