package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/providers/bitbucket"
	"github.com/forgelink/forgelink/providers/github"
	"github.com/forgelink/forgelink/providers/gitlab"
	"github.com/forgelink/forgelink/relay/controlplane"
	"github.com/forgelink/forgelink/relay/dispatch"
	"github.com/forgelink/forgelink/relay/hookreg"
	"github.com/forgelink/forgelink/relay/ingress"
	"github.com/forgelink/forgelink/relay/keyring"
	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/relay/sigv4"
	"github.com/forgelink/forgelink/store"
)

// shutdownGrace bounds how long in-flight requests may run after SIGTERM.
const shutdownGrace = 30 * time.Second

// Files inside the data directory.
const (
	dbFile        = "forgelink.db"
	masterKeyFile = "master.key"
)

// minProcs keeps two Ps even under a one-CPU affinity mask or container
// quota: with one, a blocking fsync in the group-commit writer holds the
// only P and batching collapses to about one event per transaction.
const minProcs = 2

// runServe starts the daemon with the configuration f loads; SIGHUP loads
// it again.
func runServe(ctx context.Context, f *daemonFlags, stderr io.Writer) error {
	cfg, err := f.load()
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.Log, stderr)
	if err != nil {
		return err
	}
	defer log.Sync()
	for _, w := range cfg.AccessKeyWarnings() {
		log.Warn("access key policy: " + w.Error())
	}
	if os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < minProcs {
		runtime.GOMAXPROCS(minProcs)
		log.Info("raised GOMAXPROCS so that group commit keeps batching", zap.Int("gomaxprocs", minProcs))
	}
	return serve(ctx, cfg, f.load, log)
}

func serve(ctx context.Context, cfg *config.Config, reload func() (*config.Config, error), log *zap.Logger) error {
	// Listen first: a taken port should fail before anything is written.
	ln, err := listen(cfg, log)
	if err != nil {
		return err
	}
	defer ln.Close()
	if err := makeDataDir(cfg.DataDir, log); err != nil {
		return err
	}
	// The key comes first so that a new store never exists without one.
	kr, err := openKeyring(cfg, storeExists(cfg), log)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg, log.Named("store"))
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("close store", zap.Error(err))
		}
	}()
	if err := checkKey(ctx, st, kr, keyPath(cfg)); err != nil {
		return err
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = ln.scheme() + "://" + ln.Addr().String() // the real port when listening on :0
	}
	apps, err := githubAppSecrets(cfg)
	if err != nil {
		return err
	}
	ds, err := newSetup(cfg, st, kr, log.Named("setup"))
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	pl := &pipelines{log: log.Named("pipelines"), connARN: connectionARNs(cfg, st, log)}
	engine, err := newEngine(ctx, st, dispatch.Options{Log: log.Named("dispatch"), Metrics: dispatch.NewMetrics(reg, st.DeliveryStats),
		Files: newChangedFiles(st, ds.svc, ds.transport), Router: pl.router.Load})
	if err != nil {
		return err
	}
	pl.engine = engine
	if err := pl.apply(ctx, cfg); err != nil {
		return err
	}
	reconciler := newHookRegistry(cfg, st, kr, ds, pl, reg, log.Named("hooks"))
	mux, err := newMux(cfg, log, reg, st, kr, apps, pl, ds, reconciler)
	if err != nil {
		return err
	}
	metricsSrv, err := listenMetrics(cfg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}), log)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           localOnly(cfg, mux, log.Named("localonly")),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}
	errc := make(chan error, 1)
	go func() { errc <- ln.serve(srv) }()
	metricsCtx, stopMetrics := context.WithCancel(ctx)
	defer stopMetrics()
	go metricsSrv.run(metricsCtx, log)
	if ln.cert != nil {
		defer ln.cert.reloadOnHUP(log)()
	}
	stopDelivering := runDelivery(engine, &dispatch.Releaser{Store: st, Route: pl.route, Engine: engine, Log: log.Named("release")})
	// Deferred after the store's Close, so it runs first: attempts in flight
	// finish (up to the grace) before the store closes.
	defer stopDelivering()
	stopBackground := runBackground(ds.svc.Run, reconciler.Run, newRetention(cfg, st, reg, log.Named("retention")), newRecovery(cfg, st, ds, pl, reg, log.Named("recovery")))
	defer stopBackground()
	// Pipelines may name new repositories, or no longer name some: every
	// hook is checked at the provider now (an operator's SIGHUP is also how
	// a hook deleted by hand is repaired at once), unwanted ones removed.
	stopReload := reloadOnHUP(ctx, pl, reload, log, reconciler.RecheckAll)
	defer stopReload()
	log.Info("forgelink ready", zap.String("listen", ln.Addr().String()), zap.Bool("tls", ln.cert != nil), zap.String("data_dir", cfg.DataDir),
		zap.String("public_url", cfg.PublicURL), zap.Strings("regions", cfg.ServedRegions()),
		zap.String("account_id", cfg.AccountID), zap.String("version", shortVersion()))
	if err := sdNotify("READY=1"); err != nil {
		log.Warn("systemd notify", zap.Error(err))
	}

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: no new requests, finishing in-flight ones", zap.Duration("grace", shutdownGrace))
	sdNotify("STOPPING=1")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	stopDelivering()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// openKeyring loads the master key. On first start, with no key configured,
// it creates one in the data directory; but a store that already exists
// without its key is refused, because a new key could not open the secrets
// sealed under the lost one.
func openKeyring(cfg *config.Config, existingStore bool, log *zap.Logger) (*keyring.Keyring, error) {
	path := keyPath(cfg)
	_, statErr := os.Stat(path)
	if statErr == nil {
		if err := checkKeyFileMode(cfg, path, log); err != nil {
			return nil, err
		}
	}
	if cfg.MasterKeyFile != "" {
		return keyring.LoadFile(cfg.MasterKeyFile)
	}
	if errors.Is(statErr, fs.ErrNotExist) && existingStore {
		return nil, fmt.Errorf("master key %s is missing but the store %s exists: restore the key from backup "+
			"(or point FORGELINK_MASTER_KEY_FILE at it); refusing to create a new key that cannot open the stored secrets",
			path, filepath.Join(cfg.DataDir, dbFile))
	}
	kr, created, err := keyring.LoadOrCreate(path)
	if created {
		log.Warn("generated a new master key: back it up with the data directory, or set FORGELINK_MASTER_KEY_FILE; "+
			"without it the stored secrets cannot be read", zap.String("path", path))
	}
	return kr, err
}

// keyPath is the master key file: configured, or in the data directory.
func keyPath(cfg *config.Config) string {
	if cfg.MasterKeyFile != "" {
		return cfg.MasterKeyFile
	}
	return filepath.Join(cfg.DataDir, masterKeyFile)
}

// checkKeyFileMode refuses a key file that group or others can access,
// unless allowInsecureKeyFile accepts it with a warning.
func checkKeyFileMode(cfg *config.Config, path string, log *zap.Logger) error {
	err := keyring.CheckFileMode(path)
	if errors.Is(err, keyring.ErrKeyFileMode) && cfg.AllowInsecureKeyFile {
		log.Warn("master key file is accessible to group or others (allowed by allowInsecureKeyFile); run chmod 600", zap.String("path", path))
		return nil
	}
	return err
}

// keyChecker is what the key check needs from the store.
type keyChecker interface {
	EnsureKeyCheck(ctx context.Context, sealed []byte, fits func(connID string, sealed []byte) error) ([]byte, error)
}

// checkKey refuses to start with a master key that did not seal the
// store's data: every secret would fail to open later, one request at a
// time. A store without a key check value gets this key's: a new one, or
// one from an older version whose newest webhook secret this key opens.
func checkKey(ctx context.Context, st keyChecker, kr *keyring.Keyring, path string) error {
	wrongKey := func() error {
		return fmt.Errorf("master key %s does not open this store's data: wrong key file? (%w)", path, keyring.ErrWrongKey)
	}
	opensSecret := func(connID string, sealed []byte) error {
		if _, err := kr.Open(sealed, []byte(connID)); err != nil {
			return wrongKey()
		}
		return nil
	}
	stored, err := st.EnsureKeyCheck(ctx, kr.KeyCheck(), opensSecret)
	if err != nil {
		return err
	}
	if kr.VerifyKeyCheck(stored) != nil {
		return wrongKey()
	}
	return nil
}

// makeDataDir creates the data directory for the daemon's user alone, and
// warns when an existing one is open to others: it holds the database
// and, unless configured elsewhere, the master key.
func makeDataDir(dir string, log *zap.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		log.Warn("data directory is accessible to group or others: run chmod 700", zap.String("data_dir", dir),
			zap.String("mode", fmt.Sprintf("%04o", fi.Mode().Perm())))
	}
	return nil
}

// newMux routes the listener: the control plane at "/", webhooks under
// /webhooks/, and the operational endpoints.
func newMux(cfg *config.Config, log *zap.Logger, reg *prometheus.Registry, st daemonStore, kr *keyring.Keyring,
	apps map[int64][]byte, pl *pipelines, ds *daemonSetup, reconciler *hookreg.Reconciler) (*http.ServeMux, error) {
	lifecycle := &installationLifecycle{store: st, log: log.Named("lifecycle")}
	hooks := ingress.New(ingress.Options{
		Lifecycle: lifecycle,
		Store:     st,
		Keyring:   kr,
		Providers: webhookProviders(),
		Log:       log.Named("ingress"),
		Metrics:   ingress.NewMetrics(reg),
		MaxBody:   cfg.Webhooks.MaxBodyBytes,
		// Zero values take the ingress's defaults.
		MaxInFlightBytes:         cfg.Webhooks.MaxInFlightBytes,
		MaxInFlightPerConnection: cfg.Webhooks.MaxInFlightPerConnection,
		MaxConcurrentPerSource:   cfg.Webhooks.MaxConcurrentPerSource,
		BodyReadTimeout:          cfg.Webhooks.BodyReadTimeout,
		GitHubApps:               apps,
		GitHubAppRegions:         githubAppRegions(cfg),
		AppProvider:              github.Webhooks{},
		ConnectionARN:            connectionARNs(cfg, st, log),
		Route:                    recoveryRoute(st, pl, log.Named("recovery")),
		Recorded:                 pl.engine.Wake,
		RegisteredApps:           ds.svc,
	})
	lifecycle.changed = hooks.Invalidate
	// A connection completed, deleted or rotated: the ingress forgets its
	// cached copy, and its webhooks are checked at the provider at once,
	// however recently (a set-up again may follow changes made there).
	connectionChanged := func(id string) {
		hooks.Invalidate(id)
		reconciler.Recheck(id)
	}
	ds.changed = connectionChanged
	auth := policy.NewAuthorizer(cfg.RootAccessKeyID, cfg.AccessPolicies())
	verifier := authenticator(cfg, log)
	con, err := newConsole(cfg, st, kr, ds.svc, auth, pl, log.Named("console"))
	if err != nil {
		return nil, err
	}
	api := controlplane.New(controlplane.Options{
		Store:     st,
		Log:       log.Named("api"),
		Auth:      verifier,
		Metrics:   controlplane.NewMetrics(reg),
		Keyring:   kr,
		Region:    cfg.Region,
		Regions:   cfg.ServedRegions(),
		AccountID: cfg.AccountID,
		Limits: controlplane.Limits{
			Connections:           cfg.Limits.Connections,
			Hosts:                 cfg.Limits.Hosts,
			AllowHTTPEndpoints:    cfg.AllowHTTPProviderEndpoints,
			AllowPrivateEndpoints: cfg.AllowPrivateProviderEndpoints,
		},
		WebhookBaseURL:    cfg.PublicURL,
		SecretOverlap:     cfg.Webhooks.SecretOverlap,
		ConnectionChanged: connectionChanged,
		Pipelines:         pl,
		DeliveriesChanged: pl.engine.Wake,
		Tokens:            newProviderTokens(ds.transport),
		ProviderURLs:      cfg.Providers,
		Authorizer:        auth,
		ConsoleLinks:      con,
		Setup:             ds.svc,
		Revoker:           ds.svc,
		RepositoryTokens:  ds.svc,
		Hooks:             reconciler,
		RateLimits:        apiRateLimits(cfg.API),
	})
	mux := http.NewServeMux()
	mux.Handle("/{$}", api)
	mux.Handle("POST /webhooks/{connection}/{token...}", hooks)
	mux.Handle("POST /webhooks/{connection}", hooks) // the path before tokens: answered as unknown
	mux.HandleFunc("POST /webhooks/github-app/{app}", hooks.ServeGitHubApp)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", readyz(st))
	if cfg.Metrics.Listen == "" {
		mux.Handle("GET /metrics", guardMetrics(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}), verifier, auth, log.Named("metrics")))
	}
	mux.Handle("/console/", con)
	mux.Handle("/setup/", ds.svc.Handler())
	return mux, nil
}

// runDelivery starts the delivery engine and the releaser of held events.
// The returned stop cancels both, waits for the engine's attempts in flight
// (up to shutdownGrace) and closes the targets; calling it again is harmless.
func runDelivery(engine *dispatch.Engine, releaser *dispatch.Releaser) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		engine.Run(ctx, shutdownGrace)
	}()
	go releaser.Run(ctx)
	return func() {
		cancel()
		<-done
		engine.SetTargets(nil) // closes the notifiers' connections
	}
}

// reloadOnHUP reloads the pipelines and targets on SIGHUP. A configuration
// that does not validate, or whose targets cannot be built, is refused
// with every reason logged, and the running one stays.
func reloadOnHUP(ctx context.Context, pl *pipelines, load func() (*config.Config, error), log *zap.Logger,
	applied func()) (stop func()) {
	return onHUP(func() {
		cfg, err := load()
		if err == nil {
			err = pl.apply(ctx, cfg)
		}
		if err != nil {
			log.Error("configuration reload refused; the running configuration stays", zap.Error(err))
			return
		}
		log.Info("configuration reloaded (pipelines and targets; other settings need a restart)")
		applied()
	})
}

// onHUP calls fn on every SIGHUP, one call at a time, until stop.
func onHUP(fn func()) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			case <-hup:
				fn()
			}
		}
	}()
	return func() { signal.Stop(hup); close(quit); <-done }
}

// githubAppSecrets reads the configured GitHub Apps' webhook secrets.
func githubAppSecrets(cfg *config.Config) (map[int64][]byte, error) {
	apps := make(map[int64][]byte, len(cfg.GitHubApps))
	for _, app := range cfg.GitHubApps {
		secret, err := app.ReadWebhookSecret()
		if err != nil {
			return nil, err
		}
		apps[app.AppID] = secret
	}
	return apps, nil
}

// webhookProviders maps each connection provider type to the package that
// verifies and parses its webhooks.
func webhookProviders() map[string]ingress.Provider {
	return map[string]ingress.Provider{
		store.ProviderGitHub:                 github.Webhooks{},
		store.ProviderGitHubEnterpriseServer: github.Webhooks{},
		store.ProviderGitLab:                 gitlab.Webhooks{},
		store.ProviderGitLabSelfManaged:      gitlab.Webhooks{},
		store.ProviderBitbucket:              bitbucket.Webhooks{},
	}
}

// authenticator returns the SigV4 verifier for the root credentials and the
// configured access keys (whose policies the API's Authorizer applies), or
// nil (no authentication) when no root credentials are configured; Validate
// has already refused that case on a non-loopback address, and with access
// keys.
func authenticator(cfg *config.Config, log *zap.Logger) controlplane.Authenticator {
	if cfg.Authless() {
		log.Warn("no root credentials configured: the API, console and set-up pages on " + cfg.Listen +
			" answer unauthenticated requests addressed to localhost or a loopback address, so any local process, " +
			"including the builds an exec target runs, can read connection tokens and webhook secrets; " +
			"set FORGELINK_ROOT_ACCESS_KEY_ID and FORGELINK_ROOT_SECRET_ACCESS_KEY to require AWS SigV4 signatures (do so on build hosts)")
		return nil
	}
	return &sigv4.Verifier{Regions: cfg.ServedRegions(), Secret: cfg.SecretAccessKey}
}

// pinger is what /readyz needs from the store.
type pinger interface {
	Ping(ctx context.Context) error
}

func readyz(p pinger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := p.Ping(ctx); err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	}
}
