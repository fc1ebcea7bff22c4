package hookreg

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/ingress"
)

// staleGauge reads forgelink_hooks_stale_secret.
func staleGauge(t *testing.T, r *Reconciler) float64 {
	t.Helper()
	var m dto.Metric
	if err := r.staleG.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.Gauge.GetValue()
}

func staleWarnings(logs *observer.ObservedLogs) int {
	return logs.FilterLevelExact(zapcore.WarnLevel).FilterMessageSnippet("no longer accepted").Len()
}

// TestPreviousSecretHoldIsCapped: a hook that keeps failing holds the
// previous secret valid, but not one nanosecond past SecretOverlap from
// the rotation; then the hook is reported.
func TestPreviousSecretHoldIsCapped(t *testing.T) {
	const overlap = time.Hour
	f := newFixture(t)
	f.link(t, "team", "svc")
	core, logs := observer.New(zapcore.InfoLevel)
	r := f.reconcilerWith("a", func(o *Options) {
		o.SecretOverlap, o.Log, o.Registerer = overlap, zap.New(core), prometheus.NewRegistry()
	})
	mustReconcile(t, r, f.conn.ID)
	deliver := newDeliverer(t, f)

	f.clk.Add(time.Second) // a rotation in the creation's tick would be a nanosecond later
	rotatedAt := f.clk.Now()
	f.rotate(t, "secret-1", time.Minute) // the rotation's own overlap is short
	f.hooks.setFail("team/svc", fmt.Errorf("github hooks: %w: HTTP 502", providers.ErrProviderUnavailable))
	end := rotatedAt.Add(overlap)
	for _, at := range []time.Duration{0, 20 * time.Minute, 40 * time.Minute, overlap - time.Nanosecond} {
		f.clk.Set(rotatedAt.Add(at))
		r.Reconcile(t.Context(), f.conn.ID)
		if code := deliver("secret-0"); code != http.StatusAccepted {
			t.Fatalf("old secret %v after the rotation, a hook behind: %d, want 202", at, code)
		}
	}
	secrets, err := f.st.WebhookSecrets(t.Context(), f.conn.ID, f.clk.Now())
	if err != nil || len(secrets) != 2 || !secrets[1].ExpiresAt.Equal(end) {
		t.Fatalf("previous secret %+v (%v): want it held until exactly %v", secrets, err, end)
	}
	if staleGauge(t, r) != 0 || staleWarnings(logs) != 0 {
		t.Errorf("reported stale while the previous secret is valid")
	}

	f.clk.Set(end)
	r.Reconcile(t.Context(), f.conn.ID)
	if code := deliver("secret-0"); code != http.StatusUnauthorized {
		t.Errorf("old secret at the end of the overlap: %d, want 401", code)
	}
	if code := deliver("secret-1"); code != http.StatusAccepted {
		t.Errorf("new secret: %d, want 202", code)
	}
	if got := staleGauge(t, r); got != 1 || staleWarnings(logs) != 1 {
		t.Errorf("stale gauge %v, %d warnings; want the failing hook reported once", got, staleWarnings(logs))
	}
	if row := f.rows(t)["team/svc"]; row.Failures == 0 || row.LastError == "" {
		t.Errorf("row %+v: want it failing", row)
	}

	f.hooks.setFail("team/svc", nil)
	mustReconcile(t, r, f.conn.ID)
	if got := staleGauge(t, r); got != 0 {
		t.Errorf("stale gauge %v once the hook is repaired, want 0", got)
	}
}

// TestRevokeNowIsNeverHeld: a rotation with no overlap (--revoke-now)
// invalidates the old secret at once, failing hooks or not.
func TestRevokeNowIsNeverHeld(t *testing.T) {
	f := newFixture(t)
	f.link(t, "team", "svc")
	r := f.reconcilerWith("a", func(o *Options) { o.Registerer = prometheus.NewRegistry() })
	mustReconcile(t, r, f.conn.ID)
	deliver := newDeliverer(t, f)

	f.hooks.setFail("team/svc", fmt.Errorf("github hooks: %w: HTTP 502", providers.ErrProviderUnavailable))
	f.rotate(t, "secret-1", 0)
	r.Reconcile(t.Context(), f.conn.ID)
	if code := deliver("secret-0"); code != http.StatusUnauthorized {
		t.Errorf("revoked secret: %d, want 401", code)
	}
	if secrets, _ := f.st.WebhookSecrets(t.Context(), f.conn.ID, f.clk.Now()); len(secrets) != 1 {
		t.Errorf("%d secrets valid after a rotation without overlap, want 1", len(secrets))
	}
	if got := staleGauge(t, r); got != 1 {
		t.Errorf("stale gauge %v, want the failing hook reported", got)
	}
}

// TestHookAtFormerURLIsMoved: a hook registered with the URL before path
// tokens is moved to the new URL, not duplicated.
func TestHookAtFormerURLIsMoved(t *testing.T) {
	f := newFixture(t)
	f.link(t, "org", "app")
	legacy := "https://forgelink.example" + ingress.LegacyWebhookPath(f.conn.ID)
	f.hooks.hooks["org/app"] = []*fakeHook{{id: "41", url: legacy, secret: "secret-0"}}
	mustReconcile(t, f.reconciler("a"), f.conn.ID)
	hooks := f.hooks.hooks["org/app"]
	want := "https://forgelink.example" + ingress.WebhookPath(f.kr, f.conn.ID)
	if len(hooks) != 1 || hooks[0].id != "41" || hooks[0].url != want {
		t.Fatalf("hooks %+v: want hook 41 alone, at %s", hooks, want)
	}
	if row := f.rows(t)["org/app"]; row.HookID != "41" || row.URL != want {
		t.Errorf("row %+v", row)
	}
}
