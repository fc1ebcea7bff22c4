// Package route decides which pipelines a recorded event triggers, with the
// semantics of CodePipeline V2 git triggers, and explains why.
//
// A pipeline applies to an event when its connection ARN names the
// event's connection and its repository equals the event's, ignoring case
// (GitHub and GitLab names are case-insensitive). Its filters are then
// ORed; the criteria of one filter are ANDed; a criterion passes a value
// that matches one of its includes (or it has none) and none of its
// excludes, so an exclude always wins. Patterns match short names (main,
// v1.2), never refs/heads/main.
//
// Pushes: a branch push is checked against branches and, when set,
// filePaths (at least one changed file, added, modified or removed, must
// pass); a tag push against tags only. So a filter with only tags never
// matches a branch push, and one without tags never matches a tag push.
// A branch deletion triggers only a filter with branchDeletions, which
// then ignores filePaths; tag deletions never trigger. A pipeline without
// any filter is triggered by every push to a branch, but not by tags,
// deletions or pull requests.
//
// Pull requests: OPEN is opened (or reopened), UPDATED is updated, CLOSED
// is closed or merged; other actions never trigger, and no events listed
// means all three. branches are matched against the destination branch,
// as CodePipeline does, and sourceBranches against the source branch.
//
// Incomplete file lists: when the provider truncated a push's changed
// files (Push.FilesIncomplete) and no listed file passes filePaths, the
// filter matches anyway and the match is marked FilesIncomplete: a
// missed build is worse than a spare one. Routing asks no provider
// anything; the delivery engine fetches the complete list before the
// delivery goes out and re-evaluates the pipeline on it (MatchesFiles).
// Pull request events carry no file list at all, so a pull request
// filter with filePaths always matches that way, until the engine fetched
// the pull request's files (PullRequest.Files, MatchesPullRequestFiles).
package route

import (
	"errors"
	"slices"
	"strings"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/providers"
)

// Router matches events to pipelines. It is built once per configuration
// (a reload builds a new one) and is safe for concurrent use.
type Router struct {
	byRepo map[repoKey][]*pipeline // in configuration order
}

// repoKey is a connection id and a repository, both lower case.
type repoKey struct{ conn, repo string }

// Match is one pipeline triggered by one push or pull request of an event.
// It points into the event and the router: treat it as read-only.
type Match struct {
	Pipeline    *config.Pipeline
	Push        *providers.Push // the ref update that matched (a Bitbucket event may carry several)
	PullRequest *providers.PullRequest
	// FilesIncomplete: filePaths were evaluated on a list the provider
	// truncated, and the pipeline matched only because of that.
	FilesIncomplete bool
	// Branch is what SUPERSEDED mode groups by: the pushed branch, or the
	// pull request's source branch. It is empty for a tag push, so a
	// pipeline's tag pushes form one group.
	Branch string
}

// New compiles the triggers of every pipeline. The configuration was
// validated already; what still fails to compile is an error.
func New(pipelines []config.Pipeline) (*Router, error) {
	r := &Router{byRepo: map[repoKey][]*pipeline{}}
	var errs []error
	for _, cfg := range pipelines {
		p, err := compilePipeline(cfg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		k := key(p.connID, cfg.Repository)
		r.byRepo[k] = append(r.byRepo[k], p)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

// Connections lists the ids of the connections the pipelines name, sorted.
func (r *Router) Connections() []string {
	var ids []string
	for k := range r.byRepo {
		ids = append(ids, k.conn)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// Repositories lists the repositories the pipelines of connection connID
// name, sorted and in lower case (repository names compare without case).
func (r *Router) Repositories(connID string) []string {
	var repos []string
	for k := range r.byRepo {
		if k.conn == strings.ToLower(connID) {
			repos = append(repos, k.repo)
		}
	}
	slices.Sort(repos)
	return repos
}

func key(connID, repo string) repoKey {
	return repoKey{strings.ToLower(connID), strings.ToLower(repo)}
}

// pipelines returns the pipelines of a connection and an event's
// repository.
func (r *Router) pipelines(connID string, ev *providers.Event) []*pipeline {
	return r.byRepo[key(connID, ev.Repository.FullName)]
}

// Route returns the matches of a recorded event of connection connID: one
// per pipeline and push (or pull request) that triggers it, in
// configuration order, then in the event's push order.
func (r *Router) Route(connID string, ev *providers.Event) []Match {
	var out []Match
	for _, p := range r.pipelines(connID, ev) {
		switch {
		case ev.Kind == providers.KindPush:
			for i := range ev.Pushes {
				push := &ev.Pushes[i]
				if s := p.evalPush(push, nil); s.matched {
					out = append(out, Match{Pipeline: p.cfg, Push: push, FilesIncomplete: s.incomplete, Branch: pushBranch(push)})
				}
			}
		case ev.Kind == providers.KindPullRequest && ev.PullRequest != nil:
			pr := ev.PullRequest
			if s := p.evalPullRequest(pr, nil); s.matched {
				out = append(out, Match{Pipeline: p.cfg, PullRequest: pr, FilesIncomplete: s.incomplete, Branch: pr.SourceBranch})
			}
		}
	}
	return out
}

func pushBranch(push *providers.Push) string {
	if push.RefType == providers.RefBranch {
		return push.RefName
	}
	return ""
}

// MatchesFiles re-evaluates pipeline's filters on push as if files were
// its complete changed-file list (fetched through the provider's compare
// API after the provider truncated the payload's), under this router's
// configuration. ok is false when no pipeline of that name applies to
// connection connID and repository any more (a reload removed or moved
// it): then there is nothing to evaluate.
func (r *Router) MatchesFiles(connID, repository, pipeline string, push *providers.Push, files providers.ChangedFiles) (matched, ok bool) {
	for _, p := range r.byRepo[key(connID, repository)] {
		if p.cfg.Name != pipeline {
			continue
		}
		complete := *push
		complete.Files, complete.FilesIncomplete = files, false
		return p.evalPush(&complete, nil).matched, true
	}
	return false, false
}

// MatchesPullRequestFiles re-evaluates pipeline's filters on pr as if
// files were its complete changed-file list (fetched through the
// provider's pull request API), under this router's configuration; ok as
// for MatchesFiles.
func (r *Router) MatchesPullRequestFiles(connID, repository, pipeline string, pr *providers.PullRequest, files providers.ChangedFiles) (matched, ok bool) {
	for _, p := range r.byRepo[key(connID, repository)] {
		if p.cfg.Name != pipeline {
			continue
		}
		complete := *pr
		complete.Files = &files
		return p.evalPullRequest(&complete, nil).matched, true
	}
	return false, false
}
