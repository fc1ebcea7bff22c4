package bitbucket

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/forgelink/forgelink/providers"
)

// maxPullRequestRedirects bounds the redirects followed for one page:
// Bitbucket answers a pull request's diffstat with a redirect to the
// repository diffstat of the pull request's revspec.
const maxPullRequestRedirects = 3

// pullRequestDiffstat is one page of a diffstat.
type pullRequestDiffstat struct {
	Size   int `json:"size"`
	Values []struct {
		Status string         `json:"status"`
		Old    map[string]any `json:"old"`
		New    map[string]any `json:"new"`
	} `json:"values"`
	Next string `json:"next"`
}

// PullRequestFiles returns the files changed by pull request number of
// repository repoFullName ("workspace/repo_slug"), through the Bitbucket
// Cloud API at apiBaseURL with tok, sent as CompareFiles sends it: GET
// /repositories/{workspace}/{repo_slug}/pullrequests/{id}/diffstat, page
// after page. Redirects (Bitbucket redirects to the repository diffstat)
// and next links are followed only to apiBaseURL's scheme and host, so
// the token goes nowhere else. Errors are classified as CompareFiles's.
func PullRequestFiles(ctx context.Context, client *http.Client, apiBaseURL string, tok providers.Token, repoFullName string, number int) (providers.ChangedFiles, error) {
	if number <= 0 {
		return providers.ChangedFiles{}, fmt.Errorf("%w: no pull request number", providers.ErrNoFileList)
	}
	workspace, slug, err := splitRepo(repoFullName)
	if err != nil {
		return providers.ChangedFiles{}, err
	}
	base, err := url.Parse(strings.TrimRight(apiBaseURL, "/"))
	if err != nil || base.Host == "" {
		return providers.ChangedFiles{}, fmt.Errorf("bitbucket api url %q: not an absolute URL", apiBaseURL)
	}
	next := base.JoinPath("repositories", workspace, slug, "pullrequests", strconv.Itoa(number), "diffstat")
	var collected providers.FileCollector
	for pages := 1; ; pages++ {
		page, err := getDiffstatPage(ctx, client, base, next, tok)
		if err != nil {
			return providers.ChangedFiles{}, fmt.Errorf("bitbucket pull request diffstat: %w", err)
		}
		for _, v := range page.Values {
			collected.Add(v.Status, path(v.Old), path(v.New))
		}
		if err := checkSize(page.Size, &collected); err != nil {
			return providers.ChangedFiles{}, err
		}
		if page.Next == "" {
			return collected.Files(), nil
		}
		u, err := next.Parse(page.Next)
		if err != nil || !sameHost(base, u) || pages >= maxDiffstatPages {
			return providers.ChangedFiles{}, fmt.Errorf("%w: cannot follow bitbucket's pull request diffstat past page %d", providers.ErrNoFileList, pages)
		}
		next = u
	}
}

// sameHost reports whether u is on base's scheme and host.
func sameHost(base, u *url.URL) bool {
	return u.Scheme == base.Scheme && strings.EqualFold(u.Host, base.Host)
}

// getDiffstatPage reads one diffstat page at u, following redirects on
// base's host.
func getDiffstatPage(ctx context.Context, client *http.Client, base, u *url.URL, tok providers.Token) (*pullRequestDiffstat, error) {
	for redirects := 0; ; redirects++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", providers.ErrNoFileList, err)
		}
		req.Header.Set("Accept", "application/json")
		if user, password, ok := strings.Cut(tok.Value, ":"); ok && !tok.OAuth {
			req.SetBasicAuth(user, password)
		} else {
			req.Header.Set("Authorization", "Bearer "+tok.Value)
		}
		hc := *client
		// Redirects are followed here, on base's host only.
		hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := hc.Do(req)
		if err != nil {
			return nil, providers.CompareError(0, err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		resp.Body.Close()
		switch {
		case err != nil:
			return nil, providers.CompareError(0, err)
		case resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.Header.Get("Location") != "":
			loc, err := u.Parse(resp.Header.Get("Location"))
			if err != nil || !sameHost(base, loc) || redirects >= maxPullRequestRedirects {
				return nil, providers.CompareError(resp.StatusCode, fmt.Errorf("redirect"))
			}
			u = loc
			continue
		case resp.StatusCode == statusDiffTimeout:
			return nil, fmt.Errorf("%w: bitbucket timed out generating the diffstat (HTTP 555)", providers.ErrNoFileList)
		case resp.StatusCode != http.StatusOK:
			return nil, providers.CompareError(resp.StatusCode, fmt.Errorf("HTTP %d", resp.StatusCode))
		}
		var page pullRequestDiffstat
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, providers.CompareError(0, fmt.Errorf("decode the diffstat: %w", err))
		}
		return &page, nil
	}
}
