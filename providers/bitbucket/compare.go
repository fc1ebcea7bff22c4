package bitbucket

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	bb "github.com/ktrysmt/go-bitbucket"

	"github.com/forgelink/forgelink/providers"
)

// statusDiffTimeout is Bitbucket's answer when generating the diffstat
// timed out: the comparison is too large, and would be again.
const statusDiffTimeout = 555

// maxDiffstatPages bounds the pages read, should they be much shorter
// than the 500 entries of Bitbucket's default diffstat page.
const maxDiffstatPages = 100

// CompareFiles returns the files changed by a push from before to after in
// repository repoFullName ("workspace/repo_slug"), through the Bitbucket
// Cloud API at apiBaseURL with tok (as for CheckToken; an OAuth token
// always as a bearer token): GET
// /repositories/{workspace}/{repo_slug}/diffstat/{after}..{before}?topic=true,
// page after page (pages are numbered). Bitbucket's spec puts the commit with the changes
// first and the one it is compared with second, the reverse of git diff;
// topic=true diffs after against its merge base with before, which for a
// fast-forward push is before itself. A diffstat Bitbucket could not
// finish (HTTP 555) or longer than providers.MaxCompareFiles wraps
// providers.ErrNoFileList, as do a created branch (nothing to compare)
// and a refusal (401, which also wraps providers.ErrTokenRejected, 403,
// 404: an unknown commit or repository); a provider that cannot be asked
// now (network, 5xx, 429) wraps providers.ErrProviderUnavailable.
func CompareFiles(ctx context.Context, client *http.Client, apiBaseURL string, tok providers.Token, repoFullName, before, after string) (providers.ChangedFiles, error) {
	if err := providers.CheckCompare(before, after); err != nil {
		return providers.ChangedFiles{}, err
	}
	workspace, slug, err := splitRepo(repoFullName)
	if err != nil {
		return providers.ChangedFiles{}, err
	}
	c, cancel, err := newTokenClient(ctx, client, apiBaseURL, tok)
	if err != nil {
		return providers.ChangedFiles{}, err
	}
	defer cancel()
	var collected providers.FileCollector
	for page, pages := 1, 1; ; pages++ {
		res, err := c.Repositories.Diff.GetDiffStat(&bb.DiffStatOptions{
			Owner:    url.PathEscape(workspace),
			RepoSlug: url.PathEscape(slug),
			Spec:     url.PathEscape(after) + ".." + url.PathEscape(before),
			Topic:    true,
			// go-bitbucket sends merge=false unless Merge is set, and
			// Bitbucket refuses merge together with topic; renames=false
			// unless Renames is set: rename detection is Bitbucket's default.
			Merge:   true,
			Renames: true,
			PageNum: page,
		})
		if err != nil {
			return providers.ChangedFiles{}, fmt.Errorf("bitbucket diffstat: %w", diffstatError(err))
		}
		for _, v := range res.DiffStats {
			if v != nil {
				collected.Add(v.Status, path(v.Old), path(v.New))
			}
		}
		if err := checkSize(res.Size, &collected); err != nil {
			return providers.ChangedFiles{}, err
		}
		if res.Next == "" {
			return collected.Files(), nil
		}
		next, ok := nextPage(res.Next)
		if !ok || next <= page || pages >= maxDiffstatPages {
			return providers.ChangedFiles{}, fmt.Errorf("%w: cannot follow bitbucket's diffstat past page %d", providers.ErrNoFileList, page)
		}
		page = next
	}
}

// splitRepo splits "workspace/repo_slug"; anything else names no repository.
func splitRepo(fullName string) (workspace, slug string, err error) {
	workspace, slug, ok := strings.Cut(fullName, "/")
	if !ok || workspace == "" || slug == "" || strings.Contains(slug, "/") {
		return "", "", fmt.Errorf("%w: repository %q is not workspace/repo_slug", providers.ErrNoFileList, fullName)
	}
	return workspace, slug, nil
}

// checkSize refuses a diffstat longer than providers.MaxCompareFiles, by the
// size Bitbucket announces or by what was collected so far.
func checkSize(announced int, collected *providers.FileCollector) error {
	if n := max(announced, collected.Len()); n > providers.MaxCompareFiles {
		return fmt.Errorf("%w: bitbucket lists %d or more changed files, more than %d", providers.ErrNoFileList, n, providers.MaxCompareFiles)
	}
	return nil
}

// nextPage returns the page number of a diffstat's next link.
func nextPage(next string) (int, bool) {
	u, err := url.Parse(next)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(u.Query().Get("page"))
	return n, err == nil
}

// path returns the path of a diffstat entry's old or new side, "" when
// the side is null (an added file has no old side, a removed one no new).
func path(side map[string]any) string {
	p, _ := side["path"].(string)
	return p
}

// diffstatError classifies go-bitbucket's error: a status it did not
// expect carries the status; anything else (network, an undecodable
// answer) has none.
func diffstatError(err error) error {
	var unexpected *bb.UnexpectedResponseStatusError
	if errors.As(err, &unexpected) {
		if unexpected.StatusCode == statusDiffTimeout {
			return fmt.Errorf("%w: bitbucket timed out generating the diffstat (HTTP 555)", providers.ErrNoFileList)
		}
		return providers.CompareError(unexpected.StatusCode, err)
	}
	return providers.CompareError(0, err)
}

// newClient returns a go-bitbucket client for the API at apiBaseURL that
// authenticates with token as CheckToken describes and runs every request
// under ctx, bounded by client's timeout. cancel releases ctx's timer.
func newClient(ctx context.Context, client *http.Client, apiBaseURL, token string) (c *bb.Client, cancel context.CancelFunc, err error) {
	return newTokenClient(ctx, client, apiBaseURL, providers.Token{Value: token})
}

// newTokenClient is newClient for a connection's token: an OAuth access
// token always goes as a bearer token.
func newTokenClient(ctx context.Context, client *http.Client, apiBaseURL string, tok providers.Token) (c *bb.Client, cancel context.CancelFunc, err error) {
	base, err := url.Parse(apiBaseURL)
	if err != nil {
		return nil, nil, fmt.Errorf("bitbucket api url: %w", err)
	}
	if user, password, ok := strings.Cut(tok.Value, ":"); ok && !tok.OAuth {
		c, err = bb.NewBasicAuth(user, password)
	} else {
		c, err = bb.NewOAuthbearerToken(tok.Value)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("bitbucket client: %w", err)
	}
	c.SetApiBaseURL(*base)
	// go-bitbucket builds its requests without the caller's context, so the
	// client's timeout moves into ctx and the transport attaches ctx.
	cancel = func() {}
	if client.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, client.Timeout)
	}
	hc := *client
	hc.Timeout = 0
	hc.Transport = contextTransport{ctx: ctx, next: cmp.Or(client.Transport, http.DefaultTransport)}
	c.HttpClient = &hc
	return c, cancel, nil
}
