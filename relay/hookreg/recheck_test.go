package hookreg

import (
	"slices"
	"testing"
	"time"
)

// TestOnDemandRecheck: a hook deleted at the provider behind forgelink's
// back is repaired by a recheck at once, not by a plain Sync, which
// trusts a check made moments ago.
func TestOnDemandRecheck(t *testing.T) {
	tests := []struct {
		name     string
		ask      func(r *Reconciler, connID string)
		repaired bool
	}{
		{"sync", func(r *Reconciler, id string) { r.Sync(id) }, false},
		{"recheck", func(r *Reconciler, id string) { r.Recheck(id) }, true},
		{"recheck all", func(r *Reconciler, _ string) { r.RecheckAll() }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.link(t, "org", "app")
			r := f.reconciler("a")
			mustReconcile(t, r, f.conn.ID)
			f.hooks.deleteAll("org/app") // by hand, at the provider

			f.clk.Add(time.Minute) // well within half an interval
			tt.ask(r, f.conn.ID)
			r.reconcilePending(t.Context())
			secrets, ensures, _ := f.hooks.state()
			if got := len(secrets["org/app"]) == 1; got != tt.repaired {
				t.Errorf("hook repaired: %v, want %v (hooks %v, %d Ensure calls)", got, tt.repaired, secrets, ensures["org/app"])
			}
		})
	}
}

// TestRecheckSatisfiedByLaterCheck: a check made after the recheck was
// asked for (by another daemon) is not repeated.
func TestRecheckSatisfiedByLaterCheck(t *testing.T) {
	f := newFixture(t)
	f.link(t, "org", "app")
	a, b := f.reconciler("a"), f.reconciler("b")
	mustReconcile(t, a, f.conn.ID)

	f.clk.Add(time.Minute)
	a.Recheck(f.conn.ID)
	f.clk.Add(time.Second)
	b.Recheck(f.conn.ID)
	b.reconcilePending(t.Context())
	a.reconcilePending(t.Context())
	if _, ensures, _ := f.hooks.state(); ensures["org/app"] != 2 {
		t.Errorf("Ensure calls: %d, want 2 (the first check and b's recheck)", ensures["org/app"])
	}
}

// TestRecheckAllRemovesUnwanted: a pipeline removed from the configuration
// (SIGHUP) takes its repository's hook with it, when no link wants it.
func TestRecheckAllRemovesUnwanted(t *testing.T) {
	f := newFixture(t)
	f.link(t, "org", "app")
	f.piped = []string{"org/app", "team/svc"}
	r := f.reconciler("a")
	mustReconcile(t, r, f.conn.ID)

	f.piped = nil
	r.RecheckAll()
	r.reconcilePending(t.Context())
	secrets, _, _ := f.hooks.state()
	if len(secrets["team/svc"]) != 0 || len(secrets["org/app"]) != 1 {
		t.Errorf("hooks after the pipelines went: %v, want org/app's only", secrets)
	}
	if rows := f.rows(t); len(rows) != 1 || rows["org/app"].HookID == "" {
		t.Errorf("registered hooks: %v, want org/app's only", rows)
	}
}

// deleteAll removes repo's hooks as a person would at the provider.
func (f *fakeHooks) deleteAll(repo string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hooks[repo] = slices.DeleteFunc(f.hooks[repo], func(*fakeHook) bool { return true })
}
