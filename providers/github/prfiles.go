package github

import (
	"context"
	"fmt"
	"net/http"

	gh "github.com/google/go-github/v60/github"

	"github.com/forgelink/forgelink/providers"
)

// maxPullRequestFiles is how many files GitHub lists for a pull request at
// most: its API stops there without saying so.
const maxPullRequestFiles = 3000

// maxPullRequestPages bounds the pages read, should GitHub send short ones.
const maxPullRequestPages = 100

// PullRequestFiles returns the files changed by pull request number of
// repository repoFullName ("owner/repo"), through the GitHub API at
// apiBaseURL (as for CheckToken) with tok: GET
// /repos/{owner}/{repo}/pulls/{number}/files, page after page. A list of
// maxPullRequestFiles files (GitHub's limit, and providers.MaxCompareFiles)
// may have been cut, so it wraps providers.ErrNoFileList; errors are
// classified as CompareFiles's.
func PullRequestFiles(ctx context.Context, client *http.Client, apiBaseURL string, tok providers.Token, repoFullName string, number int) (providers.ChangedFiles, error) {
	if number <= 0 {
		return providers.ChangedFiles{}, fmt.Errorf("%w: no pull request number", providers.ErrNoFileList)
	}
	owner, repo, err := splitRepo(repoFullName)
	if err != nil {
		return providers.ChangedFiles{}, err
	}
	c, err := newClient(client, apiBaseURL, tok.Value)
	if err != nil {
		return providers.ChangedFiles{}, err
	}
	limit := min(maxPullRequestFiles, providers.MaxCompareFiles)
	var files providers.FileCollector
	n := 0
	opts := &gh.ListOptions{Page: 1, PerPage: 100}
	for pages := 1; ; pages++ {
		list, resp, err := c.PullRequests.ListFiles(ctx, owner, repo, number, opts)
		if err != nil {
			return providers.ChangedFiles{}, fmt.Errorf("github pull request files: %w", classifyError(resp, err, providers.CompareError))
		}
		n += len(list)
		if n >= limit {
			return providers.ChangedFiles{}, fmt.Errorf("%w: github lists %d or more changed files, its limit: the pull request may have more", providers.ErrNoFileList, n)
		}
		for _, f := range list {
			addFile(&files, f)
		}
		if resp.NextPage == 0 {
			return files.Files(), nil
		}
		if resp.NextPage <= opts.Page || pages >= maxPullRequestPages {
			return providers.ChangedFiles{}, fmt.Errorf("%w: cannot follow github's pull request files past page %d", providers.ErrNoFileList, opts.Page)
		}
		opts.Page = resp.NextPage
	}
}
