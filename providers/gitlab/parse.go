package gitlab

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/store"
)

// zeroSHA is the before of a created ref and the after of a deleted one.
const zeroSHA = "0000000000000000000000000000000000000000"

// Generic hook names: integrations send Service Hook, instance system
// hooks System Hook, whatever the event; the body's object_kind tells it.
const (
	eventSystemHook  = "System Hook"
	eventServiceHook = "Service Hook"
)

// Parse normalises a verified delivery. X-Gitlab-Event picks the payload
// type, or for the generic System Hook and Service Hook the body's
// object_kind. Pushes, tag pushes and merge requests are decoded into lean
// structs of the members forgelink uses (payload.go), so only those members
// can make a delivery malformed; any other hook is KindOther with its
// project read leniently. GitLab has no ping event (its "Test" button sends
// a real push).
func (w Webhooks) Parse(h http.Header, body []byte) (providers.Event, error) {
	ev := providers.Event{
		Provider:   store.ProviderGitLab,
		DeliveryID: w.DeliveryID(h),
		RawKind:    h.Get(headerEvent),
	}
	if ev.RawKind == "" {
		return providers.Event{}, fmt.Errorf("%w: no %s header", providers.ErrMalformed, headerEvent)
	}
	var err error
	switch kindOf(ev.RawKind, body) {
	case gitlab.EventTypePush, gitlab.EventTypeTagPush:
		err = parsePush(&ev, body)
	case gitlab.EventTypeMergeRequest:
		err = parseMergeRequest(&ev, body)
	default:
		err = parseOther(&ev, body)
	}
	if err != nil {
		return providers.Event{}, fmt.Errorf("%w: parse %s: %w", providers.ErrMalformed, ev.RawKind, err)
	}
	return ev, nil
}

// kindOf returns the hook type of a delivery: its header, or for a generic
// hook the specific type its object_kind (else event_name) names.
func kindOf(header string, body []byte) gitlab.EventType {
	if header != eventSystemHook && header != eventServiceHook {
		return gitlab.EventType(header)
	}
	var g generic
	if json.Unmarshal(body, &g) != nil {
		return gitlab.EventType(header) // parseOther judges the body
	}
	switch cmp.Or(g.ObjectKind, g.EventName) {
	case "push":
		return gitlab.EventTypePush
	case "tag_push":
		return gitlab.EventTypeTagPush
	case "merge_request":
		return gitlab.EventTypeMergeRequest
	}
	return gitlab.EventType(header)
}

func parsePush(ev *providers.Event, body []byte) error {
	var p pushPayload
	if err := decode(body, &p); err != nil {
		return err
	}
	return setPush(ev, &p)
}

func setPush(ev *providers.Event, p *pushPayload) error {
	if p.Ref == "" {
		return errors.New("no ref")
	}
	ev.Kind = providers.KindPush
	ev.Repository = repository(&p.Project)
	ev.Pushes = []providers.Push{newPush(p)}
	return nil
}

func newPush(p *pushPayload) providers.Push {
	commits := make([]providers.Commit, len(p.Commits))
	for i := range p.Commits {
		commits[i] = p.Commits[i].Normalise()
	}
	refType, refName := splitRef(p.Ref)
	// GitLab sends at most the newest 20 commits and counts all of them in
	// total_commits_count; a payload without the count (0) is taken as whole.
	total := max(int(p.TotalCommitsCount), len(commits))
	truncated := total > len(commits)
	return providers.Push{
		Ref:     p.Ref,
		RefType: refType,
		RefName: refName,
		Before:  p.Before,
		After:   p.After,
		Created: p.Before == zeroSHA,
		Deleted: p.After == zeroSHA,
		// Forced stays false: GitLab's payload does not say, and telling
		// needs the repository (is before an ancestor of after?).
		Forced:           false,
		HeadCommit:       headCommit(commits, p.After, p.CheckoutSHA),
		Commits:          commits,
		TotalCommits:     total,
		CommitsTruncated: truncated,
		Files:            changedFiles(commits),
		FilesIncomplete:  truncated,
	}
}

func splitRef(ref string) (refType, name string) {
	if name, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
		return providers.RefTag, name
	}
	return providers.RefBranch, strings.TrimPrefix(ref, "refs/heads/")
}

// headCommit returns the commit the ref now points to: the one whose id is
// after (or checkout_sha, which differs for annotated tags), else the
// newest carried, as GitLab lists commits oldest first.
func headCommit(commits []providers.Commit, after, checkoutSHA string) *providers.Commit {
	if len(commits) == 0 {
		return nil
	}
	i := slices.IndexFunc(commits, func(c providers.Commit) bool {
		return c.ID == after || c.ID == checkoutSHA
	})
	if i < 0 {
		i = len(commits) - 1
	}
	head := commits[i]
	return &head
}

// changedFiles is the union of the commits' file lists, per category.
func changedFiles(commits []providers.Commit) providers.ChangedFiles {
	var f providers.ChangedFiles
	for _, c := range commits {
		f.Added = append(f.Added, c.Added...)
		f.Modified = append(f.Modified, c.Modified...)
		f.Removed = append(f.Removed, c.Removed...)
	}
	return providers.ChangedFiles{
		Added:    sortedSet(f.Added),
		Modified: sortedSet(f.Modified),
		Removed:  sortedSet(f.Removed),
	}
}

// sortedSet sorts s in place and drops duplicates.
func sortedSet(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

func parseMergeRequest(ev *providers.Event, body []byte) error {
	var p mergePayload
	if err := decode(body, &p); err != nil {
		return err
	}
	a := &p.ObjectAttributes
	if a.IID == 0 {
		return errors.New("no object_attributes.iid")
	}
	ev.Kind = providers.KindPullRequest
	ev.Repository = repository(&p.Project)
	ev.PullRequest = &providers.PullRequest{
		Action:            mergeAction(a.Action, a.OldRev),
		RawAction:         a.Action,
		Number:            int(a.IID), // iid is the number users see; id is global
		Title:             a.Title,
		URL:               a.URL,
		SourceBranch:      a.SourceBranch,
		DestinationBranch: a.TargetBranch,
		HeadSHA:           a.LastCommit.ID,
		SourceRepository:  sourceRepository(a),
	}
	return nil
}

func mergeAction(action, oldrev string) string {
	switch action {
	case "open", "reopen":
		return providers.PROpened
	case "update":
		// oldrev is present only when the source branch got new commits,
		// not for title, label or description edits.
		if oldrev != "" {
			return providers.PRUpdated
		}
		return providers.PROther
	case "close":
		return providers.PRClosed
	case "merge":
		return providers.PRMerged
	}
	return providers.PROther // approved, unapproved, approval, ...
}

// sourceRepository names the source project of a merge request from a fork.
func sourceRepository(a *mergeAttributes) string {
	if a.SourceProjectID == a.TargetProjectID || a.Source == nil {
		return ""
	}
	return a.Source.PathWithNamespace
}

// parseOther reads the project of any other hook. Their payloads vary, so
// a field of an unexpected type is skipped; a body that is not JSON is
// still malformed.
func parseOther(ev *providers.Event, body []byte) error {
	var p otherPayload
	err := json.Unmarshal(body, &p)
	var typeErr *json.UnmarshalTypeError
	if err != nil && !errors.As(err, &typeErr) {
		return providers.DescribeJSON(err)
	}
	ev.Kind = providers.KindOther
	ev.Repository = repository(&p.Project)
	return nil
}

func repository(p *project) providers.Repository {
	return providers.Repository{
		FullName:      p.PathWithNamespace,
		CloneURLHTTP:  p.GitHTTPURL,
		CloneURLSSH:   p.GitSSHURL,
		HTMLURL:       p.WebURL,
		DefaultBranch: p.DefaultBranch,
	}
}
