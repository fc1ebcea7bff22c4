package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
)

// webhookOutput is GetConnectionWebhook's and RotateConnectionWebhookSecret's answer.
type webhookOutput struct {
	ConnectionArn            string
	URL                      string `json:"Url"`
	Secret                   string
	PreviousSecretValidUntil *float64 `json:",omitempty"`
}

func connectionsWebhook(x *call) error {
	return webhookCall(x, "GetConnectionWebhook", map[string]any{"ConnectionArn": x.args[0]})
}

func (c *cli) connectionsRotateSecret() *cobra.Command {
	var overlap time.Duration
	var revokeNow bool
	cmd := c.leaf("rotate-secret [--overlap DURATION | --revoke-now] ARN", "issue a new webhook secret", exactArgs(1, 1), func(x *call) error {
		in := map[string]any{"ConnectionArn": x.args[0]}
		overlapSet := x.cmd.Flags().Changed("overlap")
		switch {
		case revokeNow && overlapSet:
			return usagef("--revoke-now and --overlap exclude each other")
		case revokeNow:
			in["OverlapSeconds"] = int64(0)
		case overlapSet:
			in["OverlapSeconds"] = int64(overlap.Seconds())
		}
		return webhookCall(x, "RotateConnectionWebhookSecret", in)
	})
	cmd.Flags().DurationVar(&overlap, "overlap", 0, "keep accepting the old secret for `duration` (default: the daemon's webhooks.secretOverlap, 24h)")
	cmd.Flags().BoolVar(&revokeNow, "revoke-now", false, "refuse the old secret at once, even from hooks not yet updated (a leaked secret); same as --overlap 0")
	return cmd
}

func webhookCall(x *call, op string, in map[string]any) error {
	var out webhookOutput
	if err := x.ext.call(x.ctx, op, in, &out); err != nil {
		return err
	}
	return x.show(out, func(w io.Writer) {
		fmt.Fprintf(w, "URL\t%s\nSECRET\t%s\n", out.URL, out.Secret)
		if out.PreviousSecretValidUntil != nil {
			until := time.UnixMilli(int64(*out.PreviousSecretValidUntil * 1000)).UTC()
			fmt.Fprintf(w, "PREVIOUS SECRET VALID UNTIL\t%s\n", until.Format(time.RFC3339))
		}
	})
}
