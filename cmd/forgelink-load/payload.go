package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
)

// pushPayload returns a GitHub push delivery for a branch push of three
// commits, shaped like the real thing (repository, owner, pusher, sender,
// head_commit; created_at and pushed_at as Unix seconds, as push events
// send them). It is 7.8 KB, near the 7.3 KB of the performance notes; the
// repository object with its owner and the sender are 5.3 KB of it.
func pushPayload() []byte {
	const repo = "acme/web"
	commits := pushCommits(repo)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // GitHub sends <, > and & as they are
	err := enc.Encode(map[string]any{
		"ref":         "refs/heads/main",
		"before":      "1405df66cbe219b0bf6355bc3d60361a8376b6b4",
		"after":       commits[len(commits)-1]["id"],
		"repository":  repository(repo),
		"pusher":      map[string]any{"name": "mona", "email": "mona@example.com"},
		"sender":      user("mona", 583231, "User"),
		"created":     false,
		"deleted":     false,
		"forced":      false,
		"base_ref":    nil,
		"compare":     "https://github.com/" + repo + "/compare/1405df66cbe2...e3c8a1f0b5d2",
		"commits":     commits,
		"head_commit": commits[len(commits)-1],
	})
	if err != nil {
		panic(err) // maps of strings, numbers and bools always encode
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func pushCommits(repo string) []map[string]any {
	messages := []string{
		"Fix <script> escaping & quoting in templates",
		"render: cache parsed templates",
		"Merge pull request #482 from acme/cache",
	}
	files := [][3][]string{
		{{"render/escape.go"}, {"render/render.go"}, nil},
		{{"render/cache.go"}, {"go.mod"}, nil},
		{nil, {"README.md"}, {"render/old.go"}},
	}
	commits := make([]map[string]any, len(messages))
	for i, msg := range messages {
		sum := sha256.Sum256([]byte(msg))
		id := hex.EncodeToString(sum[:20])
		author := map[string]any{"name": "Mona Lisa", "email": "mona@example.com", "username": "mona"}
		commits[i] = map[string]any{
			"id":        id,
			"tree_id":   hex.EncodeToString(sum[12:]),
			"distinct":  true,
			"message":   msg,
			"timestamp": fmt.Sprintf("2026-11-25T11:%02d:03+01:00", 10+7*i),
			"url":       "https://github.com/" + repo + "/commit/" + id,
			"author":    author,
			"committer": author,
			"added":     nonNil(files[i][0]),
			"modified":  nonNil(files[i][1]),
			"removed":   nonNil(files[i][2]),
		}
	}
	return commits
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func repository(fullName string) map[string]any {
	owner, name, _ := strings.Cut(fullName, "/")
	api := "https://api.github.com/repos/" + fullName
	r := map[string]any{
		"id": 701234567, "node_id": "R_kgDOK701234567", "name": name, "full_name": fullName, "private": true,
		"owner": user(owner, 9919, "Organization"), "html_url": "https://github.com/" + fullName,
		"description": "Widgets & gadgets <for> CI", "fork": false, "url": "https://github.com/" + fullName,
		"created_at": 1699872000, "updated_at": "2026-11-25T09:58:12Z", "pushed_at": 1795604400,
		"git_url": "git://github.com/" + fullName + ".git", "ssh_url": "git@github.com:" + fullName + ".git",
		"clone_url": "https://github.com/" + fullName + ".git", "svn_url": "https://github.com/" + fullName,
		"homepage": nil, "size": 4821, "stargazers_count": 12, "watchers_count": 12, "language": "Go",
		"has_issues": true, "has_projects": false, "has_downloads": true, "has_wiki": false, "has_pages": false,
		"has_discussions": false, "forks_count": 2, "mirror_url": nil, "archived": false, "disabled": false,
		"open_issues_count": 4, "license": nil, "allow_forking": true, "is_template": false,
		"web_commit_signoff_required": false, "topics": []string{"ci", "golang"}, "visibility": "private",
		"forks": 2, "open_issues": 4, "watchers": 12, "default_branch": "main", "stargazers": 12,
		"master_branch": "main", "organization": owner,
	}
	for _, k := range []string{"forks", "teams", "hooks", "events", "tags", "languages", "stargazers",
		"contributors", "subscribers", "subscription", "merges", "downloads", "deployments"} {
		r[k+"_url"] = api + "/" + k
	}
	for k, tmpl := range map[string]string{
		"keys": "keys{/key_id}", "collaborators": "collaborators{/collaborator}", "issue_events": "issues/events{/number}",
		"assignees": "assignees{/user}", "branches": "branches{/branch}", "blobs": "git/blobs{/sha}",
		"git_tags": "git/tags{/sha}", "git_refs": "git/refs{/sha}", "trees": "git/trees{/sha}",
		"statuses": "statuses/{sha}", "commits": "commits{/sha}", "git_commits": "git/commits{/sha}",
		"comments": "comments{/number}", "issue_comment": "issues/comments{/number}", "contents": "contents/{+path}",
		"compare": "compare/{base}...{head}", "archive": "{archive_format}{/ref}", "issues": "issues{/number}",
		"pulls": "pulls{/number}", "milestones": "milestones{/number}", "notifications": "notifications{?since,all,participating}",
		"labels": "labels{/name}", "releases": "releases{/id}",
	} {
		r[k+"_url"] = api + "/" + tmpl
	}
	return r
}

func user(login string, id int, kind string) map[string]any {
	api := "https://api.github.com/users/" + login
	u := map[string]any{
		"login": login, "id": id, "node_id": "MDQ6VXNlcj" + strconv.Itoa(id),
		"avatar_url":  "https://avatars.githubusercontent.com/u/" + strconv.Itoa(id) + "?v=4",
		"gravatar_id": "", "url": api, "html_url": "https://github.com/" + login,
		"type": kind, "user_view_type": "public", "site_admin": false,
	}
	for k, suffix := range map[string]string{
		"followers": "followers", "following": "following{/other_user}", "gists": "gists{/gist_id}",
		"starred": "starred{/owner}{/repo}", "subscriptions": "subscriptions", "organizations": "orgs",
		"repos": "repos", "events": "events{/privacy}", "received_events": "received_events",
	} {
		u[k+"_url"] = api + "/" + suffix
	}
	return u
}

// signature is the X-Hub-Signature-256 value GitHub sends: "sha256=" and
// the hex HMAC-SHA256 of the body, keyed with the secret's text.
func signature(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// deliveryIDs hands out X-GitHub-Delivery values, GUID-shaped like
// GitHub's: a random prefix per run and a counter, so that no two requests
// of a run share one and the daemon never answers "duplicate".
type deliveryIDs struct {
	prefix string
	n      atomic.Uint64
}

func newDeliveryIDs() *deliveryIDs {
	b := make([]byte, 10)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return &deliveryIDs{prefix: h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-"}
}

func (d *deliveryIDs) next() string {
	return fmt.Sprintf("%s%012x", d.prefix, d.n.Add(1))
}
