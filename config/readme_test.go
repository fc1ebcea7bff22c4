package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/forgelink/forgelink/relay/policy"
)

// TestReadmeScopedBuildKey loads the README's example of a build host's
// key scoped to one repository and read-only, and checks that it means
// what the README says.
func TestReadmeScopedBuildKey(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	block := yamlBlockWith(t, string(readme), "AKIAFORGELINKBUILD01")
	path := writeFile(t, block)
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "build.secret"), []byte("a-build-host-secret-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.ValidateFile(); err != nil {
		t.Fatalf("the README's example does not validate: %v", err)
	}
	conn := "arn:aws:codeconnections:us-east-1:000000000000:connection/<id>"
	auth := policy.NewAuthorizer("", cfg.AccessPolicies())
	use := func(repo, perm string) policy.Decision {
		owner, name, _ := strings.Cut(repo, "/")
		return auth.Authorize("AKIAFORGELINKBUILD01", policy.Request{
			Action: "codeconnections:UseConnection", Resource: conn,
			Context: policy.Context{
				"codeconnections:FullRepositoryId":            {repo},
				"codeconnections:OwnerId":                     {owner},
				"codeconnections:RepositoryName":              {name},
				"codeconnections:ProviderPermissionsRequired": {perm},
			},
		})
	}
	for _, tc := range []struct {
		repo, perm string
		want       policy.Decision
	}{
		{"acme/app", "read_only", policy.Allowed},
		{"acme/app", "read_write", policy.NotAllowed},
		{"acme/other", "read_only", policy.NotAllowed},
	} {
		if got := use(tc.repo, tc.perm); got != tc.want {
			t.Errorf("UseConnection %s %s = %v, want %v", tc.repo, tc.perm, got, tc.want)
		}
	}
	if got := auth.Authorize("AKIAFORGELINKBUILD01", policy.Request{Action: "forgelink:GetConnectionWebhook", Resource: conn}); got != policy.NotAllowed {
		t.Errorf("GetConnectionWebhook = %v, want not allowed", got)
	}
}

// yamlBlockWith returns the first ```yaml block of md that contains s.
func yamlBlockWith(t *testing.T, md, s string) string {
	t.Helper()
	for _, part := range strings.Split(md, "```yaml\n")[1:] {
		block, _, _ := strings.Cut(part, "```")
		if strings.Contains(block, s) {
			return block
		}
	}
	t.Fatalf("README has no yaml block with %q", s)
	return ""
}
