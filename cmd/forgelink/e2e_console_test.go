package main_test

// The browser test: an operator signs in to the console of the
// real daemon, sets up a PENDING GitHub connection by installing the App
// on a fake GitHub, comes back to it AVAILABLE, and then clones through
// the App's installation token.

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	cctypes "github.com/aws/aws-sdk-go-v2/service/codeconnections/types"
	"github.com/chromedp/chromedp"

	"github.com/forgelink/forgelink/internal/testenv"
	"github.com/forgelink/forgelink/providers/github/githubtest"
)

const chromiumPath = "/usr/bin/chromium"

// chromium starts a headless Debian chromium for the test, or skips it
// where none is installed (CI installs it, and there the test fails).
func chromium(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		testenv.Missing(t, fmt.Sprintf("no chromium at %s (%v)", chromiumPath, err), "install Debian's chromium")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelBrowser()
		cancelAlloc() // waits for chromium to exit before its profile goes
	})
	return ctx
}

func TestE2EConsoleSetUpAndClone(t *testing.T) {
	e2e(t)
	ctx := chromium(t)
	// The installation's token, narrowed to the repository and to reading
	// it, is what clones, from the fake GitHub's own origin (the daemon
	// gives the token to no other).
	var gh *githubtest.Server
	readOnly := func(password string) bool {
		for _, tok := range gh.Tokens() {
			if tok.Value == password && !tok.Revoked && slices.Equal(tok.Repositories, []string{"widget"}) &&
				tok.Permissions["contents"] == "read" && len(tok.Permissions) == 1 {
				return true
			}
		}
		return false
	}
	gs := newGitHandler(t, readOnly)
	gh = githubtest.New(t, githubtest.Options{InstallAccount: "octo-org", Git: gs.handler})
	gh.AddRepo("octo-org/widget")
	app := gh.AddApp(githubtest.App{ID: 4242, Name: "forgelink e2e"})
	d := startGitHubAppDaemon(t, gh, app)

	created, err := d.cc().CreateConnection(ctx, &codeconnections.CreateConnectionInput{
		ConnectionName: aws.String("widget"), ProviderType: cctypes.ProviderTypeGithub,
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(created.ConnectionArn)
	id := arn[strings.LastIndexByte(arn, '/')+1:]
	res := runCommand(t, clientEnv(t), forgelinkBin, "console-link", "--endpoint-url", d.url)
	link := strings.TrimSpace(res.stdout)
	if res.code != 0 || !strings.HasPrefix(link, d.url+"/console/login/") {
		t.Fatalf("console-link: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}

	row := "#connection-" + id
	if err := chromedp.Do(ctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(row+" .status-PENDING")),
		chromedp.Click(chromedp.CSS(row+" button")),
		// To GitHub's installation page, back to the set-up callback's
		// confirmation of the account, its result, and from its link back
		// to the console.
		chromedp.WaitVisible(chromedp.Search(`//dd[contains(., "octo-org")]`)),
		chromedp.Click(chromedp.CSS(`#confirm`)),
		chromedp.WaitVisible(chromedp.Search(`//h1[contains(., "Connection AVAILABLE")]`)),
		chromedp.Click(chromedp.CSS(`a[href$="/console/"]`)),
		chromedp.WaitVisible(chromedp.CSS(row+" .status-AVAILABLE")),
	); err != nil {
		t.Fatalf("browser: %v\n%s", err, d.out.String())
	}
	got, err := d.cc().GetConnection(ctx, &codeconnections.GetConnectionInput{ConnectionArn: &arn})
	if err != nil || got.Connection.ConnectionStatus != cctypes.ConnectionStatusAvailable {
		t.Fatalf("connection after the browser set-up: %+v, %v", got.Connection, err)
	}

	gs.addRepository(t, "octo-org/widget", "installed\n")
	cloneFrom(t, gh.URL, d, arn, "octo-org/widget", "installed\n", "--allow-http")
}
