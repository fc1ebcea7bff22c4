package main

import (
	"strings"

	"github.com/forgelink/forgelink/providers"
)

// kindAliases maps what people type to the kind forgelink records
// (providers.Kind): GitHub says pull request, GitLab merge request.
var kindAliases = map[string]providers.Kind{
	"push":          providers.KindPush,
	"pull_request":  providers.KindPullRequest,
	"pull-request":  providers.KindPullRequest,
	"pull":          providers.KindPullRequest,
	"pr":            providers.KindPullRequest,
	"merge_request": providers.KindPullRequest,
	"merge-request": providers.KindPullRequest,
	"mr":            providers.KindPullRequest,
	"ping":          providers.KindPing,
	"installation":  providers.KindInstallation,
	"other":         providers.KindOther,
}

const kindsHelp = "push, pull_request (or pr, pull, mr, merge_request), ping, installation, other"

// kindFlag resolves --kind; an unknown kind is a usage error naming the
// valid ones, rather than a filter that silently matches nothing.
func kindFlag(v string) (*string, error) {
	if v == "" {
		return nil, nil
	}
	k, ok := kindAliases[strings.ToLower(v)]
	if !ok {
		return nil, usagef("unknown --kind %q; valid kinds: %s", v, kindsHelp)
	}
	s := string(k)
	return &s, nil
}
