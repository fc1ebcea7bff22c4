package github

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v60/github"

	"github.com/forgelink/forgelink/providers"
)

// MaxInstallationPages bounds how many pages of GET /user/installations
// are read (100 installations a page): a user with more than 10,000
// installations of one App is not one forgelink can check.
const MaxInstallationPages = 100

// maxTokenAnswer bounds the token endpoint's answer; real ones are a few
// hundred bytes.
const maxTokenAnswer = 64 << 10

// OAuthClient is a GitHub App's OAuth client id and secret. String leaves
// the secret out.
type OAuthClient struct {
	ID     string
	Secret string
}

func (c OAuthClient) String() string {
	return fmt.Sprintf("github oauth client %q (secret redacted)", c.ID)
}

// ErrCodeRefused is a user authorization code GitHub did not exchange:
// unknown, used, expired, or for another App (bad_verification_code), or
// the App's client credentials are wrong (incorrect_client_credentials).
// The error names GitHub's error code, never the code itself.
type ErrCodeRefused struct{ Code string }

func (e *ErrCodeRefused) Error() string { return "github refused the authorization code: " + e.Code }

// ExchangeUserCode trades the code GitHub sent to the App's callback URL
// (user authorization during installation) for a user access token:
// POST {web}/login/oauth/access_token with the App's client id and secret,
// answered in JSON. GitHub answers refusals with HTTP 200 and an "error"
// member; they come back as *ErrCodeRefused. Errors never quote the code,
// the secret or the token.
func ExchangeUserCode(ctx context.Context, client *http.Client, webBaseURL string, app OAuthClient, code string) (string, error) {
	endpoint, err := webPage(webBaseURL, "/login/oauth/access_token", nil)
	if err != nil {
		return "", fmt.Errorf("github code exchange: %w", err)
	}
	if code == "" || len(code) > 512 {
		return "", fmt.Errorf("github code exchange: %w", &ErrCodeRefused{Code: "bad_verification_code"})
	}
	form := url.Values{"client_id": {app.ID}, "client_secret": {app.Secret}, "code": {code}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("github code exchange: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("github code exchange: %w: %w", providers.ErrProviderUnavailable, unwrapURLError(err))
	}
	defer resp.Body.Close()
	var answer struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenAnswer))
	if err != nil || resp.StatusCode != http.StatusOK || json.Unmarshal(body, &answer) != nil {
		return "", fmt.Errorf("github code exchange: %w: HTTP %d", providers.ErrProviderUnavailable, resp.StatusCode)
	}
	switch {
	case answer.Error != "":
		return "", fmt.Errorf("github code exchange: %w", &ErrCodeRefused{Code: safeCode(answer.Error)})
	case answer.AccessToken == "":
		return "", fmt.Errorf("github code exchange: %w: no access token", providers.ErrProviderUnavailable)
	}
	return answer.AccessToken, nil
}

// safeCode keeps an error code fit for a log line and a page.
func safeCode(code string) string {
	if len(code) > 64 || strings.ContainsFunc(code, func(r rune) bool { return !(r == '_' || r >= 'a' && r <= 'z') }) {
		return "unrecognised_error"
	}
	return code
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// UserCanAccessInstallation reports whether installation id is among the
// installations of the App that the user of userToken may access: GET
// /user/installations, page by page (at most MaxInstallationPages). This
// is what proves that the person who came back from the installation page
// controls the installation the callback names. A token GitHub refuses
// wraps providers.ErrTokenRejected.
func UserCanAccessInstallation(ctx context.Context, client *http.Client, apiBaseURL, userToken string, id int64) (bool, error) {
	c, err := newClient(client, apiBaseURL, userToken)
	if err != nil {
		return false, err
	}
	opts := &gh.ListOptions{PerPage: 100}
	for range MaxInstallationPages {
		page, resp, err := c.Apps.ListUserInstallations(ctx, opts)
		if err != nil {
			return false, fmt.Errorf("github user installations: %w", classifyError(resp, err, providers.TokenCheckError))
		}
		for _, in := range page {
			if in.GetID() == id {
				return true, nil
			}
		}
		if resp.NextPage == 0 {
			return false, nil
		}
		opts.Page = resp.NextPage
	}
	return false, nil
}

// RevokeUserToken revokes a user access token of the App: DELETE
// /applications/{client_id}/token with the App's client credentials
// (basic authentication) and the token in the body, answered 204. A token
// already invalid (422) is as good as revoked; 404 is GitHub's answer to
// wrong client credentials. Errors never carry the token or the secret.
func RevokeUserToken(ctx context.Context, client *http.Client, apiBaseURL string, app OAuthClient, token string) error {
	tr := client.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	basic := &gh.BasicAuthTransport{Username: app.ID, Password: app.Secret, Transport: tr}
	c, err := newBaseClient(&http.Client{Transport: basic, Timeout: client.Timeout, CheckRedirect: client.CheckRedirect}, apiBaseURL)
	if err != nil {
		return err
	}
	resp, err := c.Authorizations.Revoke(ctx, url.PathEscape(app.ID), token)
	if err != nil && (resp == nil || resp.StatusCode != http.StatusUnprocessableEntity) {
		return fmt.Errorf("github revoke user token: %w", classifyError(resp, err, func(status int, _ error) error {
			return fmt.Errorf("%w: HTTP %d", providers.ErrProviderUnavailable, status)
		}))
	}
	return nil
}
