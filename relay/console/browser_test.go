package console

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/forgelink/forgelink/internal/testenv"
	"github.com/forgelink/forgelink/store"
)

const chromiumPath = "/usr/bin/chromium"

// browserSetup is the set-up service the browser test drives: the
// console's Setup, and the handlers its flow needs on the daemon's
// listener (the provider's callback). fakeSetupService stands in for the
// real one; the real service, over a fake provider server, plugs in here.
type browserSetup struct {
	Setup  Setup
	Routes map[string]http.Handler // pattern on the daemon's mux → handler
}

// fakeSetupService sends the browser to a fake provider page, which sends
// it back to a fake callback on the daemon, which marks the connection
// AVAILABLE and returns to the console: the shape of the real flows.
func fakeSetupService(t *testing.T, st *memStore, daemonURL string) browserSetup {
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/install" {
			http.NotFound(w, r)
			return
		}
		http.Redirect(w, r, daemonURL+"/setup/callback?state="+url.QueryEscape(r.URL.Query().Get("state")), http.StatusFound)
	}))
	t.Cleanup(provider.Close)
	callback := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := strings.CutPrefix(r.URL.Query().Get("state"), "connection/")
		if !ok {
			http.Error(w, "bad state", http.StatusBadRequest)
			return
		}
		st.setStatus(id, store.StatusAvailable)
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
	})
	return browserSetup{
		Setup:  &fakeSetup{base: provider.URL},
		Routes: map[string]http.Handler{"GET /setup/callback": callback},
	}
}

// headlessChromium starts Debian's chromium for the test, or skips the
// test where it is not installed (fails in CI, where it must be).
func headlessChromium(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		testenv.Missing(t, fmt.Sprintf("no chromium at %s (%v)", chromiumPath, err), "install Debian's chromium")
	}
	profile := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 900), // screenshots at a desktop width
		chromedp.UserDataDir(profile),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelBrowser()
		cancelAlloc() // waits for chromium to exit, before its profile is removed
	})
	return ctx
}

func TestBrowserSetUpAPendingConnection(t *testing.T) {
	ctx := headlessChromium(t)

	mux := http.NewServeMux()
	daemon := httptest.NewServer(mux)
	t.Cleanup(daemon.Close)
	st := newMemStore()
	connID := uuidv7At(time.Now(), 1)
	st.addConnection(store.Connection{ID: connID, Name: "app-repo", ProviderType: store.ProviderGitHub, Region: "us-east-1",
		Status: store.StatusPending})
	setup := fakeSetupService(t, st, daemon.URL)
	con, err := New(Options{Store: st, Keyring: testKeyring(t), Setup: setup.Setup, PublicURL: daemon.URL, AccountID: testAccount})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/console/", con)
	for pattern, h := range setup.Routes {
		mux.Handle(pattern, h)
	}

	link, _, err := con.LoginLink(ctx)
	if err != nil {
		t.Fatal(err)
	}
	row := "#connection-" + connID
	err = chromedp.Do(ctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(row+" .status-PENDING")),
		chromedp.Click(chromedp.CSS(row+" button")),
		// The set-up goes to the provider and back through the callback.
		chromedp.WaitVisible(chromedp.CSS(row+" .status-AVAILABLE")),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	location, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if location != daemon.URL+"/console/" {
		t.Errorf("the browser ended at %s, want the console", location)
	}
	status, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(row+" .status")))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(status) != store.StatusAvailable {
		t.Errorf("status %q, want AVAILABLE", status)
	}
	buttons, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll(row+" button"), chromedp.AtLeast(0)))
	if err != nil {
		t.Fatal(err)
	}
	if len(buttons) != 0 {
		t.Errorf("%d Set up buttons left on an AVAILABLE connection", len(buttons))
	}
}

// TestBrowserEventToRedeliver walks what an operator does when a build did
// not run: overview → the event → explain → the delivery → Redeliver, and
// leaves a screenshot of each page in the test's artifact directory
// (kept with `go test -artifacts`).
func TestBrowserEventToRedeliver(t *testing.T) {
	ctx := headlessChromium(t)
	st := newMemStore()
	now := time.Now()
	connID, eventID, deliveryID := uuidv7At(now, 1), uuidv7At(now, 2), uuidv7At(now, 3)
	st.addConnection(store.Connection{ID: connID, Name: "app-repo", ProviderType: store.ProviderGitHub, Region: "us-east-1",
		Status: store.StatusAvailable})
	st.events = []store.Event{{ID: eventID, ConnectionID: connID, Provider: store.ProviderGitHub, Kind: "push", RawKind: "push",
		Repository: "acme/app", ReceivedAt: now, Headers: []byte(`{"X-GitHub-Event":"push"}`), Body: []byte(`{"ref":"refs/heads/main"}`),
		Normalized: []byte(`{"kind":"push","repository":{"fullName":"acme/app"}}`)}}
	st.deliveries = []store.Delivery{{ID: deliveryID, EventID: eventID, ConnectionID: connID, Pipeline: "app-build", Target: "ci",
		State: store.DeliveryDead, Attempts: 1, LastError: "exit status 2", CreatedAt: now, UpdatedAt: now}}
	exit := 2
	st.attempts[deliveryID] = []store.Attempt{{DeliveryID: deliveryID, N: 1, StartedAt: now, Duration: 2 * time.Second, Outcome: "dead",
		ExitStatus: &exit, Error: "exit status 2", Output: "fatal: couldn't find remote ref main"}}

	mux := http.NewServeMux()
	daemon := httptest.NewServer(mux)
	t.Cleanup(daemon.Close)
	con, err := New(Options{Store: st, Keyring: testKeyring(t), Pipelines: fakeExplainer{}, PublicURL: daemon.URL, AccountID: testAccount})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/console/", con)
	link, _, err := con.LoginLink(ctx)
	if err != nil {
		t.Fatal(err)
	}

	shots := t.ArtifactDir()
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tg) // 100: PNG
			if err != nil {
				return fmt.Errorf("screenshot %s: %w", name, err)
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644)
		})
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS("#event-"+eventID+" a")),
		shot("1-overview"),
		chromedp.Click(chromedp.CSS("#event-"+eventID+" a")),
		chromedp.WaitVisible(chromedp.CSS("#body")),
		shot("2-event"),
		chromedp.Click(chromedp.CSS("#explain")),
		chromedp.WaitVisible(chromedp.CSS("#pipeline-build-acme\\/app")),
		shot("3-explain"),
		chromedp.Click(chromedp.CSS(`a[href$="/events/`+eventID+`"]`)),
		chromedp.Click(chromedp.CSS("#delivery-"+deliveryID+" a")),
		chromedp.WaitVisible(chromedp.CSS("#attempt-1")),
		shot("4-delivery"),
		chromedp.Click(chromedp.CSS("#redeliver")),
		chromedp.WaitVisible(chromedp.CSS("#state.state-pending")),
		shot("5-redelivered"),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	t.Logf("screenshots in %s", shots)
	if got := st.delivery(deliveryID).State; got != store.DeliveryPending {
		t.Errorf("after Redeliver the delivery is %s, want pending", got)
	}
}
