package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/providers/bitbucket"
	"github.com/forgelink/forgelink/providers/github"
	"github.com/forgelink/forgelink/providers/gitlab"
	"github.com/forgelink/forgelink/relay/recovery"
	"github.com/forgelink/forgelink/relay/setup"
	"github.com/forgelink/forgelink/store"
)

// Retention of the providers' delivery logs (recovery-forges reference):
// github.com keeps 3 days, GitHub Enterprise Server 7.
const (
	githubLogRetention = 72 * time.Hour
	ghesLogRetention   = 7 * 24 * time.Hour
	// gitlabLogRetention: GitLab lists a hook's events of the past 7 days.
	gitlabLogRetention = 7 * 24 * time.Hour
	// recoveryCallTimeout bounds one provider call of recovery.
	recoveryCallTimeout = 30 * time.Second
	// bitbucketPollBudget: Bitbucket Cloud allows 1,000 repository calls
	// an hour at least; a tenth is left for compare and hook calls.
	bitbucketPollBudget = 900
)

// recoverySourceStore is what the recovery's source reads.
type recoverySourceStore interface {
	ListConnections(ctx context.Context, f store.ConnectionFilter, p store.Page) ([]store.Connection, error)
	GetConnection(ctx context.Context, id string) (store.Connection, error)
	RegisteredHooks(ctx context.Context, connID string) ([]store.RegisteredHook, error)
	GetConnectionCredential(ctx context.Context, connID string) (store.Credential, error)
}

// newRecovery returns the background run of the recovery of missed
// webhooks (relay/recovery); one that does nothing when it is off or the
// store cannot keep its records.
func newRecovery(cfg *config.Config, st daemonStore, ds *daemonSetup, pl *pipelines, reg prometheus.Registerer, log *zap.Logger) func(ctx context.Context) {
	rs, ok := st.(recovery.Store)
	src, ok2 := st.(recoverySourceStore)
	if cfg.Recovery.Disabled || !ok || !ok2 {
		log.Info("recovery of missed webhooks is off", zap.Bool("disabled", cfg.Recovery.Disabled))
		return func(context.Context) {}
	}
	client := &http.Client{
		Transport: ds.transport,
		Timeout:   recoveryCallTimeout,
		// A redirect could carry the token to another host.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	source := &recoverySource{cfg: cfg, st: src, svc: ds.svc, client: client, pl: pl, log: log, resend: map[string]bool{}}
	synth := &recovery.Synthesizer{Store: st, Route: pl.route, Recorded: pl.engine.Wake, Now: time.Now}
	r := recovery.New(recovery.Options{
		Store: rs, Source: source, Synthesize: synth.Synthesize, MarkError: ds.svc.Rejected,
		Metrics: recovery.NewMetrics(reg), Log: log, Now: time.Now,
		Interval: time.Duration(cfg.Recovery.Interval), PollInterval: time.Duration(cfg.Recovery.PollInterval),
		PollBudget: map[string]int{store.ProviderBitbucket: bitbucketPollBudget},
	})
	gaps := newIngressGaps(reg, r.Trigger, log)
	return func(ctx context.Context) {
		go gaps.run(ctx, ingressGapCheck)
		r.Run(ctx)
	}
}

// ingressGapCheck is how often the ingress's errors are looked at.
const ingressGapCheck = 10 * time.Second

// ingressGaps tells recovery of a gap in ingress: webhooks the ingress
// answered with an error (the store could not record them, so the
// provider saw a failed delivery). Once such errors stop, a round reads
// the delivery logs at once instead of at its next interval.
type ingressGaps struct {
	errors  func() (float64, bool) // forgelink_webhooks_received_total{outcome="error"}
	trigger func()
	log     *zap.Logger
	last    float64
	pending bool
}

func newIngressGaps(reg prometheus.Registerer, trigger func(), log *zap.Logger) *ingressGaps {
	g := &ingressGaps{trigger: trigger, log: log, errors: func() (float64, bool) { return 0, false }}
	if gatherer, ok := reg.(prometheus.Gatherer); ok {
		g.errors = func() (float64, bool) { return ingressErrors(gatherer) }
	}
	return g
}

// ingressErrors sums the ingress's error outcomes.
func ingressErrors(g prometheus.Gatherer) (float64, bool) {
	mfs, err := g.Gather()
	if err != nil {
		return 0, false
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() != "forgelink_webhooks_received_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == "error" {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n, true
}

func (g *ingressGaps) run(ctx context.Context, every time.Duration) {
	g.last, _ = g.errors()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.step()
		}
	}
}

// step triggers a round after a check that saw new errors is followed by
// one that saw none: the outage ended.
func (g *ingressGaps) step() {
	n, ok := g.errors()
	if !ok {
		return
	}
	grew := n > g.last
	g.last = n
	switch {
	case grew:
		g.pending = true
	case g.pending:
		g.pending = false
		g.log.Info("recovery: the ingress answered webhooks with errors; reading the delivery logs now")
		g.trigger()
	}
}

// recoveryRoute is the ingress's routing with one exception: the webhook
// of a push that polling synthesised already is recorded without
// deliveries, so no pipeline gets the same push twice.
func recoveryRoute(st daemonStore, pl *pipelines, log *zap.Logger) func(store.Connection, string, time.Time, *providers.Event) []store.Delivery {
	lookup, ok := st.(recovery.DeliveryLookup)
	return func(conn store.Connection, eventID string, at time.Time, ev *providers.Event) []store.Delivery {
		if ok && ev.Kind == providers.KindPush {
			ctx, cancel := context.WithTimeout(context.Background(), recoveryCallTimeout)
			done, err := recovery.AlreadySynthesized(ctx, lookup, conn.ID, ev)
			cancel()
			switch {
			case err != nil:
				log.Warn("recovery: cannot tell whether this push was synthesised; routing it", zap.Error(err))
			case done:
				log.Info("webhook of a push already synthesised by polling: recorded without deliveries",
					zap.String("connection", conn.ID), zap.String("delivery_id", ev.DeliveryID))
				return nil
			}
		}
		return pl.route(conn.ID, eventID, at, ev)
	}
}

// recoverySource names the hooks and refs of a round from the store, the
// running pipelines and the connections' credentials.
type recoverySource struct {
	cfg    *config.Config
	st     recoverySourceStore
	svc    *setup.Service
	client *http.Client
	pl     *pipelines
	log    *zap.Logger

	mu     sync.Mutex
	resend map[string]bool // by GitLab API URL: has the resend API
}

// Hooks are the configured GitHub Apps' hooks and the repository hooks
// forgelink registered on GitHub, GitHub Enterprise Server and GitLab 17.4
// or later (resend). Bitbucket has no delivery log, nor older GitLab:
// their refs are polled.
func (s *recoverySource) Hooks(ctx context.Context) ([]recovery.Hook, error) {
	conns, err := s.connections(ctx)
	if err != nil {
		return nil, err
	}
	var githubIDs []string
	for _, c := range conns {
		if c.ProviderType == store.ProviderGitHub {
			githubIDs = append(githubIDs, c.ID)
		}
	}
	hooks := s.appHooks(githubIDs)
	for _, c := range conns {
		if c.ProviderType == store.ProviderBitbucket {
			continue
		}
		hs, err := s.repoHooks(ctx, c)
		if err != nil {
			s.log.Warn("recovery: skipping a connection's hooks", zap.String("connection", c.ID), zap.Error(err))
			continue
		}
		hooks = append(hooks, hs...)
	}
	return hooks, nil
}

// appHooks are the hooks of the configured GitHub Apps, read with their
// JWT; their events are recorded on github.com connections.
func (s *recoverySource) appHooks(connIDs []string) []recovery.Hook {
	var hooks []recovery.Hook
	for _, a := range s.cfg.GitHubApps {
		if a.PrivateKeyFile == "" {
			continue
		}
		key, err := a.ReadPrivateKey()
		if err == nil {
			var app *github.App
			if app, err = github.NewApp(s.client, s.cfg.Providers.GitHubAPI(), a.AppID, key); err == nil {
				hooks = append(hooks, recovery.Hook{Key: appHookKey(a.AppID), Provider: store.ProviderGitHub, ConnectionIDs: connIDs,
					App: true, Retention: githubLogRetention, Log: app.DeliveryLog(time.Now)})
				continue
			}
		}
		s.log.Warn("recovery: skipping a GitHub App's hook", zap.Int64("app_id", a.AppID), zap.Error(err))
	}
	return hooks
}

// repoHooks are the repository hooks forgelink registered with conn's
// credential; an App connection has none.
func (s *recoverySource) repoHooks(ctx context.Context, conn store.Connection) ([]recovery.Hook, error) {
	app, tok, apiURL, err := s.credential(ctx, conn)
	if err != nil || app {
		return nil, err
	}
	regs, err := s.st.RegisteredHooks(ctx, conn.ID)
	if err != nil {
		return nil, err
	}
	gitlabHooks := conn.ProviderType == store.ProviderGitLab || conn.ProviderType == store.ProviderGitLabSelfManaged
	if gitlabHooks && !s.resends(ctx, apiURL, tok) {
		return nil, nil // its refs are polled
	}
	var hooks []recovery.Hook
	for _, h := range regs {
		if h.HookID == "" {
			continue
		}
		hook := recovery.Hook{Key: repoHookKey(conn.ID, h.Repository), Provider: conn.ProviderType,
			ConnectionIDs: []string{conn.ID}, Retention: githubLogRetention}
		switch {
		case gitlabHooks:
			hook.Retention, hook.Gap = gitlabLogRetention, gitlab.ResendGap
			hook.Log, err = gitlab.NewHookLog(s.client, apiURL, tok, h.Repository, h.HookID)
		case conn.ProviderType == store.ProviderGitHubEnterpriseServer:
			hook.Retention = ghesLogRetention
			fallthrough
		default:
			hook.Log, err = github.NewRepoDeliveryLog(s.client, apiURL, tok, h.Repository, h.HookID, time.Now)
		}
		if err != nil {
			return nil, err
		}
		hooks = append(hooks, hook)
	}
	return hooks, nil
}

// resends reports whether the GitLab at apiURL has the hook events'
// resend API, asking it once per daemon (a server that could not be asked
// is asked again next round).
func (s *recoverySource) resends(ctx context.Context, apiURL string, tok providers.Token) bool {
	s.mu.Lock()
	known, ok := s.resend[apiURL]
	s.mu.Unlock()
	if ok {
		return known
	}
	yes, err := gitlab.SupportsResend(ctx, s.client, apiURL, tok)
	if err != nil {
		s.log.Warn("recovery: cannot tell GitLab's version; its refs are polled", zap.String("api", apiURL), zap.Error(err))
		return false
	}
	s.mu.Lock()
	s.resend[apiURL] = yes
	s.mu.Unlock()
	return yes
}

// Watches are the literal branches and tags the running pipelines'
// push filters name (a glob names no one ref to read). Polling is on for
// pipelines recovery.poll names, for providers without a delivery log
// forgelink reads (Bitbucket, GitLab before 17.4), and for hooks hookreg could not
// keep; refs of hooks the provider refuses to show are polled too.
func (s *recoverySource) Watches(ctx context.Context) ([]recovery.Watch, error) {
	var out []recovery.Watch
	for _, p := range s.pl.Pipelines() {
		refs := watchedRefs(p.Triggers)
		if len(refs) == 0 {
			continue
		}
		_, connID, _ := strings.Cut(p.ConnectionArn, ":connection/")
		conn, err := s.st.GetConnection(ctx, connID)
		if err != nil || conn.Status != store.StatusAvailable {
			continue
		}
		w, err := s.watch(ctx, conn, p)
		if err != nil {
			s.log.Warn("recovery: cannot poll a pipeline's refs", zap.String("pipeline", p.Name), zap.Error(err))
			continue
		}
		for _, ref := range refs {
			w.Ref = ref
			out = append(out, w)
		}
	}
	return out, nil
}

func (s *recoverySource) watch(ctx context.Context, conn store.Connection, p config.Pipeline) (recovery.Watch, error) {
	app, tok, apiURL, err := s.credential(ctx, conn)
	if err != nil {
		return recovery.Watch{}, err
	}
	w := recovery.Watch{ConnectionID: conn.ID, Provider: conn.ProviderType, Repository: p.Repository, Poll: s.cfg.Recovery.Polls(p)}
	switch conn.ProviderType {
	case store.ProviderGitHub, store.ProviderGitHubEnterpriseServer:
		w.HookKey = repoHookKey(conn.ID, store.RepositoryKey(p.Repository))
		if app && len(s.cfg.GitHubApps) > 0 {
			w.HookKey = appHookKey(s.cfg.GitHubApps[0].AppID)
		}
		w.Heads, err = github.NewHeads(s.client, apiURL, tok, time.Now)
	case store.ProviderGitLab, store.ProviderGitLabSelfManaged:
		w.HookKey = repoHookKey(conn.ID, store.RepositoryKey(p.Repository))
		w.Poll = w.Poll || !s.resends(ctx, apiURL, tok)
		w.Heads, err = gitlab.NewHeads(s.client, apiURL, tok)
	case store.ProviderBitbucket:
		w.Poll = true
		w.Heads, err = bitbucket.NewHeads(s.client, apiURL, tok)
	default:
		err = fmt.Errorf("no polling for provider type %q", conn.ProviderType)
	}
	if !w.Poll && !app {
		w.Poll = s.hookBroken(ctx, conn.ID, p.Repository)
	}
	return w, err
}

// hookBroken reports whether hookreg failed to keep the repository's hook.
func (s *recoverySource) hookBroken(ctx context.Context, connID, repository string) bool {
	regs, err := s.st.RegisteredHooks(ctx, connID)
	if err != nil {
		return false
	}
	for _, h := range regs {
		if h.Repository == store.RepositoryKey(repository) {
			return h.State == store.HookError
		}
	}
	return true // not registered (yet): nothing delivers its pushes
}

// credential returns whether conn is a GitHub App connection, and its
// token and API URL.
func (s *recoverySource) credential(ctx context.Context, conn store.Connection) (app bool, tok providers.Token, apiURL string, err error) {
	cred, err := s.st.GetConnectionCredential(ctx, conn.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false, tok, "", fmt.Errorf("connection %s has no credential yet", conn.ID)
	}
	if err != nil {
		return false, tok, "", err
	}
	if tok, err = s.svc.Token(ctx, conn); err != nil {
		return false, tok, "", err
	}
	apiURL, err = s.svc.API(ctx, conn)
	return cred.Kind == store.CredentialGitHubApp, tok, apiURL, err
}

// connections lists the AVAILABLE connections.
func (s *recoverySource) connections(ctx context.Context) ([]store.Connection, error) {
	var out []store.Connection
	page := store.Page{Limit: 100}
	for {
		cs, err := s.st.ListConnections(ctx, store.ConnectionFilter{}, page)
		if err != nil {
			return nil, fmt.Errorf("list connections: %w", err)
		}
		for _, c := range cs {
			if c.Status == store.StatusAvailable {
				out = append(out, c)
			}
		}
		if len(cs) < page.Limit {
			return out, nil
		}
		page.After = cs[len(cs)-1].ID
	}
}

func appHookKey(appID int64) string { return "app:github:" + strconv.FormatInt(appID, 10) }

func repoHookKey(connID, repository string) string { return "repo:" + connID + ":" + repository }

// watchedRefs are the full refs the push filters name literally.
func watchedRefs(t config.Triggers) []string {
	var refs []string
	for _, f := range t.Push {
		refs = appendLiteral(refs, "refs/heads/", f.Branches)
		refs = appendLiteral(refs, "refs/tags/", f.Tags)
	}
	return refs
}

func appendLiteral(refs []string, prefix string, c *config.Criteria) []string {
	if c == nil {
		return refs
	}
	for _, name := range c.Includes {
		if name != "" && !strings.ContainsAny(name, `*?[]{}\`) && !slices.Contains(refs, prefix+name) {
			refs = append(refs, prefix+name)
		}
	}
	return refs
}
