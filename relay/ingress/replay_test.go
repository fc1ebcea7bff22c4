package ingress

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/forgelink/forgelink/providers/gitlab"
	"github.com/forgelink/forgelink/store"
)

// gitlabSigned returns the headers GitLab sends with a delivery signed by
// the signing token forgelink registered for secret.
func gitlabSigned(t *testing.T, secret []byte, id string, at time.Time, body []byte) http.Header {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(gitlab.SigningToken(secret), "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	return http.Header{
		"X-Gitlab-Event":    {"Push Hook"},
		"Idempotency-Key":   {id},
		"Webhook-Id":        {id},
		"Webhook-Timestamp": {ts},
		"Webhook-Signature": {"v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))},
	}
}

// GitLab deliveries signed with the signing token: forged, stale and
// replayed ones are refused (401) and store nothing; GitLab's own resend,
// signed anew, is a duplicate; the plain secret token still works.
func TestGitLabSigningTokenReplays(t *testing.T) {
	f := newFixtureWith(t, store.StatusAvailable, func(o *Options) {
		o.Providers = map[string]Provider{store.ProviderGitLab: gitlab.Webhooks{Now: o.Now}}
	})
	conn := f.createConnectionOf(t, store.StatusAvailable, store.ProviderGitLab)
	body := []byte(`{"object_kind":"push","ref":"refs/heads/main","before":"a","after":"b","project":{"path_with_namespace":"acme/app"}}`)
	now := f.clock.Now()
	signed := gitlabSigned(t, f.secret, "idem-1", now, body)
	steps := []struct {
		name   string
		header http.Header
		status int
		events int // recorded after the step
	}{
		{"signed", signed, http.StatusAccepted, 1},
		{"replayed as it was", signed, http.StatusUnauthorized, 1},
		{"resent by GitLab, signed anew", gitlabSigned(t, f.secret, "idem-1", now.Add(time.Second), body), http.StatusOK, 1},
		{"forged with another secret", gitlabSigned(t, []byte("guess"), "idem-2", now, body), http.StatusUnauthorized, 1},
		{"forged beside the right secret token", func() http.Header {
			h := gitlabSigned(t, []byte("guess"), "idem-2", now, body)
			h.Set("X-Gitlab-Token", string(f.secret))
			return h
		}(), http.StatusUnauthorized, 1},
		{"stale", gitlabSigned(t, f.secret, "idem-3", now.Add(-6*time.Minute), body), http.StatusUnauthorized, 1},
		{"secret token only (a hook made by hand)", http.Header{"X-Gitlab-Event": {"Push Hook"}, "Idempotency-Key": {"idem-4"}, "X-Gitlab-Token": {string(f.secret)}}, http.StatusAccepted, 2},
	}
	for _, s := range steps {
		status, out := f.send(t, testDelivery{conn: conn.ID, body: body, header: s.header})
		if status != s.status {
			t.Fatalf("%s: %d %v, want %d", s.name, status, out, s.status)
		}
		if n := len(f.events(t)); n != s.events {
			t.Fatalf("%s: %d events recorded, want %d", s.name, n, s.events)
		}
	}
	// Once forgotten, the attempt's timestamp no longer passes: still refused.
	f.clock.Add(11 * time.Minute)
	if status, _ := f.send(t, testDelivery{conn: conn.ID, body: body, header: signed}); status != http.StatusUnauthorized {
		t.Fatalf("late replay: %d, want 401", status)
	}
}

func TestReplaysFirst(t *testing.T) {
	var r replays
	at := time.Unix(1700000000, 0)
	if !r.first("c1", "k", time.Minute, at) || r.first("c1", "k", time.Minute, at.Add(59*time.Second)) {
		t.Fatal("a second attempt within keepFor was not refused")
	}
	if !r.first("c2", "k", time.Minute, at) {
		t.Error("another connection's attempt was refused")
	}
	if !r.first("c1", "k", time.Minute, at.Add(time.Minute)) {
		t.Error("an attempt past keepFor was refused")
	}
	// Attempts past their time are dropped, so the set stays bounded.
	if !r.first("c3", "k", time.Minute, at.Add(5*time.Minute)) || len(r.seen) != 1 {
		t.Errorf("%d attempts remembered, want only the last", len(r.seen))
	}
}
