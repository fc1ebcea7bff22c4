package bitbucket

import (
	"errors"
	"strings"
	"time"

	"github.com/forgelink/forgelink/providers"
)

// Bitbucket Cloud has one host; webhook payloads rarely carry clone links,
// so the clone URLs are built from the full name when they are missing.
const (
	cloneHTTPPrefix = "https://bitbucket.org/"
	cloneSSHPrefix  = "git@bitbucket.org:"
	cloneSuffix     = ".git"
)

// payload holds the fields forgelink reads from any Bitbucket Cloud event.
// Fields an event lacks stay zero, so one decode serves every event key.
type payload struct {
	Repository  repository   `json:"repository"`
	Push        *push        `json:"push"`
	PullRequest *pullRequest `json:"pullrequest"`
}

type repository struct {
	FullName   string    `json:"full_name"` // workspace/repo_slug
	Links      repoLinks `json:"links"`
	MainBranch named     `json:"mainbranch"`
}

type repoLinks struct {
	HTML  link   `json:"html"`
	Clone []link `json:"clone"`
}

// link is Bitbucket's {href} object; clone links also carry a name.
type link struct {
	Name string `json:"name"`
	Href string `json:"href"`
}

type htmlLinks struct {
	HTML link `json:"html"`
}

type named struct {
	Name string `json:"name"`
}

type push struct {
	Changes []change `json:"changes"`
}

// change is one ref update of a repo:push. Old is null when the ref was
// created, New when it was deleted.
type change struct {
	Old       *ref     `json:"old"`
	New       *ref     `json:"new"`
	Created   bool     `json:"created"`
	Closed    bool     `json:"closed"`
	Forced    bool     `json:"forced"`
	Truncated bool     `json:"truncated"`
	Commits   []commit `json:"commits"` // newest first, at most 5
}

type ref struct {
	Type   string `json:"type"` // branch or tag
	Name   string `json:"name"`
	Target commit `json:"target"`
}

type commit struct {
	Hash    string                `json:"hash"`
	Message string                `json:"message"`
	Date    providers.LenientTime `json:"date"`
	Author  author                `json:"author"`
	Links   htmlLinks             `json:"links"`
}

// author.Raw is git's "Name <email>"; Bitbucket adds the linked account,
// if any, as user, which forgelink does not need.
type author struct {
	Raw string `json:"raw"`
}

type pullRequest struct {
	ID          int       `json:"id"`
	Title       string    `json:"title"`
	Links       htmlLinks `json:"links"`
	Source      endpoint  `json:"source"`
	Destination endpoint  `json:"destination"`
}

type endpoint struct {
	Branch     named     `json:"branch"`
	Commit     commitRef `json:"commit"`
	Repository repoRef   `json:"repository"`
}

// repoRef is a repository as pull requests reference it.
type repoRef struct {
	FullName string `json:"full_name"`
}

// commitRef is a commit as pull requests reference it: a short hash only.
type commitRef struct {
	Hash string `json:"hash"`
}

func (r repository) normalise() providers.Repository {
	if r.FullName == "" {
		return providers.Repository{}
	}
	out := providers.Repository{
		FullName:      r.FullName,
		HTMLURL:       r.Links.HTML.Href,
		DefaultBranch: r.MainBranch.Name,
	}
	for _, l := range r.Links.Clone {
		switch l.Name {
		case "https":
			out.CloneURLHTTP = l.Href
		case "ssh":
			out.CloneURLSSH = l.Href
		}
	}
	if out.CloneURLHTTP == "" {
		out.CloneURLHTTP = cloneHTTPPrefix + r.FullName + cloneSuffix
	}
	if out.CloneURLSSH == "" {
		out.CloneURLSSH = cloneSSHPrefix + r.FullName + cloneSuffix
	}
	return out
}

// normalise turns one change into a push. Bitbucket sends no file lists,
// so Files stays empty and FilesIncomplete is set on every branch push but
// a deletion; tags and deletions have no files to filter.
// Bitbucket gives no commit count either: TotalCommits is len(Commits), a
// lower bound when CommitsTruncated is set.
func (c change) normalise() (providers.Push, error) {
	r := c.New
	if r == nil {
		r = c.Old
	}
	if r == nil {
		return providers.Push{}, errors.New("neither old nor new ref")
	}
	refType, prefix, err := refKind(r.Type)
	if err != nil {
		return providers.Push{}, err
	}
	if r.Name == "" {
		return providers.Push{}, errors.New("ref without a name")
	}
	p := providers.Push{
		Ref:              prefix + r.Name,
		RefType:          refType,
		RefName:          r.Name,
		Created:          c.Created || c.Old == nil,
		Deleted:          c.Closed || c.New == nil,
		Forced:           c.Forced,
		Commits:          oldestFirst(c.Commits),
		CommitsTruncated: c.Truncated,
	}
	p.TotalCommits = len(p.Commits)
	p.FilesIncomplete = refType == providers.RefBranch && !p.Deleted
	if c.Old != nil {
		p.Before = c.Old.Target.Hash
	}
	if c.New != nil {
		p.After = c.New.Target.Hash
		head := c.New.Target.normalise()
		p.HeadCommit = &head
	}
	return p, nil
}

func refKind(bbType string) (refType, prefix string, err error) {
	switch bbType {
	case "branch":
		return providers.RefBranch, "refs/heads/", nil
	case "tag":
		return providers.RefTag, "refs/tags/", nil
	}
	return "", "", errors.New("unknown ref type")
}

// oldestFirst reverses Bitbucket's newest-first list into the order GitHub
// and GitLab use, so the head commit comes last everywhere.
func oldestFirst(in []commit) []providers.Commit {
	if len(in) == 0 {
		return nil
	}
	out := make([]providers.Commit, len(in))
	for i, c := range in {
		out[len(in)-1-i] = c.normalise()
	}
	return out
}

func (c commit) normalise() providers.Commit {
	name, email := splitAuthor(c.Author.Raw)
	return providers.Commit{
		ID:          c.Hash,
		Message:     c.Message,
		AuthorName:  name,
		AuthorEmail: email,
		Timestamp:   time.Time(c.Date).UTC(),
		URL:         c.Links.HTML.Href,
	}
}

// splitAuthor splits "Name <email>". A raw value without the angle
// brackets is taken as the name alone.
func splitAuthor(raw string) (name, email string) {
	raw = strings.TrimSpace(raw)
	open := strings.LastIndexByte(raw, '<')
	if open < 0 || !strings.HasSuffix(raw, ">") {
		return raw, ""
	}
	return strings.TrimSpace(raw[:open]), strings.TrimSpace(raw[open+1 : len(raw)-1])
}

func (pr *pullRequest) normalise(key, repoFullName string) providers.PullRequest {
	out := providers.PullRequest{
		Action:            prAction(key),
		RawAction:         strings.TrimPrefix(key, pullRequestPrefix),
		Number:            pr.ID,
		Title:             pr.Title,
		URL:               pr.Links.HTML.Href,
		SourceBranch:      pr.Source.Branch.Name,
		DestinationBranch: pr.Destination.Branch.Name,
		// Bitbucket sends a 12-character hash here; it is kept as given.
		HeadSHA: pr.Source.Commit.Hash,
	}
	if src := pr.Source.Repository.FullName; src != "" && src != repoFullName {
		out.SourceRepository = src
	}
	return out
}
