package route

import (
	"errors"
	"fmt"
	"strings"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/glob"
)

// pipeline is a configured pipeline with its triggers compiled.
type pipeline struct {
	cfg    *config.Pipeline
	connID string
	push   []pushFilter
	pr     []prFilter
}

type pushFilter struct {
	branches, tags, files *criteria
	deletions             bool
}

type prFilter struct {
	events                   []string // config.PROpen...; empty: all
	branches, sources, files *criteria
}

// criteria are compiled include and exclude lists; nil when not set.
type criteria struct {
	includes, excludes []*glob.Pattern
}

// triggerEvent maps a normalised pull request action to its trigger
// event; other actions never trigger.
func triggerEvent(action string) (string, bool) {
	switch action {
	case providers.PROpened:
		return config.PROpen, true
	case providers.PRUpdated:
		return config.PRUpdated, true
	case providers.PRClosed, providers.PRMerged:
		return config.PRClosed, true
	}
	return "", false
}

func compilePipeline(cfg config.Pipeline) (*pipeline, error) {
	c := compiler{pipeline: cfg.Name}
	p := &pipeline{cfg: &cfg, connID: c.connectionID(cfg.ConnectionArn)}
	for i, f := range cfg.Triggers.Push {
		field := fmt.Sprintf("triggers.push[%d]", i)
		p.push = append(p.push, pushFilter{
			branches:  c.criteria(field+".branches", f.Branches),
			tags:      c.criteria(field+".tags", f.Tags),
			files:     c.criteria(field+".filePaths", f.FilePaths),
			deletions: f.BranchDeletions,
		})
	}
	for i, f := range cfg.Triggers.PullRequest {
		field := fmt.Sprintf("triggers.pullRequest[%d]", i)
		c.events(field+".events", f.Events)
		p.pr = append(p.pr, prFilter{
			events:   f.Events,
			branches: c.criteria(field+".branches", f.Branches),
			sources:  c.criteria(field+".sourceBranches", f.SourceBranches),
			files:    c.criteria(field+".filePaths", f.FilePaths),
		})
	}
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// compiler collects every problem of a pipeline rather than the first.
type compiler struct {
	pipeline string
	errs     []error
}

func (c *compiler) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("pipeline %q: "+format, append([]any{c.pipeline}, args...)...))
}

// connectionID returns the last path segment of a connection ARN.
func (c *compiler) connectionID(arn string) string {
	_, id, ok := strings.Cut(arn, ":connection/")
	if !ok || id == "" || strings.Contains(id, "/") {
		c.fail("connectionArn %q names no connection", arn)
	}
	return id
}

func (c *compiler) events(field string, events []string) {
	for i, e := range events {
		if e != config.PROpen && e != config.PRUpdated && e != config.PRClosed {
			c.fail("%s[%d]: want OPEN, UPDATED or CLOSED, got %q", field, i, e)
		}
	}
}

func (c *compiler) criteria(field string, cc *config.Criteria) *criteria {
	if cc == nil {
		return nil
	}
	return &criteria{
		includes: c.patterns(field+".includes", cc.Includes),
		excludes: c.patterns(field+".excludes", cc.Excludes),
	}
}

func (c *compiler) patterns(field string, src []string) []*glob.Pattern {
	out := make([]*glob.Pattern, 0, len(src))
	for i, s := range src {
		p, err := glob.Compile(s)
		if err != nil {
			c.fail("%s[%d]: %w", field, i, err)
			continue
		}
		out = append(out, p)
	}
	return out
}

// subjectResult is a pipeline's verdict on one subject: a ref update or a
// pull request.
type subjectResult struct {
	reason     string // why no filter applies to the subject at all
	matched    bool
	incomplete bool // every matching filter relied on an incomplete file list
}

// visitFunc receives each evaluated filter: kind is "push", "pullRequest"
// or "default", i its index in the configuration.
type visitFunc func(kind string, i int, r filterResult)

// Reasons a pipeline does not evaluate a subject.
const (
	reasonOnlyPRFilters   = "push; the pipeline has only pullRequest filters"
	reasonNoPRFilters     = "pull request; the pipeline has only push filters"
	reasonDefaultNoPR     = "pull request; a pipeline without trigger filters is triggered by branch pushes only"
	reasonNotTriggerEvent = "pull request action is not opened, updated, closed or merged: it never triggers"
)

// evalPush evaluates the pipeline's filters on one ref update. With a nil
// visit it stops at the first filter that matches on a complete file list.
func (p *pipeline) evalPush(push *providers.Push, visit visitFunc) subjectResult {
	switch {
	case len(p.push) == 0 && len(p.pr) == 0:
		r := defaultFilter(push)
		if visit != nil {
			visit("default", 0, r)
		}
		return subjectResult{matched: r.matched()}
	case len(p.push) == 0:
		return subjectResult{reason: reasonOnlyPRFilters}
	}
	return evalFilters("push", len(p.push), visit, func(i int) filterResult {
		return p.push[i].eval(push, visit != nil)
	})
}

// evalPullRequest evaluates the pipeline's filters on a pull request event.
func (p *pipeline) evalPullRequest(pr *providers.PullRequest, visit visitFunc) subjectResult {
	event, ok := triggerEvent(pr.Action)
	switch {
	case !ok:
		return subjectResult{reason: reasonNotTriggerEvent}
	case len(p.pr) == 0 && len(p.push) == 0:
		return subjectResult{reason: reasonDefaultNoPR}
	case len(p.pr) == 0:
		return subjectResult{reason: reasonNoPRFilters}
	}
	return evalFilters("pullRequest", len(p.pr), visit, func(i int) filterResult {
		return p.pr[i].eval(pr, event, visit != nil)
	})
}

// evalFilters ORs n filters. A match on a complete file list beats one
// that relied on an incomplete list.
func evalFilters(kind string, n int, visit visitFunc, eval func(i int) filterResult) subjectResult {
	var s subjectResult
	for i := range n {
		r := eval(i)
		if visit != nil {
			visit(kind, i, r)
		}
		if !r.matched() {
			continue
		}
		s.incomplete = r.incomplete() && (s.incomplete || !s.matched)
		s.matched = true
		if !s.incomplete && visit == nil {
			break
		}
	}
	return s
}

// Reasons a filter does not apply to a ref update.
const (
	skipTagDeletion    = "tag deletion; deleted tags never trigger"
	skipNoTags         = "tag push; filter has no tags criterion"
	skipNoBranches     = "branch push; filter has no branches criterion"
	skipDeletion       = "branch deletion; branchDeletions not set"
	skipRefType        = "ref is neither a branch nor a tag"
	skipDefaultTag     = "tag push; a pipeline without trigger filters is triggered by branch pushes only"
	skipDefaultDeleted = "branch deletion; a pipeline without trigger filters ignores deletions"
)

// eval evaluates a push filter. Unless explain is set, it stops at the
// first criterion that fails.
func (f *pushFilter) eval(push *providers.Push, explain bool) filterResult {
	r := filterResult{explain: explain}
	switch {
	case push.RefType == providers.RefTag && push.Deleted:
		r.skip = skipTagDeletion
	case push.RefType == providers.RefTag && f.tags == nil:
		r.skip = skipNoTags
	case push.RefType == providers.RefTag:
		r.add(f.tags.name("tags", push.RefName))
	case push.RefType != providers.RefBranch:
		r.skip = skipRefType
	case f.branches == nil:
		r.skip = skipNoBranches
	case push.Deleted && !f.deletions:
		r.skip = skipDeletion
	default:
		r.add(f.branches.name("branches", push.RefName))
		if f.files != nil && !push.Deleted && r.more() {
			r.add(f.files.files(push.Files, !push.FilesIncomplete))
		}
	}
	return r
}

// defaultFilter is the trigger of a pipeline without filters.
func defaultFilter(push *providers.Push) filterResult {
	r := filterResult{}
	switch {
	case push.RefType != providers.RefBranch:
		r.skip = skipDefaultTag
	case push.Deleted:
		r.skip = skipDefaultDeleted
	default:
		r.add(outcome{criterion: "branches", value: push.RefName, matched: true, rule: ruleDefault})
	}
	return r
}

// eval evaluates a pull request filter on the trigger event the pull
// request's action maps to.
func (f *prFilter) eval(pr *providers.PullRequest, event string, explain bool) filterResult {
	r := filterResult{explain: explain}
	r.add(f.event(event))
	if f.branches != nil && r.more() {
		r.add(f.branches.name("branches", pr.DestinationBranch))
	}
	if f.sources != nil && r.more() {
		r.add(f.sources.name("sourceBranches", pr.SourceBranch))
	}
	switch {
	case f.files == nil || !r.more():
	case pr.Files != nil:
		// Fetched by the delivery engine: complete.
		r.add(f.files.files(*pr.Files, true))
	default:
		// Pull request events list no changed files.
		r.add(outcome{criterion: "filePaths", matched: true, rule: ruleNoFileList, files: true})
	}
	return r
}

func (f *prFilter) event(event string) outcome {
	o := outcome{criterion: "events", value: event, matched: true, rule: ruleAllEvents}
	if len(f.events) == 0 {
		return o
	}
	o.rule, o.pattern = ruleEventListed, strings.Join(f.events, ", ")
	for _, e := range f.events {
		if e == event {
			return o
		}
	}
	o.matched, o.rule = false, ruleEventNotListed
	return o
}

// filterResult is the verdict of one filter on one subject.
type filterResult struct {
	skip     string // why the filter does not apply to the subject
	explain  bool   // evaluate every criterion, even after one failed
	outcomes [4]outcome
	n        int
}

func (r *filterResult) add(o outcome) {
	r.outcomes[r.n] = o
	r.n++
}

func (r *filterResult) matched() bool {
	if r.skip != "" || r.n == 0 {
		return false
	}
	for _, o := range r.outcomes[:r.n] {
		if !o.matched {
			return false
		}
	}
	return true
}

// more reports whether the next criterion is worth evaluating.
func (r *filterResult) more() bool { return r.explain || r.matched() }

// incomplete reports whether the filter's match relied on an incomplete
// file list.
func (r *filterResult) incomplete() bool {
	for _, o := range r.outcomes[:r.n] {
		if o.rule == ruleFilesIncomplete || o.rule == ruleNoFileList {
			return true
		}
	}
	return false
}

// rule is what decided a criterion.
type rule uint8

const (
	ruleInclude         rule = iota // an include matched (pattern)
	ruleNoIncludes                  // no includes, and no exclude matched
	ruleExclude                     // an exclude matched (pattern)
	ruleNoInclude                   // no include matched
	ruleFilesIncomplete             // no listed file passed, but the list is incomplete: matched
	ruleNoFileList                  // no file list at all (pull requests): matched
	ruleAllEvents                   // no events listed: all match
	ruleEventListed                 // the event is listed (pattern: the list)
	ruleEventNotListed              // the event is not listed (pattern: the list)
	ruleDefault                     // no trigger filters: a branch push
)

// outcome is the verdict of one criterion, kept as data: Explain renders
// it, Route only reads matched.
type outcome struct {
	criterion string
	value     string // the name evaluated; for filePaths the file that decided
	matched   bool
	rule      rule
	pattern   string
	// files: a filePaths criterion, over listed files of which the
	// list holds all when complete.
	files    bool
	listed   int
	complete bool
}

// name evaluates a branch or tag name.
func (c *criteria) name(criterion, value string) outcome {
	o := outcome{criterion: criterion, value: value}
	o.matched, o.rule, o.pattern = c.decide(value)
	return o
}

// decide passes a value that matches an include (or there are none) and
// no exclude. Excludes are consulted only for included values: they are
// typically the broader, slower patterns ("**/*.md").
func (c *criteria) decide(value string) (bool, rule, string) {
	r, pattern := ruleNoIncludes, ""
	if len(c.includes) > 0 {
		r = ruleNoInclude
		for _, p := range c.includes {
			if p.Match(value) {
				r, pattern = ruleInclude, p.String()
				break
			}
		}
		if r == ruleNoInclude {
			return false, r, ""
		}
	}
	for _, p := range c.excludes {
		if p.Match(value) {
			return false, ruleExclude, p.String()
		}
	}
	return true, r, pattern
}

// files evaluates the changed files of a push: the criterion passes when
// one file does, or when none does but the list is incomplete.
func (c *criteria) files(changed providers.ChangedFiles, complete bool) outcome {
	lists := [...][]string{changed.Added, changed.Modified, changed.Removed}
	o := outcome{criterion: "filePaths", files: true, complete: complete, rule: ruleNoInclude}
	for _, l := range lists {
		o.listed += len(l)
	}
	for _, l := range lists {
		for _, f := range l {
			ok, r, pattern := c.decide(f)
			switch {
			case ok:
				o.value, o.matched, o.rule, o.pattern = f, true, r, pattern
				return o
			case r == ruleExclude && o.rule != ruleExclude:
				// Remembered to explain a push whose files were all excluded.
				o.value, o.rule, o.pattern = f, r, pattern
			}
		}
	}
	if !complete {
		o.value, o.matched, o.rule, o.pattern = "", true, ruleFilesIncomplete, ""
	}
	return o
}
