package route

import (
	"fmt"

	"github.com/forgelink/forgelink/providers"
)

// PipelineVerdict says why a pipeline was or was not triggered by an event.
type PipelineVerdict struct {
	Pipeline  string `json:"pipeline"`
	Target    string `json:"target"`
	Triggered bool   `json:"triggered"`
	// Reason is set when the event holds nothing pipelines evaluate.
	Reason   string           `json:"reason,omitempty"`
	Subjects []SubjectVerdict `json:"subjects,omitempty"`
}

// SubjectVerdict is the verdict on one ref update of a push event, or on
// the pull request of a pull request event.
type SubjectVerdict struct {
	// Subject: "branch main", "tag v1.2", "branch old (deleted)",
	// "pull request #7 merged: feature/x -> main".
	Subject   string `json:"subject"`
	Triggered bool   `json:"triggered"`
	// FilesIncomplete: the pipeline was triggered only because the
	// changed-file list was incomplete.
	FilesIncomplete bool `json:"filesIncomplete,omitempty"`
	// Reason is set when no filter of the pipeline applies to the subject.
	Reason  string          `json:"reason,omitempty"`
	Filters []FilterVerdict `json:"filters,omitempty"`
}

// FilterVerdict is one filter's verdict: all its criteria must match.
type FilterVerdict struct {
	// Filter: push[i] or pullRequest[i] as in the configuration, or
	// default for a pipeline without trigger filters.
	Filter  string `json:"filter"`
	Matched bool   `json:"matched"`
	// Reason is set when the filter does not apply to the subject, such
	// as a tag push and a filter without tags.
	Reason   string             `json:"reason,omitempty"`
	Criteria []CriterionVerdict `json:"criteria,omitempty"`
}

// CriterionVerdict is one criterion's verdict.
type CriterionVerdict struct {
	// Criterion: events, branches, sourceBranches, tags or filePaths.
	Criterion string `json:"criterion"`
	// Value is what was evaluated: a branch, tag or trigger event; for
	// filePaths, the changed file that decided, if one did.
	Value    string `json:"value,omitempty"`
	Matched  bool   `json:"matched"`
	Decision string `json:"decision"` // which pattern decided, in words
	// Files describes the changed-file list of a filePaths criterion.
	Files *FilesVerdict `json:"files,omitempty"`
}

// FilesVerdict is the changed-file list a filePaths criterion evaluated.
type FilesVerdict struct {
	Listed   int  `json:"listed"`
	Complete bool `json:"complete"` // false: the provider truncated the list, or sent none
}

// Explain returns, for every pipeline on connection connID and the event's
// repository (other repositories' pipelines on the connection are left
// out), each filter's verdict, in configuration order. Unlike Route, it
// evaluates every filter and every criterion.
func (r *Router) Explain(connID string, ev *providers.Event) []PipelineVerdict {
	ps := r.pipelines(connID, ev)
	out := make([]PipelineVerdict, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.explain(ev))
	}
	return out
}

func (p *pipeline) explain(ev *providers.Event) PipelineVerdict {
	v := PipelineVerdict{Pipeline: p.cfg.Name, Target: p.cfg.Target}
	switch {
	case ev.Kind == providers.KindPush && len(ev.Pushes) == 0:
		v.Reason = "push event without ref updates"
	case ev.Kind == providers.KindPush:
		for i := range ev.Pushes {
			push := &ev.Pushes[i]
			v.Subjects = append(v.Subjects, explainSubject(pushSubject(push), func(visit visitFunc) subjectResult {
				return p.evalPush(push, visit)
			}))
		}
	case ev.Kind == providers.KindPullRequest && ev.PullRequest == nil:
		v.Reason = "pull request event without a pull request"
	case ev.Kind == providers.KindPullRequest:
		pr := ev.PullRequest
		v.Subjects = append(v.Subjects, explainSubject(prSubject(pr), func(visit visitFunc) subjectResult {
			return p.evalPullRequest(pr, visit)
		}))
	default:
		v.Reason = fmt.Sprintf("%s event; only pushes and pull requests trigger pipelines", ev.Kind)
	}
	for _, s := range v.Subjects {
		v.Triggered = v.Triggered || s.Triggered
	}
	return v
}

func explainSubject(subject string, eval func(visitFunc) subjectResult) SubjectVerdict {
	v := SubjectVerdict{Subject: subject}
	s := eval(func(kind string, i int, r filterResult) {
		v.Filters = append(v.Filters, r.verdict(filterName(kind, i)))
	})
	v.Triggered, v.FilesIncomplete, v.Reason = s.matched, s.matched && s.incomplete, s.reason
	return v
}

func filterName(kind string, i int) string {
	if kind == "default" {
		return kind
	}
	return fmt.Sprintf("%s[%d]", kind, i)
}

func pushSubject(push *providers.Push) string {
	s := push.RefType + " " + push.RefName
	if push.RefType != providers.RefBranch && push.RefType != providers.RefTag {
		s = "ref " + push.Ref
	}
	if push.Deleted {
		s += " (deleted)"
	}
	return s
}

func prSubject(pr *providers.PullRequest) string {
	action := pr.Action
	if pr.RawAction != "" && pr.RawAction != pr.Action {
		action += " (" + pr.RawAction + ")"
	}
	return fmt.Sprintf("pull request #%d %s: %s -> %s", pr.Number, action, pr.SourceBranch, pr.DestinationBranch)
}

func (r *filterResult) verdict(name string) FilterVerdict {
	v := FilterVerdict{Filter: name, Matched: r.matched(), Reason: r.skip}
	for _, o := range r.outcomes[:r.n] {
		v.Criteria = append(v.Criteria, o.verdict())
	}
	return v
}

func (o *outcome) verdict() CriterionVerdict {
	v := CriterionVerdict{Criterion: o.criterion, Value: o.value, Matched: o.matched, Decision: o.decision()}
	if o.files {
		v.Files = &FilesVerdict{Listed: o.listed, Complete: o.complete}
	}
	return v
}

func (o *outcome) decision() string {
	switch o.rule {
	case ruleInclude:
		return fmt.Sprintf("include %q matched", o.pattern)
	case ruleNoIncludes:
		return "no includes; no exclude matched"
	case ruleExclude:
		if o.files {
			return fmt.Sprintf("exclude %q matched: excluded; no other changed file matched; list complete", o.pattern)
		}
		return fmt.Sprintf("exclude %q matched: excluded", o.pattern)
	case ruleNoInclude:
		switch {
		case o.files && o.listed == 0:
			return "no changed files; list complete"
		case o.files:
			return "no changed file matched filePaths includes; list complete"
		}
		return "no include matched"
	case ruleFilesIncomplete:
		return "no listed file matched filePaths, but the list is incomplete: matched, files incomplete"
	case ruleNoFileList:
		return "pull request events list no changed files: matched, files incomplete"
	case ruleAllEvents:
		return "no events listed: all match"
	case ruleEventListed:
		return "listed in " + o.pattern
	case ruleEventNotListed:
		return "not listed in " + o.pattern
	case ruleDefault:
		return "no trigger filters: every branch push triggers"
	}
	return ""
}
