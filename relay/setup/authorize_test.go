package setup

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/forgelink/forgelink/providers/github/githubtest"
	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/store"
)

// grants is an Authorizer: each key may do exactly the requests listed.
type grants map[string][]policy.Request

func (g grants) Authorize(key string, r policy.Request) policy.Decision {
	for _, allowed := range g[key] {
		if allowed.Action == r.Action && allowed.Resource == r.Resource &&
			slices.Equal(allowed.Context[KeyInstallationID], r.Context[KeyInstallationID]) {
			return policy.Allowed
		}
	}
	return policy.NotAllowed
}

// TestCreatorAuthorization: the callback completes a set-up only if the
// access key that made its link may UpdateConnectionInstallation on the
// connection, with the installation id as the condition key.
func TestCreatorAuthorization(t *testing.T) {
	auth := grants{}
	f, gh, app := newGitHubFixture(t, func(o *Options) { o.Authorizer, o.AccountID = auth, "111122223333" })
	allowed, other := f.connection(t, store.ProviderGitHub, ""), f.connection(t, store.ProviderGitHub, "")
	// The installation page finds this one (octo-org's) and sends its id.
	inst := gh.AddInstallation(githubtest.Installation{AppID: app.ID, Account: "octo-org", Users: []string{"octocat"}})
	grant := func(conn store.Connection, installationID int64) policy.Request {
		return policy.Request{Action: ActionUpdateInstallation, Resource: f.svc.connectionARN(conn),
			Context: policy.Context{KeyInstallationID: {strconv.FormatInt(installationID, 10)}}}
	}
	auth["AKIDSCOPED"] = []policy.Request{grant(allowed, inst.ID)}
	auth["AKIDOTHERINST"] = []policy.Request{grant(allowed, inst.ID+1000)}

	as := func(key string) context.Context { return policy.WithCaller(t.Context(), key) }
	tests := []struct {
		name string
		ctx  context.Context
		conn store.Connection
	}{
		{"another connection", as("AKIDSCOPED"), other},
		{"another installation", as("AKIDOTHERINST"), allowed},
		{"a key without a policy", as("AKIDNONE"), allowed},
		{"no key", t.Context(), allowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.snapshot(t)
			checkPage(t, get(t, stepper, installAs(t, f, tc.ctx, tc.conn.ID)), http.StatusForbidden, ActionUpdateInstallation)
			f.checkUnchanged(t, before, tc.name)
		})
	}
	c := confirmationOf(t, get(t, stepper, installAs(t, f, as("AKIDSCOPED"), allowed.ID)))
	if got := f.conn(t, allowed.ID); got.Status != store.StatusPending {
		t.Errorf("connection %s before the confirmation", got.Status)
	}
	// The grant is evaluated again when the confirmation is posted.
	auth["AKIDSCOPED"] = nil
	before := f.snapshot(t)
	checkPage(t, postForm(t, stepper, c.action, c.form), http.StatusForbidden, ActionUpdateInstallation)
	f.checkUnchanged(t, before, "a confirmation after the grant was withdrawn")
	auth["AKIDSCOPED"] = []policy.Request{grant(allowed, inst.ID)}
	checkPage(t, postForm(t, stepper, c.action, c.form), http.StatusOK, "Connection AVAILABLE")
}
