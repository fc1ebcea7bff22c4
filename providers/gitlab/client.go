package gitlab

import (
	"fmt"
	"net/http"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/forgelink/forgelink/providers"
)

// newClient returns a client-go client for the API at apiBaseURL
// (https://gitlab.com/api/v4, or <host>/api/v4) that sends token. It makes
// one attempt per call: an operator waits on a token check, and the
// delivery engine retries with backoff within its own budget.
func newClient(client *http.Client, apiBaseURL, token string) (*gitlab.Client, error) {
	return newTokenClient(client, apiBaseURL, providers.Token{Value: token})
}

// newTokenClient is newClient for a connection's token: an OAuth access
// token goes as "Authorization: Bearer", any other in PRIVATE-TOKEN.
func newTokenClient(client *http.Client, apiBaseURL string, tok providers.Token) (*gitlab.Client, error) {
	newc := gitlab.NewClient
	if tok.OAuth {
		newc = gitlab.NewOAuthClient
	}
	c, err := newc(tok.Value,
		gitlab.WithBaseURL(apiBaseURL),
		gitlab.WithHTTPClient(client),
		gitlab.WithoutRetries(),
	)
	if err != nil {
		return nil, fmt.Errorf("gitlab client: %w", err)
	}
	return c, nil
}

// statusOf is the HTTP status of a client-go answer, 0 when there is none.
func statusOf(resp *gitlab.Response) int {
	if resp == nil || resp.Response == nil {
		return 0
	}
	return resp.StatusCode
}

// addChange records one changed file of a comparison or merge request.
func addChange(files *providers.FileCollector, newFile, deleted, renamed bool, oldPath, newPath string) {
	switch {
	case newFile:
		files.Add(providers.FileAdded, "", newPath)
	case deleted:
		files.Add(providers.FileRemoved, oldPath, "")
	case renamed:
		files.Add(providers.FileRenamed, oldPath, newPath)
	default:
		files.Add("modified", oldPath, newPath)
	}
}
