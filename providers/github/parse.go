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

// InstallationID is the package function InstallationID, for callers that
// hold Webhooks behind an interface.
func (Webhooks) InstallationID(body []byte) (int64, error) {
	return InstallationID(body)
}

// otherPayload is the part of an event go-github does not know that
// forgelink uses.
type otherPayload struct {
	Repo *repository `json:"repository"`
}

func (p *otherPayload) GetRepo() *gh.Repository { return p.Repo.unwrap() }

// The types below are go-github's for the payloads forgelink decodes most,
// with the repositories' custom_properties shadowed: go-github v60 has them
// as map[string]string, but multi-select custom properties are arrays of
// strings. Push and pull_request events thus decode once whatever their
// properties. unwrap returns the go-github value, its repositories set.

// ignored accepts any JSON value and keeps nothing.
type ignored struct{}

func (*ignored) UnmarshalJSON([]byte) error { return nil }

type repository struct {
	gh.Repository
	CustomProperties ignored `json:"custom_properties"`
}

func (r *repository) unwrap() *gh.Repository {
	if r == nil {
		return nil
	}
	return &r.Repository
}

type pushPayload struct {
	gh.PushEvent
	Repo *pushRepository `json:"repository"`
}

type pushRepository struct {
	gh.PushEventRepository
	CustomProperties ignored `json:"custom_properties"`
}

func (e *pushPayload) unwrap() *gh.PushEvent {
	if e.Repo != nil {
		e.PushEvent.Repo = &e.Repo.PushEventRepository
	}
	return &e.PushEvent
}

type pullRequestPayload struct {
	gh.PullRequestEvent
	Repo        *repository        `json:"repository"`
	PullRequest *pullRequestObject `json:"pull_request"`
}

type pullRequestObject struct {
	gh.PullRequest
	Head *pullRequestBranch `json:"head"`
	Base *pullRequestBranch `json:"base"`
}

type pullRequestBranch struct {
	gh.PullRequestBranch
	Repo *repository `json:"repo"`
}

func (b *pullRequestBranch) unwrap() *gh.PullRequestBranch {
	if b == nil {
		return nil
	}
	b.PullRequestBranch.Repo = b.Repo.unwrap()
	return &b.PullRequestBranch
}

func (e *pullRequestPayload) unwrap() *gh.PullRequestEvent {
	e.PullRequestEvent.Repo = e.Repo.unwrap()
	if pr := e.PullRequest; pr != nil {
		pr.PullRequest.Head = pr.Head.unwrap()
		pr.PullRequest.Base = pr.Base.unwrap()
		e.PullRequestEvent.PullRequest = &pr.PullRequest
	}
	return &e.PullRequestEvent
}

// decode decodes body into go-github's type for the event, once unless a
// custom_properties object the types above do not shadow holds an array:
// then it decodes a copy without custom_properties.
func decode(name string, body []byte) (any, error) {
	if !isObject(body) {
		return nil, errNotObject
	}
	payload, err := decodeAs(name, body)
	if isCustomPropertiesError(err) {
		var clean []byte
		if clean, err = withoutCustomProperties(body); err == nil {
			payload, err = decodeAs(name, clean)
		}
	}
	if err != nil {
		return nil, describe(err)
	}
	return payload, nil
}

// decodeAs decodes body into go-github's type for the event, or into an
// otherPayload for an event go-github does not know.
func decodeAs(name string, body []byte) (any, error) {
	switch name {
	case "push":
		var e pushPayload
		err := json.Unmarshal(body, &e)
		return e.unwrap(), err
	case "pull_request":
		var e pullRequestPayload
		err := json.Unmarshal(body, &e)
		return e.unwrap(), err
	}
	payload := gh.EventForType(name)
	if payload == nil {
		payload = new(otherPayload)
	}
	err := json.Unmarshal(body, payload)
	return payload, err
}

// isCustomPropertiesError reports whether err is a type error inside a
// custom_properties object. encoding/json reports the first type error
// only, so the second decode finds any other; matching too much costs only
// that decode.
func isCustomPropertiesError(err error) bool {
	var typ *json.UnmarshalTypeError
	return errors.As(err, &typ) && strings.Contains(typ.Field, "custom_properties")
}

// withoutCustomProperties returns a copy of body without custom_properties
// members, at any depth. forgelink uses none of them. The caller keeps the
// original body.
func withoutCustomProperties(body []byte) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber() // keeps numbers, 64-bit IDs among them, exact
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	dropCustomProperties(v)
	return json.Marshal(v)
}

func dropCustomProperties(v any) {
	switch v := v.(type) {
	case map[string]any:
		delete(v, "custom_properties")
		for _, e := range v {
			dropCustomProperties(e)
		}
	case []any:
		for _, e := range v {
			dropCustomProperties(e)
		}
	}
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
		return fmt.Errorf("field %s: want %s", memberPath(typ.Field), typ.Type)
	case errors.As(err, &tm):
		return errors.New("invalid timestamp")
	}
	return errors.New("invalid payload")
}

// memberPath drops from an UnmarshalTypeError's Field the Go names of
// embedded structs (PushEvent.ref), which go-github's snake_case members
// cannot be confused with.
func memberPath(field string) string {
	parts := strings.Split(field, ".")
	kept := parts[:0]
	for _, p := range parts {
		if p == "" || p[0] < 'A' || p[0] > 'Z' {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, ".")
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
