// Package notifytest holds what the tests of the target packages under
// relay/notify share: a message to deliver and an address nothing answers.
package notifytest

import (
	"net"
	"testing"
	"time"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/notify"
)

// Message is a push to octo/hello's main branch as delivery deliveryID,
// first attempt.
func Message(deliveryID string) *notify.Message {
	return &notify.Message{
		DeliveryID:    deliveryID,
		Attempt:       1,
		Pipeline:      "build",
		ConnectionARN: "arn:aws:codeconnections:us-east-1:000000000000:connection/00000000-0000-0000-0000-000000000000",
		EventID:       "event-1",
		Provider:      "GitHub",
		Kind:          providers.KindPush,
		Repository:    providers.Repository{FullName: "octo/hello"},
		Push: &providers.Push{Ref: "refs/heads/main", RefType: providers.RefBranch, RefName: "main",
			After: "0123456789abcdef0123456789abcdef01234567"},
		CreatedAt: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
		Variables: map[string]string{notify.VarBranchName: "main"},
	}
}

// ClosedAddr is a host:port on 127.0.0.1 that nothing listens on.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}
