package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

func runDeliveries(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runSubcommand(ctx, "deliveries", []subcommand{
		{"list", "[--pipeline P] [--state S] [--event-id E] [--all] [flags]", "list deliveries to pipeline targets", deliveriesList},
		{"get", "[flags] DELIVERY-ID", "show a delivery with every attempt", deliveriesGet},
		{"redeliver", "[flags] DELIVERY-ID", "deliver a finished delivery again", deliveriesRedeliver},
		{"discard", "[flags] DELIVERY-ID", "drop a pending or dead delivery", deliveriesDiscard},
	}, args, stdout, stderr)
}

// deliverySummary is a delivery as ListDeliveries returns it.
type deliverySummary struct {
	DeliveryID      string `json:"DeliveryId"`
	EventID         string `json:"EventId"`
	ConnectionArn   string
	Pipeline        string
	Target          string
	Mode            string
	Branch          string
	State           string
	Attempts        int
	FilesIncomplete bool
	NextAttemptAt   *float64 `json:",omitempty"`
	LastError       string
	CreatedAt       float64
	UpdatedAt       float64
}

type listDeliveriesInput struct {
	Pipeline   *string `json:",omitempty"`
	State      *string `json:",omitempty"`
	EventID    *string `json:"EventId,omitempty"`
	MaxResults int32   `json:",omitempty"`
	NextToken  *string `json:",omitempty"`
}

type listDeliveriesOutput struct {
	Deliveries []deliverySummary
	NextToken  *string `json:",omitempty"`
}

func deliveriesList(ctx context.Context, l *leaf, args []string) error {
	pipeline := l.String("pipeline", "", "only deliveries of pipeline `NAME`")
	state := l.String("state", "", "only deliveries in `STATE`: pending, leased, succeeded, dead, superseded, discarded, filtered")
	eventID := l.String("event-id", "", "only deliveries of event `ID`")
	all := l.Bool("all", false, "fetch every page, not just the first")
	page := l.pageFlags()
	if _, err := l.parse(args, 0, 0); err != nil {
		return err
	}
	client, err := l.extClient(ctx)
	if err != nil {
		return err
	}
	in := listDeliveriesInput{Pipeline: optional(*pipeline), State: optional(*state), EventID: optional(*eventID),
		MaxResults: page.maxResults, NextToken: optional(page.nextToken)}
	out := listDeliveriesOutput{Deliveries: []deliverySummary{}}
	out.NextToken, err = followPages(*all, &in.NextToken, func() (*string, error) {
		var p listDeliveriesOutput
		err := client.call(ctx, "ListDeliveries", in, &p)
		out.Deliveries = append(out.Deliveries, p.Deliveries...)
		return p.NextToken, err
	})
	if err != nil {
		return err
	}
	return l.printPage(out, out.NextToken, func(w io.Writer) { printDeliveries(w, out.Deliveries) })
}

func printDeliveries(w io.Writer, ds []deliverySummary) {
	fmt.Fprintln(w, "CREATED\tPIPELINE\tBRANCH\tSTATE\tATTEMPTS\tDELIVERY\tEVENT")
	for _, d := range ds {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n",
			epochTime(d.CreatedAt), d.Pipeline, orDash(d.Branch), d.State, d.Attempts, d.DeliveryID, d.EventID)
	}
}

// attempt is one delivery attempt as GetDelivery returns it.
type attempt struct {
	N          int
	StartedAt  float64
	DurationMs float64
	Outcome    string
	StatusCode int  `json:",omitempty"`
	ExitStatus *int `json:",omitempty"`
	Error      string
	Output     string
}

// status is the attempt's HTTP status or exit status.
func (a attempt) status() string {
	switch {
	case a.StatusCode != 0:
		return fmt.Sprintf("HTTP %d", a.StatusCode)
	case a.ExitStatus != nil:
		return fmt.Sprintf("exit %d", *a.ExitStatus)
	}
	return "-"
}

func deliveriesGet(ctx context.Context, l *leaf, args []string) error {
	pos, err := l.parse(args, 1, 1)
	if err != nil {
		return err
	}
	client, err := l.extClient(ctx)
	if err != nil {
		return err
	}
	var out struct {
		Delivery struct {
			deliverySummary
			Message json.RawMessage
		}
		Attempts []attempt
	}
	if err := client.call(ctx, "GetDelivery", map[string]string{"DeliveryId": pos[0]}, &out); err != nil {
		return err
	}
	return l.print(out, func(w io.Writer) {
		d := out.Delivery
		next := "-"
		if d.NextAttemptAt != nil {
			next = epochTime(*d.NextAttemptAt)
		}
		fmt.Fprintf(w, "DELIVERY\t%s\nEVENT\t%s\nCONNECTION\t%s\nPIPELINE\t%s\nTARGET\t%s\nMODE\t%s\nBRANCH\t%s\n",
			d.DeliveryID, d.EventID, d.ConnectionArn, d.Pipeline, d.Target, d.Mode, orDash(d.Branch))
		fmt.Fprintf(w, "STATE\t%s\nATTEMPTS\t%d\nNEXT ATTEMPT\t%s\nFILES INCOMPLETE\t%t\nLAST ERROR\t%s\nCREATED\t%s\nUPDATED\t%s\n",
			d.State, d.Attempts, next, d.FilesIncomplete, orDash(d.LastError), epochTime(d.CreatedAt), epochTime(d.UpdatedAt))
		// The blank line ends the column block: the attempts align apart.
		fmt.Fprintln(w, "\nATTEMPT\tSTARTED\tDURATION\tOUTCOME\tSTATUS\tERROR")
		for _, a := range out.Attempts {
			took := time.Duration(a.DurationMs * float64(time.Millisecond))
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", a.N, epochTime(a.StartedAt), took, a.Outcome, a.status(), orDash(a.Error))
		}
	})
}

func deliveriesRedeliver(ctx context.Context, l *leaf, args []string) error {
	return deliveryCall(ctx, l, args, "RedeliverDelivery")
}

func deliveriesDiscard(ctx context.Context, l *leaf, args []string) error {
	return deliveryCall(ctx, l, args, "DiscardDelivery")
}

// deliveryCall runs an operation on the delivery named by the one argument;
// like other changes, it prints nothing on success.
func deliveryCall(ctx context.Context, l *leaf, args []string, op string) error {
	pos, err := l.parse(args, 1, 1)
	if err != nil {
		return err
	}
	client, err := l.extClient(ctx)
	if err != nil {
		return err
	}
	return client.call(ctx, op, map[string]string{"DeliveryId": pos[0]}, &struct{}{})
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
