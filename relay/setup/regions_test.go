package setup

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/store"
)

// TestAppsOfTheHomeRegion: a connection is set up with an app of its
// home region, and never with one that serves other regions only.
func TestAppsOfTheHomeRegion(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.Cloud.GitHubWebURL, o.Cloud.GitHubAPIURL = "https://github.example", "https://api.github.example"
		o.Cloud.GitLabWebURL, o.Cloud.GitLabAPIURL = "https://gitlab.example", "https://gitlab.example/api/v4"
		o.Cloud.GitHubApps = []GitHubAppKey{
			{AppID: 1, Slug: "forgelink", ClientID: "c1", ClientSecret: "s1", Regions: []string{"us-east-1", "eu-west-1"}},
			{AppID: 2, Slug: "forgelink-milan", ClientID: "c2", ClientSecret: "s2", Regions: []string{"eu-south-1"}},
		}
		o.Cloud.GitLabApp = &OAuthClient{ID: "gl", Secret: "gl-secret", Regions: []string{"us-east-1"}}
		o.Cloud.BitbucketConsumer = &OAuthClient{ID: "bb", Secret: "bb-secret"} // every region
	})
	tests := []struct {
		provider, region string
		wantApp          int64  // GitHub: the App that sets it up
		wantErr          string // empty: a set-up link
	}{
		{provider: store.ProviderGitHub, region: "us-east-1", wantApp: 1},
		{provider: store.ProviderGitHub, region: "eu-west-1", wantApp: 1},
		{provider: store.ProviderGitHub, region: "eu-south-1", wantApp: 2},
		{provider: store.ProviderGitHub, region: "ap-south-1", wantErr: "does not serve ap-south-1"},
		{provider: store.ProviderGitLab, region: "us-east-1"},
		{provider: store.ProviderGitLab, region: "eu-south-1", wantErr: "providers.gitlabApp does not serve eu-south-1"},
		{provider: store.ProviderBitbucket, region: "eu-south-1"},
	}
	for _, tt := range tests {
		t.Run(tt.provider+" in "+tt.region, func(t *testing.T) {
			conn := store.Connection{ID: uuid.NewString(), Name: uuid.NewString()[:8], ProviderType: tt.provider, Region: tt.region,
				Status: store.StatusPending, WebhookSecret: []byte("sealed")}
			if err := f.store.CreateConnection(t.Context(), conn, nil, 0); err != nil {
				t.Fatal(err)
			}
			_, err := f.svc.ConnectionSetupURL(t.Context(), conn.ID)
			var input *InputError
			switch {
			case tt.wantErr != "" && (!errors.As(err, &input) || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("ConnectionSetupURL = %v, want an InputError with %q", err, tt.wantErr)
			case tt.wantErr == "" && err != nil:
				t.Fatalf("ConnectionSetupURL: %v", err)
			}
			if tt.wantApp == 0 {
				return
			}
			app, err := f.svc.installApp(t.Context(), conn)
			if err != nil || app.id != tt.wantApp {
				t.Errorf("installApp = App %d, %v; want App %d", app.id, err, tt.wantApp)
			}
		})
	}
}
