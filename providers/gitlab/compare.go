package gitlab

import (
	"context"
	"fmt"
	"net/http"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/forgelink/forgelink/providers"
)

// CompareFiles returns the files changed by a push from before to after in
// project projectPath (the full namespace path), through the GitLab API at
// apiBaseURL (as for CheckToken) with tok (an OAuth token as a bearer
// token, any other in PRIVATE-TOKEN): GET
// /projects/:id/repository/compare?from=before&to=after, the changes of
// after since its merge base with before (straight=false), which for a
// fast-forward push is before itself. A comparison GitLab cut at its diff
// limits (compare_timeout) or longer than providers.MaxCompareFiles wraps
// providers.ErrNoFileList, as do a created branch (nothing to compare), a
// refusal (401, which also wraps providers.ErrTokenRejected, 403, 404: an
// unknown commit or project) and a redirect; a
// provider that cannot be asked now (network, 5xx, 429) wraps
// providers.ErrProviderUnavailable.
func CompareFiles(ctx context.Context, client *http.Client, apiBaseURL string, tok providers.Token, projectPath, before, after string) (providers.ChangedFiles, error) {
	if err := providers.CheckCompare(before, after); err != nil {
		return providers.ChangedFiles{}, err
	}
	c, err := newTokenClient(client, apiBaseURL, tok)
	if err != nil {
		return providers.ChangedFiles{}, err
	}
	cmp, resp, err := c.Repositories.Compare(projectPath, &gitlab.CompareOptions{
		From:     gitlab.Ptr(before),
		To:       gitlab.Ptr(after),
		Straight: gitlab.Ptr(false),
	}, gitlab.WithContext(ctx))
	if err != nil {
		return providers.ChangedFiles{}, fmt.Errorf("gitlab compare: %w", providers.CompareError(statusOf(resp), err))
	}
	switch {
	case cmp == nil: // a "null" answer decodes to nothing and no error
		return providers.ChangedFiles{}, fmt.Errorf("gitlab compare: %w: the answer is not a comparison", providers.ErrProviderUnavailable)
	case cmp.CompareTimeout:
		// GitLab stopped listing diffs at its diff limits (1,000 files by
		// default): the list is incomplete.
		return providers.ChangedFiles{}, fmt.Errorf("%w: gitlab cut the comparison at its diff limits after %d files", providers.ErrNoFileList, len(cmp.Diffs))
	case len(cmp.Diffs) > providers.MaxCompareFiles:
		return providers.ChangedFiles{}, fmt.Errorf("%w: gitlab lists %d changed files, more than %d", providers.ErrNoFileList, len(cmp.Diffs), providers.MaxCompareFiles)
	}
	var files providers.FileCollector
	for _, d := range cmp.Diffs {
		if d != nil {
			addChange(&files, d.NewFile, d.DeletedFile, d.RenamedFile, d.OldPath, d.NewPath)
		}
	}
	return files.Files(), nil
}
