package config

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/forgelink/forgelink/relay/notify"
)

// Pipeline connects a repository of a connection to a target, with the
// triggers that decide which events it wants.
type Pipeline struct {
	Name          string   `yaml:"name"`
	ConnectionArn string   `yaml:"connectionArn"`
	Repository    string   `yaml:"repository"` // owner/repo (GitLab: the full namespace path)
	Triggers      Triggers `yaml:"triggers"`
	// ExecutionMode is CodePipeline's: QUEUED (default: one delivery at a
	// time, in push order), SUPERSEDED (a newer event for the same branch
	// replaces one still waiting) or PARALLEL.
	ExecutionMode string `yaml:"executionMode"`
	Target        string `yaml:"target"` // a name from targets
}

// Execution modes.
const (
	ModeQueued     = "QUEUED"
	ModeSuperseded = "SUPERSEDED"
	ModeParallel   = "PARALLEL"
)

// Triggers are CodePipeline V2 git triggers: the pipeline runs when any one
// filter matches. With no filter at all, every push to a branch matches.
type Triggers struct {
	Push        []PushFilter        `yaml:"push"`
	PullRequest []PullRequestFilter `yaml:"pullRequest"`
}

// PushFilter matches a push when its branch (or tag) criteria match and,
// if FilePaths is set, at least one changed file matches.
type PushFilter struct {
	Branches  *Criteria `yaml:"branches"`
	Tags      *Criteria `yaml:"tags"`
	FilePaths *Criteria `yaml:"filePaths"`
	// BranchDeletions: also trigger when a matching branch is deleted.
	BranchDeletions bool `yaml:"branchDeletions"`
}

// PullRequestFilter matches pull request events.
type PullRequestFilter struct {
	Events         []string  `yaml:"events"`   // OPEN, UPDATED, CLOSED; all when empty
	Branches       *Criteria `yaml:"branches"` // destination branch, as CodePipeline
	SourceBranches *Criteria `yaml:"sourceBranches"`
	FilePaths      *Criteria `yaml:"filePaths"`
}

// Pull request trigger events.
const (
	PROpen    = "OPEN"
	PRUpdated = "UPDATED"
	PRClosed  = "CLOSED"
)

// Criteria are glob include and exclude lists: a value matches when it
// matches an include (or there are none) and no exclude.
type Criteria struct {
	Includes []string `yaml:"includes"`
	Excludes []string `yaml:"excludes"`
}

// Target is where a pipeline's deliveries go. Exactly one of the typed
// sections matches Type.
type Target struct {
	Name string      `yaml:"name"`
	Type string      `yaml:"type"` // http, exec, nats, amqp
	HTTP *HTTPTarget `yaml:"http"`
	Exec *ExecTarget `yaml:"exec"`
	NATS *NATSTarget `yaml:"nats"`
	AMQP *AMQPTarget `yaml:"amqp"`
	// Concurrency bounds the attempts in flight to this target (default 8;
	// 1 for exec).
	Concurrency    int            `yaml:"concurrency"`
	Retry          Retry          `yaml:"retry"`
	CircuitBreaker CircuitBreaker `yaml:"circuitBreaker"`
}

// Target types.
const (
	TargetHTTP = "http"
	TargetExec = "exec"
	TargetNATS = "nats"
	TargetAMQP = "amqp"
)

// HTTPTarget posts each delivery to a URL.
type HTTPTarget struct {
	URL string `yaml:"url"`
	// Format: forgelink (default, the delivery as forgelink's JSON),
	// cloudevents-binary or cloudevents-structured.
	Format string `yaml:"format"`
	// SecretFile holds the Standard Webhooks signing secret ("whsec_" and
	// base64); deliveries are unsigned without one.
	SecretFile string            `yaml:"secretFile"`
	Headers    map[string]string `yaml:"headers"`
	// BodyTemplate, a Go text/template over the delivery, replaces the
	// JSON body (Jenkins buildWithParameters, GitLab pipeline triggers...).
	BodyTemplate string        `yaml:"bodyTemplate"`
	ContentType  string        `yaml:"contentType"` // of a templated body
	Timeout      time.Duration `yaml:"timeout"`
	TLS          TLS           `yaml:"tls"`
}

// TLS configures an HTTP target's client side of TLS.
type TLS struct {
	CAFile             string `yaml:"caFile"`
	CertFile           string `yaml:"certFile"`
	KeyFile            string `yaml:"keyFile"`
	ServerName         string `yaml:"serverName"`
	InsecureSkipVerify bool   `yaml:"insecureSkipVerify"`
}

// ExecTarget runs a program on the build host per delivery.
type ExecTarget struct {
	Command            []string          `yaml:"command"` // argv; never a shell string
	Dir                string            `yaml:"dir"`
	Env                map[string]string `yaml:"env"`
	Timeout            time.Duration     `yaml:"timeout"`
	RetryableExitCodes []int             `yaml:"retryableExitCodes"`
}

// NATSTarget publishes to JetStream.
type NATSTarget struct {
	URL             string        `yaml:"url"`
	Subject         string        `yaml:"subject"`
	CredentialsFile string        `yaml:"credentialsFile"`
	Timeout         time.Duration `yaml:"timeout"`
}

// AMQPTarget publishes to RabbitMQ with publisher confirms.
type AMQPTarget struct {
	// URLFile holds the amqp:// URL when it carries a password; URL
	// otherwise.
	URL        string        `yaml:"url"`
	URLFile    string        `yaml:"urlFile"`
	Exchange   string        `yaml:"exchange"`
	RoutingKey string        `yaml:"routingKey"`
	Timeout    time.Duration `yaml:"timeout"`
}

// Retry is a target's retry policy: exponential backoff with full jitter.
type Retry struct {
	InitialInterval time.Duration `yaml:"initialInterval"`
	MaxInterval     time.Duration `yaml:"maxInterval"`
	MaxAttempts     int           `yaml:"maxAttempts"`
	MaxAge          time.Duration `yaml:"maxAge"`
}

// CircuitBreaker stops attempts to a target after consecutive failures,
// for a cool-down, so a dead target does not hold workers.
type CircuitBreaker struct {
	FailureThreshold int           `yaml:"failureThreshold"`
	Cooldown         time.Duration `yaml:"cooldown"`
}

// Defaults for targets.
var (
	DefaultRetry          = Retry{InitialInterval: time.Second, MaxInterval: 5 * time.Minute, MaxAttempts: 20, MaxAge: 24 * time.Hour}
	DefaultCircuitBreaker = CircuitBreaker{FailureThreshold: 10, Cooldown: 30 * time.Second}
)

const (
	defaultTargetTimeout     = 30 * time.Second
	defaultTargetConcurrency = 8
)

// applyTargetDefaults fills what a target left out.
func applyTargetDefaults(t *Target) {
	if t.Concurrency == 0 {
		t.Concurrency = defaultTargetConcurrency
		if t.Type == TargetExec {
			t.Concurrency = 1
		}
	}
	r := &t.Retry
	r.InitialInterval = or(r.InitialInterval, DefaultRetry.InitialInterval)
	r.MaxInterval = or(r.MaxInterval, DefaultRetry.MaxInterval)
	r.MaxAge = or(r.MaxAge, DefaultRetry.MaxAge)
	if r.MaxAttempts == 0 {
		r.MaxAttempts = DefaultRetry.MaxAttempts
	}
	cb := &t.CircuitBreaker
	cb.Cooldown = or(cb.Cooldown, DefaultCircuitBreaker.Cooldown)
	if cb.FailureThreshold == 0 {
		cb.FailureThreshold = DefaultCircuitBreaker.FailureThreshold
	}
	switch {
	case t.HTTP != nil:
		t.HTTP.Timeout = or(t.HTTP.Timeout, defaultTargetTimeout)
		if t.HTTP.Format == "" {
			t.HTTP.Format = "forgelink"
		}
	case t.Exec != nil:
		t.Exec.Timeout = or(t.Exec.Timeout, 10*time.Minute)
	case t.NATS != nil:
		t.NATS.Timeout = or(t.NATS.Timeout, defaultTargetTimeout)
	case t.AMQP != nil:
		t.AMQP.Timeout = or(t.AMQP.Timeout, defaultTargetTimeout)
	}
}

func or(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

var (
	pipelineNamePattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)
	connectionARNPattern = regexp.MustCompile(`^arn:aws(-[\w]+)*:(codeconnections|codestar-connections):[^:]+:[0-9]{12}:connection/[0-9a-fA-F-]{36}$`)
)

// validatePipelines checks targets and pipelines, reporting every problem.
func (c *Config) validatePipelines(bad func(field, format string, args ...any)) {
	targets := map[string]bool{}
	for i := range c.Targets {
		t := &c.Targets[i]
		field := fmt.Sprintf("targets[%d]", i)
		switch {
		case !pipelineNamePattern.MatchString(t.Name):
			bad(field+".name", "want 1-100 letters, digits, '.', '_' or '-', got %q", t.Name)
		case targets[t.Name]:
			bad(field+".name", "target %q is defined twice", t.Name)
		}
		targets[t.Name] = true
		applyTargetDefaults(t)
		validateTarget(field, t, bad)
	}
	names := map[string]bool{}
	for i := range c.Pipelines {
		p := &c.Pipelines[i]
		field := fmt.Sprintf("pipelines[%d]", i)
		switch {
		case !pipelineNamePattern.MatchString(p.Name):
			bad(field+".name", "want 1-100 letters, digits, '.', '_' or '-', got %q", p.Name)
		case names[p.Name]:
			bad(field+".name", "pipeline %q is defined twice", p.Name)
		}
		names[p.Name] = true
		if !connectionARNPattern.MatchString(p.ConnectionArn) {
			bad(field+".connectionArn", "want a connection ARN such as arn:aws:codeconnections:us-east-1:000000000000:connection/<uuid>, got %q", p.ConnectionArn)
		}
		if owner, repo, ok := strings.Cut(p.Repository, "/"); !ok || owner == "" || repo == "" || strings.HasSuffix(repo, "/") {
			bad(field+".repository", "want owner/repo, got %q", p.Repository)
		}
		if p.ExecutionMode == "" {
			p.ExecutionMode = ModeQueued
		}
		if p.ExecutionMode != ModeQueued && p.ExecutionMode != ModeSuperseded && p.ExecutionMode != ModeParallel {
			bad(field+".executionMode", "want QUEUED, SUPERSEDED or PARALLEL, got %q", p.ExecutionMode)
		}
		if !targets[p.Target] {
			bad(field+".target", "no target named %q in targets", p.Target)
		}
		validateTriggers(field+".triggers", p.Triggers, bad)
	}
}

func validateTriggers(field string, t Triggers, bad func(field, format string, args ...any)) {
	if len(t.Push) > 3 {
		bad(field+".push", "at most 3 push filters, got %d", len(t.Push))
	}
	if len(t.PullRequest) > 3 {
		bad(field+".pullRequest", "at most 3 pullRequest filters, got %d", len(t.PullRequest))
	}
	for i, f := range t.Push {
		pf := fmt.Sprintf("%s.push[%d]", field, i)
		if f.Branches == nil && f.Tags == nil {
			bad(pf, "set branches or tags")
		}
		if f.Tags != nil && f.FilePaths != nil && f.Branches == nil {
			bad(pf+".filePaths", "filePaths apply to branch pushes; a tag push has no changed files")
		}
		validateCriteria(pf+".branches", f.Branches, bad)
		validateCriteria(pf+".tags", f.Tags, bad)
		validateCriteria(pf+".filePaths", f.FilePaths, bad)
	}
	for i, f := range t.PullRequest {
		pf := fmt.Sprintf("%s.pullRequest[%d]", field, i)
		for j, e := range f.Events {
			if e != PROpen && e != PRUpdated && e != PRClosed {
				bad(fmt.Sprintf("%s.events[%d]", pf, j), "want OPEN, UPDATED or CLOSED, got %q", e)
			}
		}
		validateCriteria(pf+".branches", f.Branches, bad)
		validateCriteria(pf+".sourceBranches", f.SourceBranches, bad)
		validateCriteria(pf+".filePaths", f.FilePaths, bad)
	}
}

func validateCriteria(field string, c *Criteria, bad func(field, format string, args ...any)) {
	if c == nil {
		return
	}
	if len(c.Includes) == 0 && len(c.Excludes) == 0 {
		bad(field, "set includes or excludes")
	}
	for kind, patterns := range map[string][]string{"includes": c.Includes, "excludes": c.Excludes} {
		if len(patterns) > 8 {
			bad(field+"."+kind, "at most 8 patterns, got %d", len(patterns))
		}
		for i, p := range patterns {
			if len(p) < 1 || len(p) > 255 {
				bad(fmt.Sprintf("%s.%s[%d]", field, kind, i), "patterns are 1-255 characters")
			} else if err := checkGlob(p); err != nil {
				bad(fmt.Sprintf("%s.%s[%d]", field, kind, i), "%v", err)
			}
		}
	}
}

func validateTarget(field string, t *Target, bad func(field, format string, args ...any)) {
	sections := 0
	for _, set := range []bool{t.HTTP != nil, t.Exec != nil, t.NATS != nil, t.AMQP != nil} {
		if set {
			sections++
		}
	}
	want := map[string]bool{TargetHTTP: t.HTTP != nil, TargetExec: t.Exec != nil, TargetNATS: t.NATS != nil, TargetAMQP: t.AMQP != nil}
	set, known := want[t.Type]
	switch {
	case !known:
		bad(field+".type", "want http, exec, nats or amqp, got %q", t.Type)
		return
	case !set || sections != 1:
		bad(field+"."+t.Type, "a %s target needs exactly its %q section", t.Type, t.Type)
		return
	}
	if t.Concurrency < 1 || t.Concurrency > 1024 {
		bad(field+".concurrency", "must be between 1 and 1024, got %d", t.Concurrency)
	}
	validateRetry(field+".retry", t.Retry, bad)
	switch t.Type {
	case TargetHTTP:
		validateHTTPTarget(field+".http", t.HTTP, bad)
	case TargetExec:
		validateExecTarget(field+".exec", t.Exec, bad)
	case TargetNATS:
		validateURL(field+".nats.url", t.NATS.URL, []string{"nats", "tls"}, bad)
		if t.NATS.Subject == "" || strings.ContainsAny(t.NATS.Subject, " *>") {
			bad(field+".nats.subject", "want a literal subject such as ci.forgelink, got %q", t.NATS.Subject)
		}
		checkFile(field+".nats.credentialsFile", t.NATS.CredentialsFile, bad)
	case TargetAMQP:
		validateAMQPTarget(field+".amqp", t.AMQP, bad)
	}
}

func validateRetry(field string, r Retry, bad func(field, format string, args ...any)) {
	if r.InitialInterval < 10*time.Millisecond || r.MaxInterval < r.InitialInterval {
		bad(field, "want 10ms <= initialInterval <= maxInterval, got %s and %s", r.InitialInterval, r.MaxInterval)
	}
	if r.MaxAttempts < 1 {
		bad(field+".maxAttempts", "must be at least 1, got %d", r.MaxAttempts)
	}
	if r.MaxAge < time.Second {
		bad(field+".maxAge", "must be at least 1s, got %s", r.MaxAge)
	}
}

func validateHTTPTarget(field string, h *HTTPTarget, bad func(field, format string, args ...any)) {
	validateURL(field+".url", h.URL, []string{"http", "https"}, bad)
	switch h.Format {
	case "forgelink", "cloudevents-binary", "cloudevents-structured":
	default:
		bad(field+".format", "want forgelink, cloudevents-binary or cloudevents-structured, got %q", h.Format)
	}
	checkFile(field+".secretFile", h.SecretFile, bad)
	if h.BodyTemplate != "" {
		if _, err := notify.ParseTemplate(h.BodyTemplate); err != nil {
			bad(field+".bodyTemplate", "%v", err)
		}
		if h.Format != "forgelink" {
			bad(field+".bodyTemplate", "a templated body replaces the %s format; use one or the other", h.Format)
		}
	}
	if h.Timeout < 0 {
		bad(field+".timeout", "must not be negative")
	}
	checkFile(field+".tls.caFile", h.TLS.CAFile, bad)
	if (h.TLS.CertFile == "") != (h.TLS.KeyFile == "") {
		bad(field+".tls", "set certFile and keyFile together")
	}
	checkFile(field+".tls.certFile", h.TLS.CertFile, bad)
	checkFile(field+".tls.keyFile", h.TLS.KeyFile, bad)
}

func validateExecTarget(field string, e *ExecTarget, bad func(field, format string, args ...any)) {
	if len(e.Command) == 0 || e.Command[0] == "" {
		bad(field+".command", "want the program and its arguments as a list, e.g. [/usr/local/bin/build, --ci]")
	} else if len(e.Command) == 1 && strings.ContainsAny(e.Command[0], " |;&$") {
		bad(field+".command", "%q looks like a shell command line: give argv as a list (run a shell explicitly if you need one)", e.Command[0])
	}
	if e.Dir != "" {
		if fi, err := os.Stat(e.Dir); err != nil || !fi.IsDir() {
			bad(field+".dir", "%q is not a directory", e.Dir)
		}
	}
}

func validateAMQPTarget(field string, a *AMQPTarget, bad func(field, format string, args ...any)) {
	switch {
	case a.URL != "" && a.URLFile != "":
		bad(field, "set url or urlFile, not both")
	case a.URLFile != "":
		checkFile(field+".urlFile", a.URLFile, bad)
	default:
		validateURL(field+".url", a.URL, []string{"amqp", "amqps"}, bad)
	}
	if a.Exchange == "" && a.RoutingKey == "" {
		bad(field+".routingKey", "set a routingKey (the queue name for the default exchange) or an exchange")
	}
}

func validateURL(field, raw string, schemes []string, bad func(field, format string, args ...any)) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		bad(field, "want an absolute URL (%s), got %q", strings.Join(schemes, ", "), redactURL(raw))
		return
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return
		}
	}
	bad(field, "want scheme %s, got %q", strings.Join(schemes, " or "), u.Scheme)
}

// redactURL keeps passwords out of error messages.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(unparsable)"
}

func checkFile(field, path string, bad func(field, format string, args ...any)) {
	if path == "" {
		return
	}
	if _, err := os.ReadFile(path); err != nil {
		bad(field, "%v", err)
	}
}
