package policy

import (
	"errors"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const (
	useConnection = "codeconnections:UseConnection"
	arnHostLegacy = "arn:aws:codestar-connections:us-east-1:123456789012:host/gl-0123abcd"
)

// when is a statement with conditions, for short tables.
func when(effect Effect, actions, resources []string, c Conditions) Statement {
	return Statement{Effect: effect, Actions: actions, Resources: resources, Conditions: c}
}

func list(s ...string) []string { return s }

// allowIf is a policy of one statement that allows action on any
// resource under the conditions.
func allowIf(action string, c Conditions) Policy {
	return Policy{Statements: []Statement{when(Allow, list(action), list("*"), c)}}
}

func TestEvaluateConditions(t *testing.T) {
	star := list("*")
	// AWS's published examples (dtconsole user guide, "Identity-based
	// policy examples" for connections), written with the new prefix.
	cliSDK := Policy{Statements: []Statement{when(Allow, list(
		"codeconnections:CreateConnection", "codeconnections:DeleteConnection", "codeconnections:GetConnection",
		"codeconnections:ListConnections", "codeconnections:UseConnection", "codeconnections:ListTagsForResource",
		"codeconnections:TagResource", "codeconnections:UntagResource"), star, nil)}}
	readOnly := Policy{Statements: []Statement{when(Allow, list(
		"codeconnections:GetConnection", "codeconnections:ListConnections", "codeconnections:ListInstallationTargets",
		"codeconnections:GetInstallationUrl", "codeconnections:ListTagsForResource"), star, nil)}}
	vpcHost := Policy{Statements: []Statement{when(Allow, list("codeconnections:CreateHost", "codeconnections:UpdateHost"), star,
		Conditions{"StringEquals": {"codeconnections:VpcId": {"vpc-EXAMPLE"}}})}}
	// The common shape: one repository, read-only, through UseConnection.
	common := Policy{Statements: []Statement{when(Allow, list(useConnection), list(arnA), Conditions{"StringEquals": {
		"codeconnections:FullRepositoryId":            {"acme/app"},
		"codeconnections:ProviderPermissionsRequired": {"read_only"},
	}})}}
	// The trap: ForAllValues on a single-valued key holds when it is absent.
	trap := allowIf(useConnection, Conditions{"ForAllValues:StringEquals": {"codeconnections:FullRepositoryId": {"acme/app"}}})
	denyWrite := Policy{Statements: []Statement{
		when(Allow, list("codeconnections:*"), star, nil),
		when(Deny, list(useConnection), star, Conditions{"StringEquals": {"codeconnections:ProviderPermissionsRequired": {"read_write"}}}),
	}}
	ifExists := allowIf(useConnection, Conditions{"StringEqualsIfExists": {"codeconnections:FullRepositoryId": {"acme/app"}}})
	actionPresent := allowIf(useConnection, Conditions{"Null": {"codeconnections:ProviderAction": {"false"}}})
	actionAbsent := allowIf(useConnection, Conditions{"Null": {"codeconnections:ProviderAction": {"true"}}})
	notRed := allowIf("codeconnections:GetConnection", Conditions{"StringNotEquals": {"aws:ResourceTag/team": {"red"}}})
	notLike := allowIf("codeconnections:GetConnection", Conditions{"StringNotLike": {"aws:ResourceTag/team": {"r*"}}})
	notHost := allowIf("codeconnections:RegisterAppCode", Conditions{"ArnNotLike": {"codeconnections:HostArn": {"arn:aws:codeconnections:*:123456789012:host/gl-*"}}})
	onlyApp := Policy{Statements: []Statement{
		when(Allow, star, star, nil),
		when(Deny, star, star, Conditions{"StringNotEquals": {"codeconnections:FullRepositoryId": {"acme/app", "acme/lib"}}}),
	}}
	mixedCase := allowIf("codeconnections:GetConnection", Conditions{"StringEquals": {"AWS:resourcetag/TEAM": {"blue"}}, "StringLike": {"CodeStar-Connections:ownerid": {"ac?e"}}})
	prod := allowIf("codeconnections:GetConnection", Conditions{"StringLike": {"aws:ResourceTag/env": {"prod-*"}}})
	allTags := allowIf("codeconnections:TagResource", Conditions{"ForAllValues:StringLike": {"aws:TagKeys": {"team", "cost-*"}}})
	anyTag := allowIf("codeconnections:TagResource", Conditions{"ForAnyValue:StringEquals": {"aws:TagKeys": {"team"}}})
	anyNotTag := allowIf("codeconnections:TagResource", Conditions{"ForAnyValue:StringNotEquals": {"aws:TagKeys": {"team"}}})
	noSecretTag := allowIf("codeconnections:TagResource", Conditions{"ForAllValues:StringNotEquals": {"aws:TagKeys": {"secret"}}})
	ignoreCase := allowIf(useConnection, Conditions{
		"StringEqualsIgnoreCase":    {"codeconnections:OwnerId": {"Acme"}},
		"StringNotEqualsIgnoreCase": {"codeconnections:RepositoryName": {"Secrets"}},
	})
	hosts := Policy{Statements: []Statement{
		when(Allow, list("codeconnections:StartAppRegistrationHandshake"), star,
			Conditions{"ArnLike": {"codeconnections:HostArn": {"arn:aws:codeconnections:us-east-1:123456789012:host/gl-*"}}}),
		when(Allow, list("codeconnections:RegisterAppCode"), star, Conditions{"ArnEquals": {"codeconnections:HostArn": {arnHost}}}),
	}}
	boolTag := allowIf("codeconnections:GetHost", Conditions{"BoolIfExists": {"aws:ResourceTag/shared": {"true"}}})
	brokenAllow := Policy{Statements: []Statement{when(Allow, star, star, Conditions{"StringEqual": {"codeconnections:OwnerId": {"acme"}}})}}
	brokenDeny := Policy{Statements: []Statement{
		when(Allow, star, star, nil),
		when(Deny, star, star, Conditions{"StringEquals": {"aws:SourceIp": {"10.0.0.1"}}}),
	}}
	emptyOperator := Policy{Statements: []Statement{when(Allow, star, star, Conditions{"StringEquals": {}})}}
	namespaces := Policy{Statements: []Statement{when(Allow, list("forgelink:*"), star, nil)}}

	ctx := func(kv ...string) Context {
		c := Context{}
		for i := 0; i+1 < len(kv); i += 2 {
			c[kv[i]] = append(c[kv[i]], kv[i+1])
		}
		return c
	}
	tagKeys := func(keys ...string) Context { return Context{"aws:TagKeys": keys} }
	tests := []struct {
		name     string
		p        Policy
		action   string
		resource string
		ctx      Context
		want     Decision
	}{
		{"cli/sdk: create", cliSDK, "codeconnections:CreateConnection", "*", nil, Allowed},
		{"cli/sdk: use", cliSDK, useConnection, arnA, ctx("codeconnections:FullRepositoryId", "x/y"), Allowed},
		{"cli/sdk: no hosts", cliSDK, "codeconnections:DeleteHost", arnHost, nil, NotAllowed},
		{"cli/sdk: no forgelink operations", cliSDK, "forgelink:ListEvents", "*", nil, NotAllowed},
		{"read-only: get", readOnly, "codeconnections:GetConnection", arnA, nil, Allowed},
		{"read-only: no delete", readOnly, "codeconnections:DeleteConnection", arnA, nil, NotAllowed},
		{"read-only: no webhook secret", readOnly, "forgelink:GetConnectionWebhook", arnA, nil, NotAllowed},
		{"vpc: that vpc", vpcHost, "codeconnections:CreateHost", "*", ctx("codeconnections:VpcId", "vpc-EXAMPLE"), Allowed},
		{"vpc: another vpc", vpcHost, "codeconnections:UpdateHost", arnHost, ctx("codeconnections:VpcId", "vpc-OTHER"), NotAllowed},
		{"vpc: no vpc", vpcHost, "codeconnections:CreateHost", "*", nil, NotAllowed},
		{"common: the repository, read", common, useConnection, arnA,
			ctx("codeconnections:FullRepositoryId", "acme/app", "codeconnections:ProviderPermissionsRequired", "read_only"), Allowed},
		{"common: write", common, useConnection, arnA,
			ctx("codeconnections:FullRepositoryId", "acme/app", "codeconnections:ProviderPermissionsRequired", "read_write"), NotAllowed},
		{"common: another repository", common, useConnection, arnA,
			ctx("codeconnections:FullRepositoryId", "acme/other", "codeconnections:ProviderPermissionsRequired", "read_only"), NotAllowed},
		{"common: no repository", common, useConnection, arnA, ctx("codeconnections:ProviderPermissionsRequired", "read_only"), NotAllowed},
		{"common: another connection", common, useConnection, arnB,
			ctx("codeconnections:FullRepositoryId", "acme/app", "codeconnections:ProviderPermissionsRequired", "read_only"), NotAllowed},
		{"common: values are case-sensitive", common, useConnection, arnA,
			ctx("codeconnections:FullRepositoryId", "ACME/app", "codeconnections:ProviderPermissionsRequired", "read_only"), NotAllowed},
		{"common: keys are case-insensitive", common, useConnection, arnA,
			ctx("CODECONNECTIONS:fullrepositoryid", "acme/app", "codeconnections:providerPermissionsRequired", "read_only"), Allowed},
		{"common: legacy key prefix", common, useConnection, arnA,
			ctx("codestar-connections:FullRepositoryId", "acme/app", "codestar-connections:ProviderPermissionsRequired", "read_only"), Allowed},
		{"trap: absent key grants", trap, useConnection, arnA, nil, Allowed},
		{"trap: empty key grants", trap, useConnection, arnA, Context{"codeconnections:FullRepositoryId": {}}, Allowed},
		{"trap: other repository", trap, useConnection, arnA, ctx("codeconnections:FullRepositoryId", "acme/other"), NotAllowed},
		{"trap: the repository", trap, useConnection, arnA, ctx("codeconnections:FullRepositoryId", "acme/app"), Allowed},
		{"deny with condition beats allow", denyWrite, useConnection, arnA, ctx("codeconnections:ProviderPermissionsRequired", "read_write"), Denied},
		{"deny condition false", denyWrite, useConnection, arnA, ctx("codeconnections:ProviderPermissionsRequired", "read_only"), Allowed},
		{"deny condition on absent key", denyWrite, useConnection, arnA, nil, Allowed},
		{"IfExists: absent widens", ifExists, useConnection, arnA, nil, Allowed},
		{"IfExists: present matches", ifExists, useConnection, arnA, ctx("codeconnections:FullRepositoryId", "acme/app"), Allowed},
		{"IfExists: present differs", ifExists, useConnection, arnA, ctx("codeconnections:FullRepositoryId", "acme/x"), NotAllowed},
		{"Null false: present", actionPresent, useConnection, arnA, ctx("codeconnections:ProviderAction", "GitPull"), Allowed},
		{"Null false: absent", actionPresent, useConnection, arnA, nil, NotAllowed},
		{"Null true: absent", actionAbsent, useConnection, arnA, nil, Allowed},
		{"Null true: empty is absent", actionAbsent, useConnection, arnA, Context{"codeconnections:ProviderAction": nil}, Allowed},
		{"Null true: present", actionAbsent, useConnection, arnA, ctx("codeconnections:ProviderAction", "GitPull"), NotAllowed},
		{"StringNotEquals: absent", notRed, "codeconnections:GetConnection", arnA, nil, Allowed},
		{"StringNotEquals: other", notRed, "codeconnections:GetConnection", arnA, ctx("aws:ResourceTag/team", "blue"), Allowed},
		{"StringNotEquals: equal", notRed, "codeconnections:GetConnection", arnA, ctx("aws:ResourceTag/team", "red"), NotAllowed},
		{"StringNotLike: absent", notLike, "codeconnections:GetConnection", arnA, nil, Allowed},
		{"StringNotLike: like", notLike, "codeconnections:GetConnection", arnA, ctx("aws:ResourceTag/team", "rose"), NotAllowed},
		{"ArnNotLike: absent", notHost, "codeconnections:RegisterAppCode", "*", nil, Allowed},
		{"ArnNotLike: like", notHost, "codeconnections:RegisterAppCode", "*", ctx("codeconnections:HostArn", arnHost), NotAllowed},
		// ARNs compare as written: a host created through the legacy API has
		// its own ARN, which a codeconnections pattern does not name.
		{"ArnNotLike: legacy ARN is another ARN", notHost, "codeconnections:RegisterAppCode", "*", ctx("codeconnections:HostArn", arnHostLegacy), Allowed},
		{"negated deny on absent key denies", onlyApp, useConnection, arnA, nil, Denied},
		{"negated deny: second value", onlyApp, useConnection, arnA, ctx("codeconnections:FullRepositoryId", "acme/lib"), Allowed},
		{"negated deny: no value matches", onlyApp, useConnection, arnA, ctx("codeconnections:FullRepositoryId", "acme/x"), Denied},
		{"mixed-case keys", mixedCase, "codeconnections:GetConnection", arnA, ctx("aws:ResourceTag/team", "blue", "codeconnections:OwnerId", "acme"), Allowed},
		{"operators are ANDed", mixedCase, "codeconnections:GetConnection", arnA, ctx("aws:ResourceTag/team", "blue", "codeconnections:OwnerId", "other"), NotAllowed},
		{"tag keys are case-insensitive", mixedCase, "codeconnections:GetConnection", arnA, ctx("aws:ResourceTag/Team", "blue", "codeconnections:OwnerId", "acme"), Allowed},
		{"tag values are not", mixedCase, "codeconnections:GetConnection", arnA, ctx("aws:ResourceTag/team", "Blue", "codeconnections:OwnerId", "acme"), NotAllowed},
		{"ResourceTag like", prod, "codeconnections:GetConnection", arnA, ctx("aws:ResourceTag/env", "prod-eu"), Allowed},
		{"ResourceTag of another key", prod, "codeconnections:GetConnection", arnA, ctx("aws:ResourceTag/stage", "prod-eu"), NotAllowed},
		{"ForAllValues: all listed", allTags, "codeconnections:TagResource", arnA, tagKeys("team", "cost-center"), Allowed},
		{"ForAllValues: one unlisted", allTags, "codeconnections:TagResource", arnA, tagKeys("team", "owner"), NotAllowed},
		{"ForAllValues: absent", allTags, "codeconnections:TagResource", arnA, nil, Allowed},
		{"ForAllValues: empty", allTags, "codeconnections:TagResource", arnA, tagKeys(), Allowed},
		{"ForAnyValue: one listed", anyTag, "codeconnections:TagResource", arnA, tagKeys("owner", "team"), Allowed},
		{"ForAnyValue: none listed", anyTag, "codeconnections:TagResource", arnA, tagKeys("owner"), NotAllowed},
		{"ForAnyValue: absent", anyTag, "codeconnections:TagResource", arnA, nil, NotAllowed},
		{"ForAnyValue negated: only the listed", anyNotTag, "codeconnections:TagResource", arnA, tagKeys("team"), NotAllowed},
		{"ForAnyValue negated: another", anyNotTag, "codeconnections:TagResource", arnA, tagKeys("team", "owner"), Allowed},
		{"ForAllValues negated: none listed", noSecretTag, "codeconnections:TagResource", arnA, tagKeys("a", "b"), Allowed},
		{"ForAllValues negated: one listed", noSecretTag, "codeconnections:TagResource", arnA, tagKeys("a", "secret"), NotAllowed},
		{"IgnoreCase", ignoreCase, useConnection, arnA, ctx("codeconnections:OwnerId", "ACME", "codeconnections:RepositoryName", "app"), Allowed},
		{"NotEqualsIgnoreCase", ignoreCase, useConnection, arnA, ctx("codeconnections:OwnerId", "acme", "codeconnections:RepositoryName", "SECRETS"), NotAllowed},
		{"ArnLike", hosts, "codeconnections:StartAppRegistrationHandshake", "*", ctx("codeconnections:HostArn", arnHost), Allowed},
		{"ArnLike: legacy ARN is another ARN", hosts, "codeconnections:StartAppRegistrationHandshake", "*", ctx("codeconnections:HostArn", arnHostLegacy), NotAllowed},
		{"ArnLike: other account", hosts, "codeconnections:StartAppRegistrationHandshake", "*",
			ctx("codeconnections:HostArn", "arn:aws:codeconnections:us-east-1:999999999999:host/gl-0123abcd"), NotAllowed},
		{"ArnEquals", hosts, "codeconnections:RegisterAppCode", "*", ctx("codeconnections:HostArn", arnHost), Allowed},
		{"ArnEquals: not an ARN", hosts, "codeconnections:RegisterAppCode", "*", ctx("codeconnections:HostArn", "gl-0123abcd"), NotAllowed},
		{"Bool: true", boolTag, "codeconnections:GetHost", arnHost, ctx("aws:ResourceTag/shared", "true"), Allowed},
		{"Bool: false", boolTag, "codeconnections:GetHost", arnHost, ctx("aws:ResourceTag/shared", "false"), NotAllowed},
		{"Bool: IfExists", boolTag, "codeconnections:GetHost", arnHost, nil, Allowed},
		{"broken Allow condition grants nothing", brokenAllow, useConnection, arnA, ctx("codeconnections:OwnerId", "acme"), NotAllowed},
		{"broken Deny condition denies", brokenDeny, useConnection, arnA, nil, Denied},
		{"operator without keys grants nothing", emptyOperator, useConnection, arnA, nil, NotAllowed},
		{"forgelink:* allows forgelink's operations", namespaces, "forgelink:ListEvents", "*", nil, Allowed},
		{"forgelink:* is not codeconnections", namespaces, "codeconnections:GetConnection", arnA, nil, NotAllowed},
	}
	for _, tc := range tests {
		r := Request{Action: tc.action, Resource: tc.resource, Context: tc.ctx}
		if got := tc.p.Evaluate(r); got != tc.want {
			t.Errorf("%s: Evaluate(%s, %s, %v) = %v, want %v", tc.name, tc.action, tc.resource, tc.ctx, got, tc.want)
		}
		// The Authorizer's prepared policy decides the same.
		if got := NewAuthorizer("", map[string]Policy{"K": tc.p}).Authorize("K", r); got != tc.want {
			t.Errorf("%s: Authorize = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestContextSpellingsMerge: a context that spells one key twice carries
// both values; a negated operator must see the one that matches.
func TestContextSpellingsMerge(t *testing.T) {
	p := Policy{Statements: []Statement{when(Allow, list("*"), list("*"),
		Conditions{"StringNotEquals": {"aws:ResourceTag/team": {"red"}}})}}
	r := Request{Action: useConnection, Resource: arnA, Context: Context{"aws:ResourceTag/team": {"blue"}, "AWS:RESOURCETAG/TEAM": {"red"}}}
	if got := p.Evaluate(r); got != NotAllowed {
		t.Errorf("Evaluate = %v, want not allowed", got)
	}
}

func TestCheckAction(t *testing.T) {
	tests := []struct {
		action  string
		wantErr string // "" for valid
	}{
		{"*", ""},
		{"codeconnections:GetConnection", ""},
		{"CodeStar-Connections:UseConnection", ""},
		{"codeconnections:GetInstallationUrl", ""},
		{"codeconnections:Get*", ""},
		{"forgelink:ListEvents", ""},
		{"Forgelink:listevents", ""},
		{"forgelink:*", ""},
		{"forgelink:*Delivery", ""},
		{"codeconnections:ListEvents*", ""}, // a wildcard: no trap, IAM semantics
		{"codeconnections:ListEvents", "write forgelink:ListEvents"},
		{"codestar-connections:getconnectionwebhook", "write forgelink:GetConnectionWebhook"},
		{"codeconnections:CreateConsoleLink", "write forgelink:CreateConsoleLink"},
		{"forgelink:GetConnectionToken", "names none of forgelink's actions"},
		{"forgelink:Nothing*", "names none of forgelink's actions"},
		{"s3:GetObject", "want codeconnections:<Action>, forgelink:<Action>"},
		{"GetConnection", "want codeconnections:<Action>"},
		{"forgelink:", "want 1-128 characters"},
		{"forgelink:Get Event", "only letters, digits"},
	}
	for _, tc := range tests {
		err := CheckAction(tc.action)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("CheckAction(%q) = %v, want nil", tc.action, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("CheckAction(%q) = %v, want an error containing %q", tc.action, err, tc.wantErr)
		}
	}
	for _, a := range ForgelinkActions() {
		if err := CheckAction(a); err != nil {
			t.Errorf("CheckAction(%q) = %v", a, err)
		}
	}
}

func TestForgelinkActionsIsACopy(t *testing.T) {
	a := ForgelinkActions()
	if len(a) != 14 || a[0] != "forgelink:GetConnectionWebhook" {
		t.Fatalf("ForgelinkActions() = %v", a)
	}
	a[0] = "changed"
	if ForgelinkActions()[0] != "forgelink:GetConnectionWebhook" {
		t.Error("ForgelinkActions shares its slice")
	}
}

func TestValidateConditions(t *testing.T) {
	good := Policy{Statements: []Statement{when(Allow, list(useConnection), list(arnA), Conditions{
		"StringEquals":                {"codeconnections:FullRepositoryId": {"acme/app"}, "codestar-connections:ProviderPermissionsRequired": {"read_only"}},
		"StringLike":                  {"codeconnections:ProviderAction": {"Get*", "GitPull"}},
		"StringEqualsIgnoreCase":      {"codeconnections:ProviderType": {"github"}},
		"ForAllValues:StringLike":     {"aws:TagKeys": {"team", "cost-*"}},
		"ForAnyValue:StringNotEquals": {"AWS:TagKeys": {"secret"}},
		"ArnLikeIfExists":             {"codeconnections:HostArn": {"arn:aws:codeconnections:*:123456789012:host/*", "*"}},
		"Null":                        {"aws:ResourceTag/team": {"false"}},
		"Bool":                        {"aws:RequestTag/shared": {"True"}},
		"StringNotEquals":             {"codeconnections:InstallationId": {"0123"}, "codeconnections:PassedToService": {"codepipeline.amazonaws.com"}},
		"StringNotLikeIfExists":       {"codeconnections:BranchName": {"release/*"}, "codeconnections:OwnerId": {"acme"}, "codeconnections:RepositoryName": {"app"}},
		"ForAnyValue:StringEquals":    {"codeconnections:VpcId": {"vpc-1"}, "codeconnections:ProviderTypeFilter": {"GitLab"}},
	})}}
	if err := good.Validate(); err != nil {
		t.Errorf("good policy: %v", err)
	}
	many := Conditions{"StringEquals": {}}
	for i := range maxConditions + 1 {
		many["StringEquals"][KeyResourceTagPrefix+strings.Repeat("k", i+1)] = Values{"v"}
	}
	bad := Policy{Statements: []Statement{
		when(Allow, list(useConnection), list("*"), Conditions{
			"StringEqual":               {"codeconnections:OwnerId": {"acme"}},
			"stringequals":              {"codeconnections:OwnerId": {"acme"}},
			"NullIfExists":              {"codeconnections:OwnerId": {"true"}},
			"ForAnyValue:Null":          {"codeconnections:OwnerId": {"true"}},
			"Null":                      {"codeconnections:OwnerId": {"yes"}},
			"Bool":                      {"aws:ResourceTag/x": {"1"}},
			"StringEquals":              {"codeconnections:FullRepositoryId": {}, "codeconnections:Branch": {"main"}, "aws:SourceIp": {"10.0.0.1"}},
			"StringLike":                {"codeconnections:ProviderPermissionsRequired": {"readonly"}, "codeconnections:OwnerId": {"${aws:username}"}},
			"StringNotEquals":           {"codeconnections:ProviderType": {"Github"}, "aws:ResourceTag/": {"x"}},
			"ArnLike":                   {"codeconnections:HostArn": {"host/x"}},
			"ForAllValues:StringEquals": {"codeconnections:RepositoryName": {"a"}, "CodeConnections:repositoryname": {"b"}},
			"StringNotLike":             {},
			"StringEqualsIgnoreCase":    {"codeconnections:OwnerId": Values(strings.Split(strings.Repeat("x,", maxConditionValues), ","))},
			"StringNotEqualsIgnoreCase": {"codeconnections:OwnerId": {strings.Repeat("x", maxConditionValue+1)}},
		}),
		when(Deny, list("*"), list("*"), many),
	}}
	err := bad.Validate()
	var probs Problems
	if !errors.As(err, &probs) {
		t.Fatalf("Validate = %v, want Problems", err)
	}
	got := map[string][]string{}
	for _, p := range probs {
		got[p.Path] = append(got[p.Path], p.Msg)
	}
	const c0 = "statements[0].conditions."
	want := map[string]string{
		c0 + "StringEqual":                                              "unknown condition operator",
		c0 + "stringequals":                                             "did you mean StringEquals?",
		c0 + "NullIfExists":                                             "takes no IfExists",
		c0 + "ForAnyValue:Null":                                         "takes no ForAnyValue:",
		c0 + "Null.codeconnections:OwnerId":                             `want true or false, got "yes"`,
		c0 + "Bool.aws:ResourceTag/x":                                   `want true or false, got "1"`,
		c0 + "StringEquals.codeconnections:FullRepositoryId":            "needs at least one value",
		c0 + "StringEquals.codeconnections:Branch":                      "unknown condition key",
		c0 + "StringEquals.aws:SourceIp":                                "known keys: codeconnections:FullRepositoryId,",
		c0 + "StringLike.codeconnections:ProviderPermissionsRequired":   `"readonly" matches none of the values`,
		c0 + "StringLike.codeconnections:OwnerId":                       "policy variables are not supported",
		c0 + "StringNotEquals.codeconnections:ProviderType":             "GitHubEnterpriseServer",
		c0 + "StringNotEquals.aws:ResourceTag/":                         "with a tag key of 1-128 characters",
		c0 + "ArnLike.codeconnections:HostArn":                          "want an ARN",
		c0 + "ForAllValues:StringEquals.codeconnections:RepositoryName": "the same key as CodeConnections:repositoryname",
		c0 + "StringNotLike":                                            "needs at least one condition key",
		c0 + "StringEqualsIgnoreCase.codeconnections:OwnerId":           "at most 64 values",
		c0 + "StringNotEqualsIgnoreCase.codeconnections:OwnerId":        "at most 1024 characters",
		"statements[1].conditions":                                      "at most 32 condition keys",
	}
	for path, msg := range want {
		if !strings.Contains(strings.Join(got[path], " | "), msg) {
			t.Errorf("%s: problems %q, want one containing %q", path, got[path], msg)
		}
	}
	if len(got) != len(want) {
		t.Errorf("problems at %d paths, want %d:\n%v", len(got), len(want), probs)
	}
	// Every broken condition is also refused by the evaluator's own check:
	// the statement grants nothing.
	if d := (Policy{Statements: bad.Statements[:1]}).Evaluate(Request{Action: useConnection, Resource: arnA}); d != NotAllowed {
		t.Errorf("invalid Allow statement: %v", d)
	}
}

func TestValidateBounds(t *testing.T) {
	stmt := Statement{Effect: Allow, Actions: list("*"), Resources: list("*")}
	long := Statement{Effect: Allow, Actions: make([]string, maxListLen+1), Resources: make([]string, maxListLen+1)}
	for i := range long.Actions {
		long.Actions[i], long.Resources[i] = "*", "*"
	}
	p := Policy{Statements: make([]Statement, maxStatements+1)}
	for i := range p.Statements {
		p.Statements[i] = stmt
	}
	p.Statements[0] = long
	err := p.Validate()
	for _, want := range []string{"statements: at most 128 statements", "statements[0].actions: at most 128 actions", "statements[0].resources: at most 128 resources"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want %q", err, want)
		}
	}
}

func TestWarnings(t *testing.T) {
	p := Policy{Statements: []Statement{
		when(Allow, list(useConnection), list("*"), Conditions{
			"ForAllValues:StringEquals": {"codeconnections:FullRepositoryId": {"acme/app"}},
			"ForAllValues:StringLike":   {"aws:TagKeys": {"team"}}, // multi-valued: meant
			"ForAnyValue:StringEquals":  {"codeconnections:OwnerId": {"acme"}},
		}),
		when(Deny, list(useConnection), list("*"), Conditions{"ForAllValues:StringEquals": {"codeconnections:OwnerId": {"acme"}}}),
	}}
	w := p.Warnings()
	if len(w) != 1 || w[0].Path != "statements[0].conditions.ForAllValues:StringEquals.codeconnections:FullRepositoryId" ||
		!strings.Contains(w[0].Msg, "write StringEquals") {
		t.Errorf("Warnings = %v", w)
	}
}

func TestValuesYAML(t *testing.T) {
	doc := `
statements:
  - effect: Allow
    actions: [codeconnections:UseConnection]
    resources: ["*"]
    conditions:
      StringEquals:
        codeconnections:FullRepositoryId: acme/app
        codeconnections:InstallationId: 0123
        codeconnections:OwnerId: [acme, "acme-labs"]
      Null:
        codeconnections:ProviderAction: false
      StringLike:
        codeconnections:BranchName: &b main
        codeconnections:RepositoryName: [*b]
`
	var p Policy
	if err := yaml.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatal(err)
	}
	c := p.Statements[0].Conditions
	for _, tc := range []struct {
		op, key string
		want    []string
	}{
		{"StringEquals", "codeconnections:FullRepositoryId", list("acme/app")},
		{"StringEquals", "codeconnections:InstallationId", list("0123")},
		{"StringEquals", "codeconnections:OwnerId", list("acme", "acme-labs")},
		{"Null", "codeconnections:ProviderAction", list("false")},
		{"StringLike", "codeconnections:BranchName", list("main")},
		{"StringLike", "codeconnections:RepositoryName", list("main")},
	} {
		if got := c[tc.op][tc.key]; strings.Join(got, ",") != strings.Join(tc.want, ",") || len(got) != len(tc.want) {
			t.Errorf("%s %s = %q, want %q", tc.op, tc.key, got, tc.want)
		}
	}
	if err := p.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	for _, bad := range []struct{ doc, want string }{
		{"StringEquals: {k: {a: b}}", "line 1: condition values are a string or a list of strings, got a mapping"},
		{"StringEquals: {k: [a, [b]]}", "line 1: a condition value is a string, got a list"},
		{"StringEquals: {k: [a, ~]}", "line 1: a condition value is a string, got null"},
		{"Null: {k: true}\nNull: {k: false}", `line 2: condition operator "Null" is listed twice`},
		{"StringLike: {k: a, k: b}", `line 1: condition key "k" is listed twice`},
		{"[a]: {k: a}", "line 1: a condition operator is a string, got a list"},
		{"StringLike: [k]", "line 1: an operator maps condition keys to values, got a list"},
		{"[StringLike]", "line 1: conditions map operators to condition keys, got a list"},
	} {
		var c Conditions
		if err := yaml.Unmarshal([]byte(bad.doc), &c); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v, want %q", bad.doc, err, bad.want)
		}
	}
	var null Conditions
	if err := yaml.Unmarshal([]byte("StringEquals: {k: }"), &null); err != nil || null["StringEquals"]["k"] != nil {
		t.Errorf("null value: %v, %q", err, null["StringEquals"]["k"])
	}
}

func TestMayAllow(t *testing.T) {
	p := Policy{Statements: []Statement{
		when(Allow, list("forgelink:List*"), list(arnA), Conditions{"StringEquals": {"aws:ResourceTag/team": {"blue"}}}),
		when(Deny, list("codeconnections:*"), list("*"), nil),
	}}
	for action, want := range map[string]bool{
		"forgelink:ListEvents":            true,
		"FORGELINK:listdeliveries":        true,
		"forgelink:GetEvent":              false,
		"codeconnections:ListConnections": false,
	} {
		if got := p.MayAllow(action); got != want {
			t.Errorf("MayAllow(%s) = %v, want %v", action, got, want)
		}
	}
	a := NewAuthorizer("ROOT", map[string]Policy{"K": p})
	if !a.MayAllow("ROOT", "codeconnections:DeleteHost") || !a.MayAllow("K", "forgelink:ListEvents") || a.MayAllow("K", "forgelink:GetEvent") || a.MayAllow("X", "forgelink:ListEvents") {
		t.Error("Authorizer.MayAllow disagrees")
	}
}

// BenchmarkAuthorize: a build host's key (one repository, read-only, a
// Deny on writes) deciding a UseConnection with its context.
func BenchmarkAuthorize(b *testing.B) {
	a := NewAuthorizer("ROOT", map[string]Policy{"K": {Statements: []Statement{
		when(Allow, list("forgelink:List*", "codeconnections:Get*"), list("*"), nil),
		when(Allow, list(useConnection, "codeconnections:GetConnectionToken"), list("arn:aws:codeconnections:us-east-1:123456789012:connection/*"),
			Conditions{"StringEquals": {KeyFullRepositoryID: {"acme/app", "acme/lib"}, KeyProviderPermissionsRequired: {"read_only"}}}),
		when(Deny, list("*"), list("*"), Conditions{"StringEquals": {KeyProviderPermissionsRequired: {"read_write"}}}),
	}}})
	r := Request{Action: useConnection, Resource: arnA, Context: Context{
		KeyFullRepositoryID: {"acme/app"}, KeyProviderPermissionsRequired: {"read_only"}, KeyOwnerID: {"acme"}, KeyRepositoryName: {"app"},
	}}
	for b.Loop() {
		if a.Authorize("K", r) != Allowed {
			b.Fatal("not allowed")
		}
	}
}
