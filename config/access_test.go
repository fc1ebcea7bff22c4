package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/forgelink/forgelink/relay/policy"
)

const rootEnvID = "AKIAROOTROOTROOT01"

func rootEnv() []string {
	return []string{"FORGELINK_ROOT_ACCESS_KEY_ID=" + rootEnvID, "FORGELINK_ROOT_SECRET_ACCESS_KEY=root-secret-root-secret"}
}

// loadInvalid loads the file at path, which must fail Validate.
func loadInvalid(t *testing.T, path string) (*Config, ValidationError) {
	t.Helper()
	cfg, err := Load(path, rootEnv())
	if err != nil {
		t.Fatal(err)
	}
	var verr ValidationError
	if err := cfg.Validate(); !errors.As(err, &verr) {
		t.Fatalf("Validate = %v, want ValidationError", err)
	}
	return cfg, verr
}

// checkLines checks that verr has exactly the fields of want, each at its
// line (0: no line).
func checkLines(t *testing.T, verr ValidationError, want map[string]int) {
	t.Helper()
	got := map[string]int{}
	for _, fe := range verr {
		got[fe.Field] = fe.Line
	}
	for field, line := range want {
		if l, ok := got[field]; !ok || l != line {
			t.Errorf("%s: line %d (reported %v), want line %d", field, l, ok, line)
		}
	}
	if len(got) != len(want) {
		t.Errorf("problems:\n%v\nwant exactly %v", verr, want)
	}
}

func TestAccessKeys(t *testing.T) {
	path := writeFile(t, strings.Join([]string{
		"accessKeys:",
		"  - id: AKIAFORGELINKCI0001",
		"    secretFile: ci.secret",
		"    description: build hosts",
		"    policy:",
		"      statements:",
		"        - effect: Allow",
		"          actions: [codeconnections:UseConnection, codeconnections:GetConnectionToken]",
		"          resources: ['arn:aws:codeconnections:us-east-1:123456789012:connection/*']",
		"        - effect: Deny",
		"          actions: ['codestar-connections:Delete*']",
		"          resources: ['*']",
	}, "\n"))
	// secretFile is relative to the configuration file.
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "ci.secret"), []byte("  ci-secret-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, rootEnv())
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	secrets := []struct {
		id     string
		secret string
		ok     bool
	}{
		{rootEnvID, "root-secret-root-secret", true},
		{"AKIAFORGELINKCI0001", "ci-secret-0123456789abcdef", true},
		{"AKIAUNKNOWNUNKNOWN", "", false},
		{"", "", false},
	}
	for _, s := range secrets {
		if secret, ok := cfg.SecretAccessKey(s.id); secret != s.secret || ok != s.ok {
			t.Errorf("SecretAccessKey(%q) = %q, %v; want %q, %v", s.id, secret, ok, s.secret, s.ok)
		}
	}
	p, ok := cfg.AccessPolicies()["AKIAFORGELINKCI0001"]
	if !ok || len(p.Statements) != 2 {
		t.Fatalf("AccessPolicies = %+v", cfg.AccessPolicies())
	}
	conn := "arn:aws:codeconnections:us-east-1:123456789012:connection/c1"
	if d := p.Evaluate(policy.Request{Action: "codeconnections:UseConnection", Resource: conn}); d != policy.Allowed {
		t.Errorf("UseConnection: %v", d)
	}
	if d := p.Evaluate(policy.Request{Action: "codeconnections:DeleteConnection", Resource: conn}); d != policy.Denied {
		t.Errorf("DeleteConnection: %v", d)
	}
}

// TestAccessKeyConditions: condition values may be a scalar or a list,
// as in IAM's JSON, and decide as written.
func TestAccessKeyConditions(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "k.secret")
	os.WriteFile(secret, []byte("good-secret-0123456789"), 0o600)
	path := writeFile(t, strings.Join([]string{
		"accessKeys:",
		"  - id: AKIAFORGELINKCI0001",
		"    secretFile: " + secret,
		"    policy:",
		"      statements:",
		"        - effect: Allow",
		"          actions: [codeconnections:UseConnection]",
		"          resources: ['arn:aws:codeconnections:us-east-1:123456789012:connection/*']",
		"          conditions:",
		"            StringEquals:",
		"              codeconnections:FullRepositoryId: acme/app",
		"              codeconnections:ProviderPermissionsRequired: [read_only]",
		"            Null:",
		"              codeconnections:ProviderAction: false",
		"            'ForAllValues:StringLike':",
		"              aws:TagKeys: [team, 'cost-*']",
		"        - effect: Allow",
		"          actions: ['forgelink:*']",
		"          resources: ['*']",
	}, "\n"))
	cfg, err := Load(path, rootEnv())
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if w := cfg.AccessKeyWarnings(); w != nil {
		t.Errorf("warnings: %v", w)
	}
	p := cfg.AccessPolicies()["AKIAFORGELINKCI0001"]
	conn := "arn:aws:codeconnections:us-east-1:123456789012:connection/c1"
	use := func(repo, perm string) policy.Request {
		return policy.Request{Action: "codeconnections:UseConnection", Resource: conn, Context: policy.Context{
			policy.KeyFullRepositoryID: {repo}, policy.KeyProviderPermissionsRequired: {perm}, policy.KeyProviderAction: {"GitPull"},
		}}
	}
	for _, tc := range []struct {
		name string
		r    policy.Request
		want policy.Decision
	}{
		{"the repository, read-only", use("acme/app", "read_only"), policy.Allowed},
		{"write", use("acme/app", "read_write"), policy.NotAllowed},
		{"another repository", use("acme/other", "read_only"), policy.NotAllowed},
		{"forgelink's own operation", policy.Request{Action: "forgelink:ListEvents", Resource: "*"}, policy.Allowed},
	} {
		if got := p.Evaluate(tc.r); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestAccessKeyConditionsValidate: problems in conditions, and actions of
// the previous release's spelling, are reported with file and line.
func TestAccessKeyConditionsValidate(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "k.secret")
	os.WriteFile(secret, []byte("good-secret-0123456789"), 0o600)
	path := writeFile(t, strings.Join([]string{
		"accessKeys:",
		"  - id: AKIAFORGELINKCI0001", // 2
		"    secretFile: " + secret,   // 3
		"    policy:",                 // 4
		"      statements:",           // 5
		"        - effect: Allow",     // 6
		"          actions: [codeconnections:UseConnection]", // 7
		"          resources: ['*']",                         // 8
		"          conditions:",                              // 9
		"            StringEquals:",                          // 10
		"              codeconnections:ProviderPermissionsRequired: [read_only, readonly]", // 11
		"              aws:SourceIp: 10.0.0.1",                                             // 12
		"            NullIfExists: {codeconnections:ProviderAction: true}",                 // 13
		"            'ForAllValues:StringEquals':",                                         // 14
		"              codeconnections:FullRepositoryId: acme/app",                         // 15
		"        - effect: Allow",                                                          // 16
		"          actions:",                                                               // 17
		"            - codeconnections:ListEvents",                                         // 18
		"          resources: ['*']",                                                       // 19
	}, "\n"))
	cfg, verr := loadInvalid(t, path)
	const s = "accessKeys[0].policy.statements"
	want := map[string]int{
		s + "[0].conditions.StringEquals.codeconnections:ProviderPermissionsRequired": 11,
		s + "[0].conditions.StringEquals.aws:SourceIp":                                12,
		s + "[0].conditions.NullIfExists":                                             13,
		s + "[1].actions[0]":                                                          18,
	}
	checkLines(t, verr, want)
	if msg := verr.Error(); !strings.Contains(msg, "forgelink.yaml:18: "+s+"[1].actions[0]: codeconnections:ListEvents is forgelink's own operation, not a CodeConnections action: write forgelink:ListEvents") {
		t.Errorf("message does not name file, line and the new spelling:\n%s", msg)
	}
	warns := cfg.AccessKeyWarnings()
	if len(warns) != 1 || warns[0].Line != 15 || !strings.Contains(warns[0].Error(), "forgelink.yaml:15: "+s+"[0].conditions.ForAllValues:StringEquals.codeconnections:FullRepositoryId: ForAllValues:StringEquals on the single-valued key") {
		t.Errorf("warnings = %v", warns)
	}
}

// TestAccessKeyConditionsDecode: malformed condition blocks are refused
// at their line.
func TestAccessKeyConditionsDecode(t *testing.T) {
	path := writeFile(t, "accessKeys:\n  - id: AKIAFORGELINKCI0001\n    policy:\n      statements:\n        - effect: Allow\n"+
		"          conditions:\n            StringEquals:\n              codeconnections:OwnerId: {a: b}\n")
	_, verr := loadInvalid(t, path)
	if !strings.Contains(verr.Error(), "forgelink.yaml:8: accessKeys[0].policy.statements[0].conditions: condition values are a string or a list of strings") {
		t.Errorf("Validate = %v, want the line of the mapping", verr)
	}
}

func TestAccessKeysValidate(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short.secret")
	good := filepath.Join(dir, "good.secret")
	os.WriteFile(short, []byte("tiny-s3cret\n"), 0o600)
	os.WriteFile(good, []byte("good-secret-0123456789"), 0o600)
	path := writeFile(t, strings.Join([]string{
		"accessKeys:",
		"  - id: short",                       // 2
		"    secretFile: " + short,            // 3
		"    policy:",                         // 4
		"      statements:",                   // 5
		"        - effect: allow",             // 6
		"          actions: [s3:GetObject]",   // 7
		"          resources: [connection/x]", // 8
		"  - id: " + rootEnvID,                // 9
		"    secretFile: " + good,             // 10
		"    policy:",                         // 11
		"      statements: []",                // 12
		"  - id: AKIAFORGELINKDUP01",          // 13
		"    secretFile: " + good,             // 14
		"    policy: {statements: [{effect: Allow, actions: ['*'], resources: ['*']}]}",
		"  - id: AKIAFORGELINKDUP01",               // 16
		"    policy:",                              // 17
		"      statements:",                        // 18
		"        - effect: Deny",                   // 19
		"          actions:",                       // 20
		"            - codeconnections:GetHost",    // 21
		"            - 'codeconnections:Get Host'", // 22
		"          resources: ['*']",               // 23
	}, "\n"))
	_, verr := loadInvalid(t, path)
	for _, fe := range verr {
		if strings.Contains(fe.Msg, "tiny-s3cret") {
			t.Errorf("%s quotes the secret: %s", fe.Field, fe.Msg)
		}
	}
	want := map[string]int{
		"accessKeys[0].id":                                2,
		"accessKeys[0].secretFile":                        3,
		"accessKeys[0].policy.statements[0].effect":       6,
		"accessKeys[0].policy.statements[0].actions[0]":   7,
		"accessKeys[0].policy.statements[0].resources[0]": 8,
		"accessKeys[1].id":                                9,
		"accessKeys[1].policy.statements":                 12,
		"accessKeys[3].id":                                16,
		"accessKeys[3].secretFile":                        0, // absent: no line
		"accessKeys[3].policy.statements[0].actions[1]":   22,
	}
	checkLines(t, verr, want)
	if msg := verr.Error(); !strings.Contains(msg, "forgelink.yaml:2: accessKeys[0].id: want 16-128 letters") {
		t.Errorf("message does not name file and line:\n%s", msg)
	}
}

// TestAccessKeysNeedRoot: without root credentials nothing is
// authenticated, so configured keys would mean nothing. The file alone
// (config validate) does not know the environment and passes.
func TestAccessKeysNeedRoot(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "k.secret")
	os.WriteFile(secret, []byte("good-secret-0123456789"), 0o600)
	path := writeFile(t, "accessKeys:\n  - id: AKIAFORGELINKCI0001\n    secretFile: "+secret+
		"\n    policy: {statements: [{effect: Allow, actions: ['*'], resources: ['*']}]}\n")
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.ValidateFile(); err != nil {
		t.Errorf("ValidateFile: %v", err)
	}
	err = cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "forgelink.yaml:1: accessKeys: access keys need root credentials") {
		t.Errorf("Validate = %v, want a refusal at accessKeys", err)
	}
}

func TestAccessKeysUnknownField(t *testing.T) {
	path := writeFile(t, "accessKeys:\n  - id: AKIAFORGELINKCI0001\n    policy:\n      statements:\n        - effect: Allow\n          notActions: ['*']\n")
	if _, verr := loadInvalid(t, path); !strings.Contains(verr.Error(), "forgelink.yaml:6: accessKeys[0].policy.statements[0].notActions: unknown field") {
		t.Errorf("Validate = %v, want notActions refused", verr)
	}
}
