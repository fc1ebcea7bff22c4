package github

import (
	"errors"
	"net/http"
	"testing"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/providers/github/githubtest"
)

// checkUserAuthorization completes the user authorization of an App's
// installation against the fake: the code is exchanged once, the user
// sees installation id, and the token is revoked.
func checkUserAuthorization(t *testing.T, srv *githubtest.Server, creds AppCredentials, code string, id int64) {
	t.Helper()
	ctx := t.Context()
	client := OAuthClient{ID: creds.ClientID, Secret: creds.ClientSecret}
	token, err := ExchangeUserCode(ctx, http.DefaultClient, srv.URL, client, code)
	if err != nil {
		t.Fatalf("ExchangeUserCode: %v", err)
	}
	var refused *ErrCodeRefused
	if _, err := ExchangeUserCode(ctx, http.DefaultClient, srv.URL, client, code); !errors.As(err, &refused) || refused.Code != "bad_verification_code" {
		t.Errorf("the code exchanged twice: %v", err)
	}
	if ok, err := UserCanAccessInstallation(ctx, http.DefaultClient, srv.APIURL, token, id); !ok || err != nil {
		t.Errorf("UserCanAccessInstallation(own) = %v, %v", ok, err)
	}
	if err := RevokeUserToken(ctx, http.DefaultClient, srv.APIURL, client, token); err != nil {
		t.Errorf("RevokeUserToken: %v", err)
	}
	if _, err := UserCanAccessInstallation(ctx, http.DefaultClient, srv.APIURL, token, id); !errors.Is(err, providers.ErrTokenRejected) {
		t.Errorf("a revoked token listed installations: %v", err)
	}
}

func TestUserAuthorization(t *testing.T) {
	ctx := t.Context()
	srv := githubtest.New(t, githubtest.Options{MaxPerPage: 2})
	app := srv.AddApp(githubtest.App{Name: "forgelink"})
	other := srv.AddApp(githubtest.App{Name: "other"})
	client := OAuthClient{ID: app.ClientID, Secret: app.ClientSecret}
	var mine []int64
	for range 5 {
		mine = append(mine, srv.AddInstallation(githubtest.Installation{AppID: app.ID, Account: "org", Users: []string{"octocat"}}).ID)
	}
	victims := srv.AddInstallation(githubtest.Installation{AppID: app.ID, Account: "victim-org", Users: []string{"victim"}})
	otherApps := srv.AddInstallation(githubtest.Installation{AppID: other.ID, Account: "org", Users: []string{"octocat"}})

	var refused *ErrCodeRefused
	tests := []struct {
		name   string
		client OAuthClient
		code   string
		want   string
	}{
		{"wrong secret", OAuthClient{ID: app.ClientID, Secret: "wrong"}, srv.UserCode(app.ID, "octocat"), "incorrect_client_credentials"},
		{"unknown code", client, "0123456789", "bad_verification_code"},
		{"another App's code", client, srv.UserCode(other.ID, "octocat"), "bad_verification_code"},
		{"empty code", client, "", "bad_verification_code"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ExchangeUserCode(ctx, http.DefaultClient, srv.URL, tc.client, tc.code); !errors.As(err, &refused) || refused.Code != tc.want {
				t.Errorf("ExchangeUserCode = %v, want %s", err, tc.want)
			}
		})
	}

	token, err := ExchangeUserCode(ctx, http.DefaultClient, srv.URL, client, srv.UserCode(app.ID, "octocat"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		id   int64
		want bool
	}{
		{"first page", mine[0], true},
		{"last page", mine[4], true},
		{"another user's installation", victims.ID, false},
		{"another App's installation", otherApps.ID, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if ok, err := UserCanAccessInstallation(ctx, http.DefaultClient, srv.APIURL, token, tc.id); ok != tc.want || err != nil {
				t.Errorf("UserCanAccessInstallation = %v, %v; want %v", ok, err, tc.want)
			}
		})
	}
	if _, err := UserCanAccessInstallation(ctx, http.DefaultClient, srv.APIURL, "ghu_bogus", mine[0]); !errors.Is(err, providers.ErrTokenRejected) {
		t.Errorf("a bogus token: %v", err)
	}
	if err := RevokeUserToken(ctx, http.DefaultClient, srv.APIURL, OAuthClient{ID: app.ClientID, Secret: "wrong"}, token); !errors.Is(err, providers.ErrProviderUnavailable) {
		t.Errorf("revoking with a wrong secret: %v", err)
	}
	if ok, _ := UserCanAccessInstallation(ctx, http.DefaultClient, srv.APIURL, token, mine[0]); !ok {
		t.Error("a wrong client secret revoked the token")
	}
}
