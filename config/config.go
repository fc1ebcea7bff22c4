// Package config loads and validates forgelink's configuration.
//
// Precedence, highest first: command-line flags, FORGELINK_* environment
// variables, the YAML file, built-in defaults. Load applies the file and the
// environment; the caller applies flags and then calls Validate.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults.
const (
	DefaultListen         = "127.0.0.1:7788"
	DefaultDataDir        = "forgelink-data"
	DefaultRegion         = "us-east-1"
	DefaultAccountID      = "000000000000"
	DefaultMaxConnections = 250
	DefaultMaxHosts       = 50
	DefaultMaxBodyBytes   = 25 << 20 // GitHub's own payload cap
	DefaultSecretOverlap  = 24 * time.Hour
)

// Config is the whole daemon configuration.
type Config struct {
	Listen  string `yaml:"listen"`
	DataDir string `yaml:"dataDir"`
	// Region is the default region: the first of Regions once loaded.
	// Deprecated as a setting: `region: X` is the one-region spelling of
	// `regions: [X]`.
	Region string `yaml:"region"`
	// Regions are the regions the deployment serves (issue 11); a
	// request's region is its SigV4 credential-scope region.
	Regions   []string `yaml:"regions"`
	AccountID string   `yaml:"accountId"`
	Log       Log      `yaml:"log"`
	Limits    Limits   `yaml:"limits"`
	// AllowHTTPProviderEndpoints lets hosts use plain-HTTP provider
	// endpoints (a lab GitLab, say). Off by default: tokens would cross the
	// network in clear text.
	AllowHTTPProviderEndpoints bool `yaml:"allowHTTPProviderEndpoints"`
	// AllowPrivateProviderEndpoints lets hosts use endpoints in private
	// address ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7).
	// Loopback and link-local addresses (a cloud's metadata service) are
	// refused regardless.
	AllowPrivateProviderEndpoints bool `yaml:"allowPrivateProviderEndpoints"`
	// PublicURL is how providers reach this daemon (webhook URLs are built
	// from it); "http://<listen>" when empty.
	PublicURL string `yaml:"publicURL"`
	// MasterKeyFile holds the key that seals secrets at rest; generated as
	// <dataDir>/master.key when empty and absent.
	MasterKeyFile string `yaml:"masterKeyFile"`
	// AllowInsecureKeyFile accepts a master key file that group or others
	// can access, with a warning; refused otherwise.
	AllowInsecureKeyFile bool `yaml:"allowInsecureKeyFile"`
	// TLS and Metrics configure the listeners (transport.go).
	TLS      ListenerTLS `yaml:"tls"`
	Metrics  Metrics     `yaml:"metrics"`
	Webhooks Webhooks    `yaml:"webhooks"`
	// Store selects the embedded SQLite store or a shared PostgreSQL.
	Store Store `yaml:"store"`
	// Retention bounds what the store keeps of finished work (retention.go).
	Retention Retention `yaml:"retention"`
	// Recovery finds missed webhooks (recovery.go).
	Recovery Recovery `yaml:"recovery"`
	// API configures the control plane's rate limits (ratelimit.go).
	API API `yaml:"api"`
	// Providers locates the cloud providers' APIs (providers.go).
	Providers Providers `yaml:"providers"`
	// GitHubApps are the GitHub Apps whose webhook deliveries forgelink
	// receives at /webhooks/github-app/<appId>.
	GitHubApps []GitHubApp `yaml:"githubApps"`
	// Targets and Pipelines route recorded events to CI (see pipelines.go).
	Targets   []Target   `yaml:"targets"`
	Pipelines []Pipeline `yaml:"pipelines"`
	// AccessKeys are access key pairs besides the root credentials, each
	// limited by an IAM-style policy (access.go).
	AccessKeys []AccessKey `yaml:"accessKeys"`

	// Root credentials come only from the environment (or flags), never from
	// the YAML file, so that the file can be committed to Git.
	RootAccessKeyID     string `yaml:"-"`
	RootSecretAccessKey string `yaml:"-"`

	// lines maps a field path ("limits.connections") to its line in File.
	lines map[string]int
	// fromEnv maps a field path to the environment variable (or, through
	// SetByFlag, the command-line flag) that set it, so that a bad value is
	// reported under the name the operator set.
	fromEnv map[string]string
	// problems are what Load found but could not apply (unknown keys,
	// values of the wrong type, bad environment values); Validate reports
	// them with the rest.
	problems ValidationError
	// File is the path the YAML was read from, empty when none.
	File string `yaml:"-"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // auto (console on a terminal, JSON otherwise), json, console
}

// Webhooks configures webhook ingress.
type Webhooks struct {
	// MaxBodyBytes refuses larger deliveries (413) without reading them.
	MaxBodyBytes int64 `yaml:"maxBodyBytes"`
	// SecretOverlap is how long a rotated-out secret is still accepted,
	// and the longest the hook registry holds it for hooks it could not
	// yet update.
	SecretOverlap time.Duration `yaml:"secretOverlap"`
	// What unauthenticated senders can make the ingress hold before a
	// signature is checked; zero takes relay/ingress's defaults (128 MiB
	// in flight, a quarter of it per connection, 64 concurrent requests
	// per remote address but loopback, 10 s to send a body).
	MaxInFlightBytes         int64         `yaml:"maxInFlightBytes"`
	MaxInFlightPerConnection int64         `yaml:"maxInFlightPerConnection"`
	MaxConcurrentPerSource   int           `yaml:"maxConcurrentPerSource"`
	BodyReadTimeout          time.Duration `yaml:"bodyReadTimeout"`
}

// GitHubApp is a github.com GitHub App that completes connections; its
// deliveries reach only github.com connections (a GHES host registers its
// own App through the manifest flow).
type GitHubApp struct {
	AppID int64 `yaml:"appId"`
	// WebhookSecretFile holds the App's webhook secret; secrets never sit
	// in this file, which may be committed.
	WebhookSecretFile string `yaml:"webhookSecretFile"`
	// Slug, ClientID and PrivateKeyFile let forgelink set up github.com
	// connections with this App (apps.go).
	Slug           string `yaml:"slug"`
	ClientID       string `yaml:"clientId"`
	PrivateKeyFile string `yaml:"privateKeyFile"`
	// ClientSecretFile holds the App's OAuth client secret: set-up
	// exchanges the user authorization GitHub sends after an installation
	// with it, to prove the installation is the user's.
	ClientSecretFile string `yaml:"clientSecretFile"`
	// Regions are the home regions whose connections the App sets up and
	// receives deliveries for; empty: every served region. A region such
	// as Europe (Milan) has an App of its own, installed separately.
	Regions []string `yaml:"regions"`
}

// ReadWebhookSecret reads the App's webhook secret, trimmed of surrounding
// whitespace (a trailing newline, typically).
func (a GitHubApp) ReadWebhookSecret() ([]byte, error) {
	data, err := os.ReadFile(a.WebhookSecretFile)
	if err != nil {
		return nil, fmt.Errorf("github app %d webhook secret: %w", a.AppID, err)
	}
	secret := bytes.TrimSpace(data)
	if len(secret) == 0 {
		return nil, fmt.Errorf("github app %d webhook secret: %s is empty", a.AppID, a.WebhookSecretFile)
	}
	return secret, nil
}

// Limits are the account quotas CodeConnections documents.
type Limits struct {
	Connections int `yaml:"connections"`
	Hosts       int `yaml:"hosts"`
}

// Default returns the built-in configuration.
func Default() *Config {
	return &Config{
		Listen:    DefaultListen,
		DataDir:   DefaultDataDir,
		Region:    DefaultRegion,
		AccountID: DefaultAccountID,
		Log:       Log{Level: "info", Format: "auto"},
		Limits:    Limits{Connections: DefaultMaxConnections, Hosts: DefaultMaxHosts},
		Webhooks:  Webhooks{MaxBodyBytes: DefaultMaxBodyBytes, SecretOverlap: DefaultSecretOverlap},
		Store:     Store{Driver: StoreSQLite},
		Retention: defaultRetention(),
		Recovery:  defaultRecovery(),
		API:       defaultAPI(),
	}
}

// Load builds a configuration from defaults, the YAML file at path (skipped
// when path is empty) and the environment, as returned by os.Environ. It
// fails only when the file cannot be read or is not YAML: values that do
// not fit (an unknown key, a string where a list belongs, a bad
// environment value) are left out and reported by Validate, with every
// other problem, so that the operator sees them all at once.
func Load(path string, environ []string) (*Config, error) {
	cfg := Default()
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		defer f.Close()
		if err := cfg.decode(path, f); err != nil {
			return nil, err
		}
	}
	cfg.applyEnv(environ)
	cfg.resolveRegions()
	return cfg, nil
}

// decode reads YAML and remembers field lines. What does not fit the
// configuration's types is cut out of the tree first (see checker) and
// kept in c.problems, so the rest decodes and validates.
func (c *Config) decode(path string, r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read config %s: %w", path, err)
	}
	c.File = path
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return syntaxError(path, err)
	}
	c.lines = map[string]int{}
	collectLines(&root, "", c.lines)
	if len(root.Content) == 0 {
		return nil // an empty file: the defaults
	}
	ch := checker{file: path}
	fits := ch.check(root.Content[0], reflect.TypeFor[Config](), "", root.Content[0].Line)
	c.problems = ch.problems
	if !fits {
		return nil // not a mapping: nothing to decode
	}
	if err := root.Content[0].Decode(c); err != nil {
		c.problems = append(c.problems, decodeProblems(path, err)...)
	}
	c.resolvePaths(filepath.Dir(path))
	return nil
}

// resolvePaths makes the file's relative paths relative to the file itself,
// so a configuration and its secret files can move together.
func (c *Config) resolvePaths(dir string) {
	resolve := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	resolve(&c.MasterKeyFile)
	resolve(&c.TLS.CertFile)
	resolve(&c.TLS.KeyFile)
	for i := range c.GitHubApps {
		resolve(&c.GitHubApps[i].WebhookSecretFile)
	}
	c.resolveAppPaths(resolve)
	c.resolveAccessKeyPaths(resolve)
	for i := range c.Targets {
		t := &c.Targets[i]
		switch {
		case t.HTTP != nil:
			for _, p := range []*string{&t.HTTP.SecretFile, &t.HTTP.TLS.CAFile, &t.HTTP.TLS.CertFile, &t.HTTP.TLS.KeyFile} {
				resolve(p)
			}
		case t.Exec != nil:
			resolve(&t.Exec.Dir)
		case t.NATS != nil:
			resolve(&t.NATS.CredentialsFile)
		case t.AMQP != nil:
			resolve(&t.AMQP.URLFile)
		}
	}
}

func collectLines(n *yaml.Node, prefix string, lines map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			collectLines(c, prefix, lines)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if prefix != "" {
				key = prefix + "." + key
			}
			lines[key] = n.Content[i].Line
			collectLines(n.Content[i+1], key, lines)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			key := fmt.Sprintf("%s[%d]", prefix, i)
			lines[key] = c.Line
			collectLines(c, key, lines)
		}
	}
}

// Environment variables, each overriding the YAML field named beside it.
var envFields = []struct {
	name, field string
	set         func(c *Config, v string) error
}{
	{"FORGELINK_LISTEN", "listen", func(c *Config, v string) error { c.Listen = v; return nil }},
	{"FORGELINK_DATA_DIR", "dataDir", func(c *Config, v string) error { c.DataDir = v; return nil }},
	{"FORGELINK_REGION", "region", func(c *Config, v string) error { c.Region = v; return nil }},
	{"FORGELINK_REGIONS", "regions", func(c *Config, v string) error { c.Regions = splitRegions(v); return nil }},
	{"FORGELINK_ACCOUNT_ID", "accountId", func(c *Config, v string) error { c.AccountID = v; return nil }},
	{"FORGELINK_LOG_LEVEL", "log.level", func(c *Config, v string) error { c.Log.Level = v; return nil }},
	{"FORGELINK_LOG_FORMAT", "log.format", func(c *Config, v string) error { c.Log.Format = v; return nil }},
	{"FORGELINK_MAX_CONNECTIONS", "limits.connections", func(c *Config, v string) error { return setInt(&c.Limits.Connections, v) }},
	{"FORGELINK_MAX_HOSTS", "limits.hosts", func(c *Config, v string) error { return setInt(&c.Limits.Hosts, v) }},
	{"FORGELINK_PUBLIC_URL", "publicURL", func(c *Config, v string) error { c.PublicURL = v; return nil }},
	{"FORGELINK_STORE_DRIVER", "store.driver", func(c *Config, v string) error { c.Store.Driver = v; return nil }},
	{"FORGELINK_STORE_DSN", "store.dsn", func(c *Config, v string) error { c.Store.DSN = v; return nil }},
	{"FORGELINK_MASTER_KEY_FILE", "masterKeyFile", func(c *Config, v string) error { c.MasterKeyFile = v; return nil }},
	{"FORGELINK_ALLOW_INSECURE_KEY_FILE", "allowInsecureKeyFile", func(c *Config, v string) error { return setBool(&c.AllowInsecureKeyFile, v) }},
	{"FORGELINK_TLS_CERT_FILE", "tls.certFile", func(c *Config, v string) error { c.TLS.CertFile = v; return nil }},
	{"FORGELINK_TLS_KEY_FILE", "tls.keyFile", func(c *Config, v string) error { c.TLS.KeyFile = v; return nil }},
	{"FORGELINK_METRICS_LISTEN", "metrics.listen", func(c *Config, v string) error { c.Metrics.Listen = v; return nil }},
	{"FORGELINK_ROOT_ACCESS_KEY_ID", "", func(c *Config, v string) error { c.RootAccessKeyID = v; return nil }},
	{"FORGELINK_ROOT_SECRET_ACCESS_KEY", "", func(c *Config, v string) error { c.RootSecretAccessKey = v; return nil }},
}

func setInt(dst *int, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("want an integer, got %q", v)
	}
	*dst = n
	return nil
}

func setBool(dst *bool, v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("want true or false, got %q", v)
	}
	*dst = b
	return nil
}

func (c *Config) applyEnv(environ []string) {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	c.fromEnv = map[string]string{}
	for _, f := range envFields {
		v, ok := env[f.name]
		if !ok || v == "" {
			continue
		}
		if err := f.set(c, v); err != nil {
			c.problems = append(c.problems, FieldError{Field: f.name, Msg: err.Error()})
			continue
		}
		if f.field != "" {
			c.fromEnv[f.field] = f.name
		}
	}
}

// SetByFlag records that the command-line flag (e.g. "--listen") set the
// field (a dotted path, e.g. "listen"): a bad value is then reported under
// the flag's name, as one from the environment is under the variable's.
func (c *Config) SetByFlag(field, flag string) {
	if c.fromEnv == nil {
		c.fromEnv = map[string]string{}
	}
	c.fromEnv[field] = flag
}

// fieldError places a problem with a field: under the environment
// variable that set it, else at its line in the file.
func (c *Config) fieldError(field, msg string) FieldError {
	if name, ok := c.fromEnv[field]; ok {
		return FieldError{Field: name, Msg: msg}
	}
	return FieldError{File: c.File, Line: c.lines[field], Field: field, Msg: msg}
}

// FieldError is one problem with one configuration field.
type FieldError struct {
	File  string // empty when the value did not come from a file
	Line  int    // 0 when unknown
	Field string // dotted path, as in the YAML file
	Msg   string
}

func (e FieldError) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
	case e.File != "":
		return fmt.Sprintf("%s: %s: %s", e.File, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Field, e.Msg)
}

// ValidationError lists every problem found; it is never empty.
type ValidationError []FieldError

func (e ValidationError) Error() string {
	msgs := make([]string, len(e))
	for i, fe := range e {
		msgs[i] = fe.Error()
	}
	return "invalid configuration:\n  " + strings.Join(msgs, "\n  ")
}

var (
	regionPattern    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)
	accountIDPattern = regexp.MustCompile(`^[0-9]{12}$`)
)

// Validate checks every field and reports all problems at once.
func (c *Config) Validate() error { return c.validate(true) }

// ValidateFile checks what a configuration file decides, leaving out the
// checks that depend on the environment it will run in (root credentials
// for a non-loopback listener): `forgelink config validate`.
func (c *Config) ValidateFile() error { return c.validate(false) }

func (c *Config) validate(runtime bool) error {
	var errs ValidationError
	bad := func(field, format string, args ...any) {
		errs = append(errs, c.fieldError(field, fmt.Sprintf(format, args...)))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "want host:port, got %q", c.Listen)
	}
	if c.DataDir == "" {
		bad("dataDir", "must not be empty")
	}
	errs = append(errs, c.validateRegions()...)
	if !accountIDPattern.MatchString(c.AccountID) {
		bad("accountId", "want exactly 12 digits, got %q", c.AccountID)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "want debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "auto", "json", "console":
	default:
		bad("log.format", "want auto, console or json, got %q", c.Log.Format)
	}
	c.validateStore(bad)
	c.validateRetention(bad)
	c.validateRecovery(bad)
	c.validateAPI(bad)
	c.validateTransport(bad)
	if c.Limits.Connections < 1 {
		bad("limits.connections", "must be at least 1, got %d", c.Limits.Connections)
	}
	if c.Limits.Hosts < 1 {
		bad("limits.hosts", "must be at least 1, got %d", c.Limits.Hosts)
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			bad("publicURL", "want an absolute http(s) URL such as https://forgelink.example.com, got %q", c.PublicURL)
		}
	}
	if c.Webhooks.MaxBodyBytes < 1024 {
		bad("webhooks.maxBodyBytes", "must be at least 1024, got %d", c.Webhooks.MaxBodyBytes)
	}
	// Zero would leave the hook registry no bound to hold a previous
	// secret by; `rotate-secret --revoke-now` is the way to end one at once.
	if c.Webhooks.SecretOverlap < time.Minute || c.Webhooks.SecretOverlap > 30*24*time.Hour {
		bad("webhooks.secretOverlap", "must be between 1m and 720h, got %s (to revoke a secret at once, rotate it with --revoke-now)", c.Webhooks.SecretOverlap)
	}
	c.validateIngressLimits(bad)
	c.validateGitHubApps(bad)
	c.validateProviders(bad)
	c.validateApps(bad)
	errs = append(errs, c.validateAppRegions()...)
	c.validateAccessKeys(bad, runtime)
	c.validatePipelines(bad)
	if (c.RootAccessKeyID == "") != (c.RootSecretAccessKey == "") {
		bad("FORGELINK_ROOT_ACCESS_KEY_ID", "set both FORGELINK_ROOT_ACCESS_KEY_ID and FORGELINK_ROOT_SECRET_ACCESS_KEY, or neither")
	}
	if runtime && c.Authless() && !isLoopback(c.Listen) {
		bad("listen", "%q is not a loopback address: set FORGELINK_ROOT_ACCESS_KEY_ID and FORGELINK_ROOT_SECRET_ACCESS_KEY to listen beyond this host", c.Listen)
	}
	if errs = c.problems.with(errs); len(errs) > 0 {
		return errs
	}
	return nil
}

// with adds to the problems Load found those validation found, but for
// fields (or parts of fields) already reported: a value cut out for its
// type would otherwise be reported again as missing.
func (e ValidationError) with(more ValidationError) ValidationError {
	out := append(ValidationError(nil), e...)
	for _, fe := range more {
		if !e.covers(fe.Field) {
			out = append(out, fe)
		}
	}
	return out
}

func (e ValidationError) covers(field string) bool {
	for _, fe := range e {
		rest, ok := strings.CutPrefix(field, fe.Field)
		if ok && (rest == "" || rest[0] == '.' || rest[0] == '[') {
			return true
		}
	}
	return false
}

func (c *Config) validateGitHubApps(bad func(field, format string, args ...any)) {
	seen := map[int64]bool{}
	for i, app := range c.GitHubApps {
		field := fmt.Sprintf("githubApps[%d]", i)
		if app.AppID <= 0 {
			bad(field+".appId", "must be the App's positive numeric id, got %d", app.AppID)
		} else if seen[app.AppID] {
			bad(field+".appId", "App %d is listed twice", app.AppID)
		}
		seen[app.AppID] = true
		if app.WebhookSecretFile == "" {
			bad(field+".webhookSecretFile", "must name the file holding the App's webhook secret")
		} else if _, err := app.ReadWebhookSecret(); err != nil {
			bad(field+".webhookSecretFile", "%v", errors.Unwrap(err))
		}
	}
}

// WebhookBaseURL is the base of every connection's webhook URL.
func (c *Config) WebhookBaseURL() string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	return "http://" + c.Listen
}

// Authless reports whether no root credentials are configured, in which case
// forgelink serves unauthenticated requests on loopback only.
func (c *Config) Authless() bool {
	return c.RootAccessKeyID == "" && c.RootSecretAccessKey == ""
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c *Config) validateIngressLimits(bad func(field, format string, args ...any)) {
	w := c.Webhooks
	if w.MaxInFlightBytes < 0 {
		bad("webhooks.maxInFlightBytes", "must not be negative, got %d", w.MaxInFlightBytes)
	}
	if w.MaxInFlightPerConnection < 0 || (w.MaxInFlightBytes > 0 && w.MaxInFlightPerConnection > w.MaxInFlightBytes) {
		bad("webhooks.maxInFlightPerConnection", "must be between 0 and webhooks.maxInFlightBytes, got %d", w.MaxInFlightPerConnection)
	}
	if w.MaxConcurrentPerSource < 0 {
		bad("webhooks.maxConcurrentPerSource", "must not be negative, got %d", w.MaxConcurrentPerSource)
	}
	if w.BodyReadTimeout < 0 || w.BodyReadTimeout > 10*time.Minute {
		bad("webhooks.bodyReadTimeout", "must be between 0 (the default, 10s) and 10m, got %s", w.BodyReadTimeout)
	}
}
