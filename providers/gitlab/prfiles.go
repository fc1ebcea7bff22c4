package gitlab

import (
	"context"
	"fmt"
	"net/http"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/forgelink/forgelink/providers"
)

// maxDiffsPages bounds the pages of a merge request's diffs read, should
// GitLab send short ones.
const maxDiffsPages = 100

// PullRequestFiles returns the files changed by merge request number (its
// iid) of project projectPath, through the GitLab API at apiBaseURL (as
// for CheckToken) with tok, sent as CompareFiles sends it: GET
// /projects/:id/merge_requests/:iid/diffs, page after page. A merge
// request with more than providers.MaxCompareFiles files wraps
// providers.ErrNoFileList; errors are classified as CompareFiles's.
func PullRequestFiles(ctx context.Context, client *http.Client, apiBaseURL string, tok providers.Token, projectPath string, number int) (providers.ChangedFiles, error) {
	if number <= 0 {
		return providers.ChangedFiles{}, fmt.Errorf("%w: no merge request number", providers.ErrNoFileList)
	}
	c, err := newTokenClient(client, apiBaseURL, tok)
	if err != nil {
		return providers.ChangedFiles{}, err
	}
	var files providers.FileCollector
	n := 0
	opt := &gitlab.ListMergeRequestDiffsOptions{ListOptions: gitlab.ListOptions{Page: 1, PerPage: 100}}
	for pages := 1; ; pages++ {
		diffs, resp, err := c.MergeRequests.ListMergeRequestDiffs(projectPath, int64(number), opt, gitlab.WithContext(ctx))
		if err != nil {
			return providers.ChangedFiles{}, fmt.Errorf("gitlab merge request diffs: %w", providers.CompareError(statusOf(resp), err))
		}
		n += len(diffs)
		if n > providers.MaxCompareFiles {
			return providers.ChangedFiles{}, fmt.Errorf("%w: gitlab lists more than %d changed files", providers.ErrNoFileList, providers.MaxCompareFiles)
		}
		for _, d := range diffs {
			if d != nil {
				addChange(&files, d.NewFile, d.DeletedFile, d.RenamedFile, d.OldPath, d.NewPath)
			}
		}
		if resp.NextPage == 0 {
			return files.Files(), nil
		}
		if resp.NextPage <= opt.Page || pages >= maxDiffsPages {
			return providers.ChangedFiles{}, fmt.Errorf("%w: cannot follow gitlab's merge request diffs past page %d", providers.ErrNoFileList, opt.Page)
		}
		opt.Page = resp.NextPage
	}
}
