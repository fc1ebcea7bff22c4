package github

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/providers/github/githubtest"
)

const (
	recRepo  = "octo-org/app"
	recToken = "ghp_recovery_admin"
	headA    = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	headB    = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func recoveryServer(t *testing.T) (*githubtest.Server, githubtest.Hook) {
	t.Helper()
	srv := githubtest.New(t, githubtest.Options{MaxPerPage: 2})
	srv.AddToken(recToken, githubtest.Admin)
	srv.AddToken("ghp_read", githubtest.Read)
	hook := srv.AddHook(recRepo, githubtest.Hook{Name: "web", Active: true, URL: "http://127.0.0.1:1/closed", Secret: "s"})
	return srv, hook
}

func TestDeliveriesPagesNewestFirstUntilSince(t *testing.T) {
	srv, hook := recoveryServer(t)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	var guids []string
	for i := range 5 {
		d := srv.AddDelivery(recRepo, hook.ID, githubtest.Delivery{DeliveredAt: base.Add(time.Duration(i) * time.Minute), Status: "OK"}, []byte(`{}`))
		guids = append(guids, d.GUID)
	}
	log, err := NewRepoDeliveryLog(nil, srv.APIURL, providers.Token{Value: recToken}, recRepo, hookID(hook.ID), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		since time.Time
		want  []string
	}{
		{"all, across three pages", base.Add(-time.Minute), []string{guids[4], guids[3], guids[2], guids[1], guids[0]}},
		{"stops at since", base.Add(2 * time.Minute), []string{guids[4], guids[3]}},
		{"nothing newer", base.Add(time.Hour), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := log.Deliveries(context.Background(), tt.since)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, d := range got {
				ids = append(ids, d.GUID)
				if !d.OK {
					t.Errorf("delivery %s not OK", d.GUID)
				}
			}
			if len(ids) != len(tt.want) {
				t.Fatalf("got %v, want %v", ids, tt.want)
			}
			for i := range ids {
				if ids[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", ids, tt.want)
				}
			}
		})
	}
	for _, r := range srv.Requests() {
		if r.Method == "GET" && r.Query != "" && !strings.Contains(r.Query, "per_page=100") {
			t.Errorf("listing without per_page=100: %s", r.Query)
		}
	}
}

func TestRedeliverAcceptedIsSuccess(t *testing.T) {
	srv, hook := recoveryServer(t)
	d := srv.AddDelivery(recRepo, hook.ID, githubtest.Delivery{Status: "failed to connect to host", Event: "push"}, []byte(`{}`))
	log, err := NewRepoDeliveryLog(nil, srv.APIURL, providers.Token{Value: recToken}, recRepo, hookID(hook.ID), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := log.Redeliver(context.Background(), hookID(d.ID)); err != nil {
		t.Fatalf("Redeliver: %v", err)
	}
	got := srv.Deliveries(recRepo, hook.ID)
	if len(got) != 2 || !got[1].Redelivery || got[1].GUID != d.GUID {
		t.Fatalf("log after redelivery: %+v", got)
	}
	if err := log.Redeliver(context.Background(), "999999"); !errors.Is(err, providers.ErrHookLogRefused) {
		t.Errorf("unknown delivery: %v, want ErrHookLogRefused", err)
	}
}

func TestDeliveryLogErrors(t *testing.T) {
	srv, hook := recoveryServer(t)
	tests := []struct {
		name  string
		token string
		hook  string
		limit bool
		want  error
	}{
		{"no admin rights", "ghp_read", hookID(hook.ID), false, providers.ErrHookLogRefused},
		{"hook gone", recToken, "424242", false, providers.ErrHookLogRefused},
		{"bad token", "ghp_unknown", hookID(hook.ID), false, providers.ErrTokenRejected},
		{"rate limited", recToken, hookID(hook.ID), true, providers.ErrProviderUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.limit {
				srv.RateLimitNext(1, 90*time.Second)
			}
			log, err := NewRepoDeliveryLog(nil, srv.APIURL, providers.Token{Value: tt.token}, recRepo, tt.hook, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			_, err = log.Deliveries(context.Background(), time.Time{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var rl *providers.RateLimitError
			if tt.limit && (!errors.As(err, &rl) || rl.Wait != 90*time.Second) {
				t.Fatalf("err = %v, want a 90 s rate limit", err)
			}
		})
	}
}

func TestAppDeliveryLogNeedsJWT(t *testing.T) {
	srv := githubtest.New(t, githubtest.Options{})
	app := srv.AddApp(githubtest.App{Name: "forgelink-test", Key: testKeys()[0]})
	d := srv.AddAppDelivery(app.ID, githubtest.Delivery{Status: "Invalid HTTP Response: 503", StatusCode: 503}, []byte(`{}`))
	a, err := NewApp(nil, srv.APIURL, app.ID, app.PrivateKeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.DeliveryLog(time.Now).Deliveries(context.Background(), time.Time{})
	if err != nil || len(got) != 1 || got[0].GUID != d.GUID || got[0].OK {
		t.Fatalf("App log = %+v, %v", got, err)
	}
	// A token is not an App JWT.
	srv.AddToken(recToken, githubtest.Admin)
	c, _ := newClient(nil, srv.APIURL, recToken)
	if _, err := (&DeliveryLog{c: c, now: time.Now}).Deliveries(context.Background(), time.Time{}); !errors.Is(err, providers.ErrTokenRejected) {
		t.Fatalf("token on /app/hook/deliveries: %v, want ErrTokenRejected", err)
	}
}

func TestHeadConditional(t *testing.T) {
	srv, _ := recoveryServer(t)
	srv.SetHead(recRepo, "refs/heads/main", headA)
	heads, err := NewHeads(nil, srv.APIURL, providers.Token{Value: recToken}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if got, err := heads.Head(ctx, recRepo, "main", ""); err != nil || got != headA {
		t.Fatalf("first read = %q, %v", got, err)
	}
	used := srv.RateLimitUsed()
	if got, err := heads.Head(ctx, recRepo, "main", headA); err != nil || got != headA {
		t.Fatalf("unchanged = %q, %v", got, err)
	}
	if srv.RateLimitUsed() != used {
		t.Errorf("a 304 counted against the rate limit")
	}
	srv.SetHead(recRepo, "refs/heads/main", headB)
	if got, err := heads.Head(ctx, recRepo, "main", headA); err != nil || got != headB {
		t.Fatalf("moved = %q, %v", got, err)
	}
	if _, err := heads.Head(ctx, recRepo, "gone", ""); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("unknown branch: %v, want ErrNotFound", err)
	}
	bad, _ := NewHeads(nil, srv.APIURL, providers.Token{Value: "ghp_unknown"}, time.Now)
	if _, err := bad.Head(ctx, recRepo, "main", ""); !errors.Is(err, providers.ErrTokenRejected) {
		t.Errorf("bad token: %v, want ErrTokenRejected", err)
	}
}
