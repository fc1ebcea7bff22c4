package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"
)

// webhookOutput is GetConnectionWebhook's and RotateConnectionWebhookSecret's answer.
type webhookOutput struct {
	ConnectionArn            string
	URL                      string `json:"Url"`
	Secret                   string
	PreviousSecretValidUntil *float64 `json:",omitempty"`
}

func connectionsWebhook(ctx context.Context, l *leaf, args []string) error {
	pos, err := l.parse(args, 1, 1)
	if err != nil {
		return err
	}
	return webhookCall(ctx, l, "GetConnectionWebhook", map[string]any{"ConnectionArn": pos[0]})
}

func connectionsRotateSecret(ctx context.Context, l *leaf, args []string) error {
	overlap := l.Duration("overlap", 0, "keep accepting the old secret for `duration` (default: the daemon's webhooks.secretOverlap, 24h)")
	revokeNow := l.Bool("revoke-now", false, "refuse the old secret at once, even from hooks not yet updated (a leaked secret); same as --overlap 0")
	pos, err := l.parse(args, 1, 1)
	if err != nil {
		return err
	}
	in := map[string]any{"ConnectionArn": pos[0]}
	switch {
	case *revokeNow && set(l, "overlap"):
		return errors.New("--revoke-now and --overlap exclude each other")
	case *revokeNow:
		in["OverlapSeconds"] = int64(0)
	case set(l, "overlap"):
		in["OverlapSeconds"] = int64(overlap.Seconds())
	}
	return webhookCall(ctx, l, "RotateConnectionWebhookSecret", in)
}

func webhookCall(ctx context.Context, l *leaf, op string, in map[string]any) error {
	client, err := l.extClient(ctx)
	if err != nil {
		return err
	}
	var out webhookOutput
	if err := client.call(ctx, op, in, &out); err != nil {
		return err
	}
	return l.print(out, func(w io.Writer) {
		fmt.Fprintf(w, "URL\t%s\nSECRET\t%s\n", out.URL, out.Secret)
		if out.PreviousSecretValidUntil != nil {
			until := time.UnixMilli(int64(*out.PreviousSecretValidUntil * 1000)).UTC()
			fmt.Fprintf(w, "PREVIOUS SECRET VALID UNTIL\t%s\n", until.Format(time.RFC3339))
		}
	})
}

// set reports whether the flag was given on the command line.
func set(l *leaf, name string) bool {
	found := false
	l.Visit(func(f *flag.Flag) {
		if f.Name == name {
			found = true
		}
	})
	return found
}
