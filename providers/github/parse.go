package github

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	gh "github.com/google/go-github/v60/github"

	"github.com/forgelink/forgelink/providers"
)

const (
	// maxPayloadCommits is the most commits a push webhook carries; GitHub
	// documents "a maximum of 2048 commits" (the limit of 20 belongs to
	// the Events API, not to webhooks).
	maxPayloadCommits = 2048
	// maxCommitFiles is the most changed paths GitHub reports for one
	// commit: its webhook schema says "a maximum of 3000 changed files
	// will be reported per commit" on each of added, modified and removed.
	// Comparing the three lists' total with it errs towards consulting
	// the compare API, whichever way the cap applies.
	maxCommitFiles = 3000
)

// Parse normalises a verified delivery. The kinds forgelink routes or acts
// on (push, pull_request, installation, installation_repositories) are
// decoded into lean structs holding exactly the members forgelink uses
// (lean.go), so only those members can make a delivery malformed; every
// other kind, ping included, is recorded as it is with its repository
// read leniently. A genuine delivery is thus never refused for a member
// forgelink does not read, whatever its shape (GitHub's own examples have
// check_run app.created_at as "2018-04-25 20:42:10" and package metadata
// as []).
func (w Webhooks) Parse(h http.Header, body []byte) (providers.Event, error) {
	name := h.Get(gh.EventTypeHeader)
	if name == "" {
		return providers.Event{}, fmt.Errorf("%w: no %s header", providers.ErrMalformed, gh.EventTypeHeader)
	}
	ev := providers.Event{
		Provider:   Provider,
		DeliveryID: w.DeliveryID(h),
		Kind:       providers.KindOther,
		RawKind:    name,
	}
	var err error
	switch name {
	case "push":
		err = parsePush(&ev, body)
	case "pull_request":
		err = parsePullRequest(&ev, body)
	case "installation", "installation_repositories":
		err = parseInstallation(&ev, body)
	case "ping":
		ev.Kind = providers.KindPing
		ev.Repository, err = otherRepository(body)
	default:
		ev.Repository, err = otherRepository(body)
	}
	if err != nil {
		return providers.Event{}, fmt.Errorf("%w: parse %s: %w", providers.ErrMalformed, name, err)
	}
	return ev, nil
}

// InstallationID returns the GitHub App installation a delivery belongs to,
// 0 when it carries none (repository and organization webhooks). It decodes
// nothing else, so deliveries can be attributed before verification.
func InstallationID(body []byte) (int64, error) {
	var p struct {
		Installation struct {
			ID int64 `json:"id"`
		} `json:"installation"`
	}
	if err := unmarshalObject(body, &p); err != nil {
		return 0, fmt.Errorf("%w: installation id: %w", providers.ErrMalformed, err)
	}
	return p.Installation.ID, nil
}

// InstallationID is the package function InstallationID, for callers that
// hold Webhooks behind an interface.
func (Webhooks) InstallationID(body []byte) (int64, error) {
	return InstallationID(body)
}

func parsePush(ev *providers.Event, body []byte) error {
	var p pushPayload
	if err := unmarshalObject(body, &p); err != nil {
		return err
	}
	ev.Kind = providers.KindPush
	ev.Repository = p.Repository.normalise()
	ev.Pushes = []providers.Push{push(&p)}
	return nil
}

func parsePullRequest(ev *providers.Event, body []byte) error {
	var p pullRequestPayload
	if err := unmarshalObject(body, &p); err != nil {
		return err
	}
	ev.Kind = providers.KindPullRequest
	ev.Repository = p.Repository.normalise()
	ev.PullRequest = pullRequest(&p)
	return nil
}

func parseInstallation(ev *providers.Event, body []byte) error {
	var p installationPayload
	if err := unmarshalObject(body, &p); err != nil {
		return err
	}
	ev.Kind = providers.KindInstallation
	ev.Installation = &providers.Installation{
		ID:      p.Installation.ID,
		Action:  installAction(p.Action),
		Account: p.Installation.Account.Login,
	}
	return nil
}

// otherRepository reads the top-level repository of an event forgelink
// records without routing. A repository of an odd shape is left out
// rather than refusing the delivery; a body that is no JSON object is
// still malformed.
func otherRepository(body []byte) (providers.Repository, error) {
	var p struct {
		Repository repository `json:"repository"`
	}
	err := unmarshalObject(body, &p)
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typ):
		return providers.Repository{}, nil
	case err != nil:
		return providers.Repository{}, err
	}
	return p.Repository.normalise(), nil
}

var errNotObject = errors.New("not a JSON object")

// unmarshalObject is json.Unmarshal for payloads, which are JSON objects,
// with errors that do not quote the body (providers.JSONError).
func unmarshalObject(body []byte, v any) error {
	b := bytes.TrimLeft(body, " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		return errNotObject
	}
	return providers.DescribeJSON(json.Unmarshal(body, v))
}

func push(p *pushPayload) providers.Push {
	refType, refName := splitRef(p.Ref)
	commits := make([]providers.Commit, 0, len(p.Commits))
	for _, c := range p.Commits {
		if c != nil {
			commits = append(commits, c.Normalise())
		}
	}
	// GitHub gives no commit count: a full payload may have been cut.
	truncated := len(p.Commits) >= maxPayloadCommits
	files, filesCapped := changedFiles(commits)
	var head *providers.Commit
	if p.HeadCommit != nil { // null when the ref was deleted
		c := p.HeadCommit.Normalise()
		head = &c
	}
	return providers.Push{
		Ref:              p.Ref,
		RefType:          refType,
		RefName:          refName,
		Before:           p.Before,
		After:            p.After,
		Created:          p.Created,
		Deleted:          p.Deleted,
		Forced:           p.Forced,
		HeadCommit:       head,
		Commits:          commits,
		TotalCommits:     len(commits),
		CommitsTruncated: truncated,
		Files:            files,
		FilesIncomplete:  truncated || filesCapped,
	}
}

// splitRef returns the ref type and short name of a full ref; other refs
// keep their full name and have no type.
func splitRef(ref string) (refType, name string) {
	if name, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
		return providers.RefBranch, name
	}
	if name, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
		return providers.RefTag, name
	}
	return "", ref
}

// changedFiles returns the union of the commits' file lists, and whether a
// commit lists as many paths as GitHub reports for one commit, so that
// some may be missing.
func changedFiles(commits []providers.Commit) (files providers.ChangedFiles, capped bool) {
	for _, c := range commits {
		// append copies: sorting below must not reorder the commit's lists.
		files.Added = append(files.Added, c.Added...)
		files.Modified = append(files.Modified, c.Modified...)
		files.Removed = append(files.Removed, c.Removed...)
		capped = capped || len(c.Added)+len(c.Modified)+len(c.Removed) >= maxCommitFiles
	}
	files.Added = sortedSet(files.Added)
	files.Modified = sortedSet(files.Modified)
	files.Removed = sortedSet(files.Removed)
	return files, capped
}

func sortedSet(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

func pullRequest(e *pullRequestPayload) *providers.PullRequest {
	pr := &e.PullRequest
	out := &providers.PullRequest{
		Action:            prAction(e.Action, pr.Merged),
		RawAction:         e.Action,
		Number:            e.Number,
		Title:             pr.Title,
		URL:               pr.HTMLURL,
		SourceBranch:      pr.Head.Ref,
		DestinationBranch: pr.Base.Ref,
		HeadSHA:           pr.Head.SHA,
	}
	// A fork whose repository was deleted has a null head repository.
	if src := pr.Head.Repo.FullName; src != "" && src != e.Repository.FullName {
		out.SourceRepository = src
	}
	return out
}

func prAction(action string, merged bool) string {
	switch action {
	case "opened", "reopened":
		return providers.PROpened
	case "synchronize":
		return providers.PRUpdated
	case "closed":
		if merged {
			return providers.PRMerged
		}
		return providers.PRClosed
	}
	return providers.PROther
}

// installAction maps GitHub's verbs to the lifecycle constants; created and
// deleted already match, and other actions (new_permissions_accepted,
// added, removed) pass through.
func installAction(action string) string {
	switch action {
	case "suspend":
		return providers.InstallSuspended
	case "unsuspend":
		return providers.InstallUnsuspended
	}
	return action
}
