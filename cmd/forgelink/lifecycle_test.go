package main

import (
	"context"
	"testing"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/store"
)

type statusRecorder struct{ status, reason string }

func (r *statusRecorder) SetConnectionStatus(_ context.Context, _, status, reason string) error {
	r.status, r.reason = status, reason
	return nil
}

func TestInstallationLifecycle(t *testing.T) {
	for _, tc := range []struct {
		action  string
		wantErr bool
	}{
		{providers.InstallDeleted, true},
		{providers.InstallSuspended, true},
		{providers.InstallCreated, false},
		{providers.InstallUnsuspended, false},
		{"new_permissions_accepted", false},
	} {
		t.Run(tc.action, func(t *testing.T) {
			rec := &statusRecorder{}
			var invalidated string
			l := installationLifecycle{store: rec, changed: func(id string) { invalidated = id }, log: zap.NewNop()}
			l.InstallationChanged(context.Background(), store.Connection{ID: "c1"}, providers.Installation{ID: 7, Action: tc.action})
			if got := rec.status == store.StatusError; got != tc.wantErr {
				t.Fatalf("status %q, want ERROR: %v", rec.status, tc.wantErr)
			}
			if tc.wantErr && (rec.reason == "" || invalidated != "c1") {
				t.Errorf("reason %q, invalidated %q", rec.reason, invalidated)
			}
		})
	}
}
