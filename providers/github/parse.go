package github

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	gh "github.com/google/go-github/v88/github"

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

// Parse normalises a verified delivery. Event types go-github does not know
// are decoded only for their repository.
func (w Webhooks) Parse(h http.Header, body []byte) (providers.Event, error) {
	name := h.Get(gh.EventTypeHeader)
	if name == "" {
		return providers.Event{}, fmt.Errorf("%w: no %s header", providers.ErrMalformed, gh.EventTypeHeader)
	}
	payload, err := decode(name, body)
	if err != nil {
		return providers.Event{}, fmt.Errorf("%w: parse %s: %w", providers.ErrMalformed, name, err)
	}
	ev := providers.Event{
		Provider:   Provider,
		DeliveryID: w.DeliveryID(h),
		Kind:       providers.KindOther,
		RawKind:    name,
		Repository: repositoryOf(payload),
	}
	switch p := payload.(type) {
	case *gh.PushEvent:
		ev.Kind = providers.KindPush
		ev.Pushes = []providers.Push{push(p)}
	case *gh.PullRequestEvent:
		ev.Kind = providers.KindPullRequest
		ev.PullRequest = pullRequest(p)
	case *gh.PingEvent:
		ev.Kind = providers.KindPing
	case *gh.InstallationEvent, *gh.InstallationRepositoriesEvent:
		ev.Kind = providers.KindInstallation
		ev.Installation = installation(p.(installationPayload))
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

// otherPayload is the part of an event go-github does not know that
// forgelink uses.
type otherPayload struct {
	Repo *gh.Repository `json:"repository"`
}

func (p *otherPayload) GetRepo() *gh.Repository { return p.Repo }

// decode decodes body once, into go-github's type for the event.
func decode(name string, body []byte) (any, error) {
	if !isObject(body) {
		return nil, errNotObject
	}
	payload, err := gh.ParseWebHook(name, body)
	if err == nil {
		return payload, nil
	}
	if gh.EventForType(name) != nil {
		return nil, describe(err)
	}
	other := new(otherPayload) // an event go-github does not know
	if err := unmarshalObject(body, other); err != nil {
		return nil, err
	}
	return other, nil
}

var errNotObject = errors.New("not a JSON object")

// unmarshalObject is json.Unmarshal for payloads, which are JSON objects,
// with errors that do not quote the body.
func unmarshalObject(body []byte, v any) error {
	if !isObject(body) {
		return errNotObject
	}
	if err := json.Unmarshal(body, v); err != nil {
		return describe(err)
	}
	return nil
}

// isObject reports whether body can be a JSON object. go-github turns a
// null body into a nil event without an error.
func isObject(body []byte) bool {
	b := bytes.TrimLeft(body, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// describe says what is wrong with a payload without quoting it: errors go
// to logs, and payloads may hold anything.
func describe(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tm *time.ParseError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("invalid JSON at offset %d", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Errorf("field %s: want %s", typ.Field, typ.Type)
	case errors.As(err, &tm):
		return errors.New("invalid timestamp")
	}
	return errors.New("invalid payload")
}

// repo is what *gh.Repository and *gh.PushEventRepository have in common.
type repo interface {
	GetFullName() string
	GetCloneURL() string
	GetSSHURL() string
	GetHTMLURL() string
	GetDefaultBranch() string
}

// repositoryOf returns the repository of a payload that has one. The
// go-github getters are nil-safe, so a missing repository yields zeroes.
func repositoryOf(payload any) providers.Repository {
	var r repo
	switch p := payload.(type) {
	case *gh.PushEvent:
		r = p.GetRepo()
	case interface{ GetRepo() *gh.Repository }:
		r = p.GetRepo()
	default:
		return providers.Repository{}
	}
	return providers.Repository{
		FullName:      r.GetFullName(),
		CloneURLHTTP:  r.GetCloneURL(),
		CloneURLSSH:   r.GetSSHURL(),
		HTMLURL:       r.GetHTMLURL(),
		DefaultBranch: r.GetDefaultBranch(),
	}
}

func push(p *gh.PushEvent) providers.Push {
	ref := p.GetRef()
	refType, refName := splitRef(ref)
	commits := make([]providers.Commit, 0, len(p.Commits))
	for _, c := range p.Commits {
		if c != nil {
			commits = append(commits, commit(c))
		}
	}
	// GitHub gives no commit count: a full payload may have been cut.
	truncated := len(p.Commits) >= maxPayloadCommits
	files, filesCapped := changedFiles(commits)
	var head *providers.Commit
	if p.HeadCommit != nil { // null when the ref was deleted
		c := commit(p.HeadCommit)
		head = &c
	}
	return providers.Push{
		Ref:              ref,
		RefType:          refType,
		RefName:          refName,
		Before:           p.GetBefore(),
		After:            p.GetAfter(),
		Created:          p.GetCreated(),
		Deleted:          p.GetDeleted(),
		Forced:           p.GetForced(),
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

func commit(c *gh.HeadCommit) providers.Commit {
	return providers.Commit{
		ID:          c.GetID(),
		Message:     c.GetMessage(),
		AuthorName:  c.GetAuthor().GetName(),
		AuthorEmail: c.GetAuthor().GetEmail(),
		Timestamp:   c.GetTimestamp().Time,
		URL:         c.GetURL(),
		Added:       c.Added,
		Modified:    c.Modified,
		Removed:     c.Removed,
	}
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

func pullRequest(e *gh.PullRequestEvent) *providers.PullRequest {
	pr := e.GetPullRequest()
	head := pr.GetHead()
	out := &providers.PullRequest{
		Action:            prAction(e.GetAction(), pr.GetMerged()),
		RawAction:         e.GetAction(),
		Number:            e.GetNumber(),
		Title:             pr.GetTitle(),
		URL:               pr.GetHTMLURL(),
		SourceBranch:      head.GetRef(),
		DestinationBranch: pr.GetBase().GetRef(),
		HeadSHA:           head.GetSHA(),
	}
	// A fork whose repository was deleted has a null head repository.
	if src := head.GetRepo().GetFullName(); src != "" && src != e.GetRepo().GetFullName() {
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

// installationPayload is what installation and installation_repositories
// events have in common.
type installationPayload interface {
	GetAction() string
	GetInstallation() *gh.Installation
}

func installation(p installationPayload) *providers.Installation {
	in := p.GetInstallation()
	return &providers.Installation{
		ID:      in.GetID(),
		Action:  installAction(p.GetAction()),
		Account: in.GetAccount().GetLogin(),
	}
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
