package github

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/forgelink/forgelink/providers/github/githubtest"
	"github.com/forgelink/forgelink/providers/internal/tokentest"
	"github.com/forgelink/forgelink/relay/clocktest"
)

func TestAppInstallation(t *testing.T) {
	clk := clocktest.New(time.Now())
	f := newFakeApp(t, githubtest.Options{APIPrefix: "/api/v3", Now: clk.Now})
	wrongKey, err := NewApp(nil, f.srv.APIURL, f.app.ID, keyPEM(testKeys()[1]))
	if err != nil {
		t.Fatal(err)
	}
	unknownApp, err := NewApp(nil, f.srv.APIURL, 999999, keyPEM(testKeys()[0]))
	if err != nil {
		t.Fatal(err)
	}
	answering := func(status int) *App {
		a, err := NewApp(nil, tokentest.Answer(t, status, nil, `{"message":"x"}`), f.app.ID, keyPEM(testKeys()[0]))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	tests := []struct {
		name  string
		app   *App
		id    int64
		want  Installation
		wants string
	}{
		{"organization", f.newApp(t), f.org, Installation{ID: f.org, Account: "octo-org", AccountType: "Organization", RepositorySelection: "selected"}, "ok"},
		{"user", f.newApp(t), f.user, Installation{ID: f.user, Account: "octocat", AccountType: "User", RepositorySelection: "all"}, "ok"},
		{"suspended", f.newApp(t), f.suspended, Installation{ID: f.suspended, Account: "octo-org", AccountType: "Organization", Suspended: true, RepositorySelection: "all"}, "ok"},
		{"unknown installation", f.newApp(t), 424242, Installation{}, "not found"},
		{"another app's installation", f.newApp(t), f.oth, Installation{}, "not found"},
		{"no installation id", f.newApp(t), 0, Installation{}, "not found"},
		{"wrong private key", wrongKey, f.org, Installation{}, "rejected 401"},
		{"unknown app id", unknownApp, f.org, Installation{}, "rejected 401"},
		{"forbidden", answering(http.StatusForbidden), f.org, Installation{}, "unavailable"},
		{"server error", answering(http.StatusBadGateway), f.org, Installation{}, "unavailable 502"},
		{"garbage answer", answering(http.StatusOK), f.org, Installation{}, "unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.app.Installation(context.Background(), tt.id)
			if o := outcome(t, err); o != tt.wants {
				t.Fatalf("Installation = %s, want %s", o, tt.wants)
			}
			if got != tt.want {
				t.Errorf("Installation = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestAppJWTExpiresWithTheClock(t *testing.T) {
	// The fake checks iat/exp against its own clock: a server clock far
	// ahead of ours sees an expired JWT.
	clk := clocktest.New(time.Now())
	f := newFakeApp(t, githubtest.Options{Now: clk.Now})
	a := f.newApp(t)
	if _, err := a.Installation(context.Background(), f.org); err != nil {
		t.Fatalf("Installation: %v", err)
	}
	clk.Add(5 * time.Minute)
	_, err := a.Installation(context.Background(), f.org)
	if got := outcome(t, err); got != "rejected 401" {
		t.Errorf("Installation with a stale JWT = %s, want rejected 401", got)
	}
}

func TestRepositoryToken(t *testing.T) {
	clk := clocktest.New(time.Now().Truncate(time.Second))
	f := newFakeApp(t, githubtest.Options{Now: clk.Now})
	a := f.newApp(t)
	tests := []struct {
		name         string
		installation int64
		repository   string
		wants        string
		minted       bool // a token was minted (and must be revoked unless wants ok)
	}{
		{"covered repository", f.org, "octo-org/api", "ok", true},
		{"case differs", f.org, "Octo-Org/API", "ok", true},
		{"user installation, all repositories", f.user, "octocat/dotfiles", "ok", true},
		{"repository not selected", f.org, "octo-org/web", "not found", false},
		{"no such repository", f.user, "octocat/nothing", "not found", false},
		{"namesake of another owner", f.org, "other/api", "not found", true},
		{"suspended installation", f.suspended, "octo-org/api", "rejected 403", false},
		{"unknown installation", 424242, "octo-org/api", "not found", false},
		{"not owner/name", f.org, "api", "not found", false},
		{"too many slashes", f.org, "octo-org/api/x", "not found", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(f.srv.Tokens())
			tok, err := a.RepositoryToken(context.Background(), tt.installation, tt.repository)
			if got := outcome(t, err); got != tt.wants {
				t.Fatalf("RepositoryToken = %s, want %s", got, tt.wants)
			}
			minted := f.srv.Tokens()[before:]
			if got := len(minted) == 1; got != tt.minted || len(minted) > 1 {
				t.Fatalf("minted %d tokens, want minted=%v", len(minted), tt.minted)
			}
			if !tt.minted {
				return
			}
			m := minted[0]
			_, name, _ := strings.Cut(tt.repository, "/")
			if !slices.Equal(m.Repositories, []string{name}) || len(m.Permissions) != 1 || m.Permissions["contents"] != "read" {
				t.Errorf("token asked for repositories %v, permissions %v; want [%s], contents:read only", m.Repositories, m.Permissions, name)
			}
			if tt.wants != "ok" {
				if !m.Revoked {
					t.Error("a token for the wrong repository was not revoked")
				}
				return
			}
			want := m
			if tok.Token != want.Value || tok.Username != "x-access-token" || !tok.ExpiresAt.Equal(clk.Now().Add(time.Hour)) {
				t.Errorf("token = %q/%q expiring %v; want %q/x-access-token expiring %v", tok.Token, tok.Username, tok.ExpiresAt, want.Value, clk.Now().Add(time.Hour))
			}
		})
	}
}

func TestInstallationToken(t *testing.T) {
	clk := clocktest.New(time.Now().Truncate(time.Second))
	f := newFakeApp(t, githubtest.Options{Now: clk.Now})
	a := f.newApp(t)
	tok, exp, err := a.InstallationToken(context.Background(), f.org)
	if err != nil {
		t.Fatalf("InstallationToken: %v", err)
	}
	minted := f.srv.Tokens()
	if len(minted) != 1 || minted[0].Value != tok.Value || minted[0].Repositories != nil || minted[0].Permissions != nil {
		t.Fatalf("minted %+v; want one token, unrestricted", minted)
	}
	if tok.OAuth || !exp.Equal(clk.Now().Add(time.Hour)) {
		t.Errorf("token OAuth=%v expiring %v; want a bearer token expiring %v", tok.OAuth, exp, clk.Now().Add(time.Hour))
	}
	for _, id := range []int64{f.suspended, f.oth} {
		if _, _, err := a.InstallationToken(context.Background(), id); err == nil {
			t.Errorf("InstallationToken(%d) succeeded", id)
		}
	}
}

func TestRevokeInstallationToken(t *testing.T) {
	f := newFakeApp(t, githubtest.Options{})
	tok, _, err := f.newApp(t).InstallationToken(context.Background(), f.org)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, api, token, wants string
	}{
		{"live token", f.srv.APIURL, tok.Value, "ok"},
		{"revoked already", f.srv.APIURL, tok.Value, "ok"},
		{"unknown token", f.srv.APIURL, "ghs_nothing", "ok"},
		{"no token", f.srv.APIURL, "", "invalid"},
		{"server error", tokentest.Answer(t, http.StatusBadGateway, nil, ""), tok.Value, "unavailable 502"},
		{"unreachable", tokentest.Unreachable(), tok.Value, "unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := RevokeInstallationToken(context.Background(), nil, tt.api, tt.token)
			if got := outcome(t, err, tt.token); got != tt.wants {
				t.Errorf("RevokeInstallationToken = %s, want %s", got, tt.wants)
			}
		})
	}
	if m := f.srv.Tokens(); !m[0].Revoked {
		t.Error("the token is not revoked")
	}
}
