package github

import (
	"context"
	"fmt"
	"net/http"

	gh "github.com/google/go-github/v60/github"

	"github.com/forgelink/forgelink/providers"
)

// maxCompareFiles is how many files GitHub lists in a comparison at most:
// its compare API cuts the list there without saying so, and paging
// through the comparison pages its commits, not its files (they come on
// the first page only).
const maxCompareFiles = 300

// CompareFiles returns the files changed by a push from before to after in
// repository repoFullName ("owner/repo"), through the GitHub API at
// apiBaseURL (as for CheckToken) with tok, sent as a bearer token: GET
// /repos/{owner}/{repo}/compare/{before}...{after}, the changes of after
// since its merge base with before, which for a fast-forward push is
// before itself. A comparison that lists maxCompareFiles files may have
// been cut, so it wraps providers.ErrNoFileList, as do a created branch
// (nothing to compare), a refusal (401, which also wraps
// providers.ErrTokenRejected, 403, 404, 422: an unknown commit or
// repository) and a redirect (a renamed repository); a provider that
// cannot be asked now (network, 5xx, a rate limit) wraps
// providers.ErrProviderUnavailable.
func CompareFiles(ctx context.Context, client *http.Client, apiBaseURL string, tok providers.Token, repoFullName, before, after string) (providers.ChangedFiles, error) {
	if err := providers.CheckCompare(before, after); err != nil {
		return providers.ChangedFiles{}, err
	}
	owner, repo, err := splitRepo(repoFullName)
	if err != nil {
		return providers.ChangedFiles{}, err
	}
	c, err := newClient(client, apiBaseURL, tok.Value)
	if err != nil {
		return providers.ChangedFiles{}, err
	}
	// One commit per page: the files come with the first page whatever
	// its size, and the commits are not needed.
	cmp, resp, err := c.Repositories.CompareCommits(ctx, owner, repo, before, after, &gh.ListOptions{Page: 1, PerPage: 1})
	if err != nil {
		return providers.ChangedFiles{}, fmt.Errorf("github compare: %w", classifyError(resp, err, providers.CompareError))
	}
	if len(cmp.Files) >= maxCompareFiles {
		return providers.ChangedFiles{}, fmt.Errorf("%w: github lists %d changed files, its limit: the comparison may have more", providers.ErrNoFileList, len(cmp.Files))
	}
	var files providers.FileCollector
	for _, f := range cmp.Files {
		addFile(&files, f)
	}
	return files.Files(), nil
}
