package controlplane

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forgelink/forgelink/relay/sigv4"
)

type fakeConsoleLinks struct {
	err   error
	calls atomic.Int32
}

func (f *fakeConsoleLinks) LoginLink(context.Context) (string, time.Time, error) {
	f.calls.Add(1)
	if f.err != nil {
		return "", time.Time{}, f.err
	}
	return "https://forgelink.example/console/login/tok", time.UnixMilli(1_800_000_000_500), nil
}

func TestCreateConsoleLink(t *testing.T) {
	const target = "Forgelink_20261125.CreateConsoleLink"
	for _, tc := range []struct {
		name       string
		links      *fakeConsoleLinks
		auth       bool
		body       string
		wantStatus int
		wantType   string
		wantCalls  int32
	}{
		{name: "link", links: &fakeConsoleLinks{}, body: "{}", wantStatus: http.StatusOK, wantCalls: 1},
		{name: "empty body", links: &fakeConsoleLinks{}, body: "", wantStatus: http.StatusOK, wantCalls: 1},
		{name: "no console", body: "{}", wantStatus: http.StatusBadRequest, wantType: codeUnsupportedOp},
		{name: "bad JSON", links: &fakeConsoleLinks{}, body: "{", wantStatus: http.StatusBadRequest, wantType: codeSerialization},
		{name: "store failure", links: &fakeConsoleLinks{err: errors.New("disk I/O error")}, body: "{}",
			wantStatus: http.StatusInternalServerError, wantType: codeInternal, wantCalls: 1},
		{name: "unsigned request to an authenticated daemon", links: &fakeConsoleLinks{}, auth: true, body: "{}",
			wantStatus: http.StatusBadRequest, wantType: sigv4.CodeMissingAuthenticationToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Limits{}, tc.auth, func(o *Options) {
				if tc.links != nil {
					o.ConsoleLinks = tc.links
				}
			})
			status, out := f.post(t, target, tc.body)
			if status != tc.wantStatus || (tc.wantType != "" && out["__type"] != tc.wantType) {
				t.Fatalf("status %d, answer %v; want %d %s", status, out, tc.wantStatus, tc.wantType)
			}
			if tc.links != nil && tc.links.calls.Load() != tc.wantCalls {
				t.Errorf("%d links made, want %d", tc.links.calls.Load(), tc.wantCalls)
			}
			if tc.wantStatus == http.StatusOK && (out["Url"] != "https://forgelink.example/console/login/tok" || out["ExpiresAt"] != 1_800_000_000.5) {
				t.Errorf("answer %v", out)
			}
			if msg, _ := out["message"].(string); strings.Contains(msg, "disk") {
				t.Errorf("an internal error reaches the wire: %q", msg)
			}
		})
	}
}
