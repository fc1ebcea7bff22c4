package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
)

func (c *cli) deliveriesCommand() *cobra.Command {
	return c.clientGroup("deliveries", "list, show, redeliver and discard deliveries to targets",
		c.deliveriesList(),
		c.leaf("get DELIVERY-ID", "show a delivery with every attempt", exactArgs(1, 1), deliveriesGet),
		c.leaf("redeliver DELIVERY-ID", "deliver a finished delivery again", exactArgs(1, 1), deliveriesRedeliver),
		c.leaf("discard DELIVERY-ID", "drop a pending or dead delivery", exactArgs(1, 1), deliveriesDiscard),
	)
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
	Pipeline *string `json:",omitempty"`
	State    *string `json:",omitempty"`
	EventID  *string `json:"EventId,omitempty"`
	pageInput
}

type listDeliveriesOutput struct {
	Deliveries []deliverySummary
	NextToken  *string `json:",omitempty"`
}

func (c *cli) deliveriesList() *cobra.Command {
	var pipeline, state, eventID string
	var list newestFirst
	cmd := c.leaf("list", "list deliveries to pipeline targets, newest first", exactArgs(0, 0), func(x *call) error {
		in := listDeliveriesInput{Pipeline: optional(pipeline), State: optional(state), EventID: optional(eventID)}
		ds, next, err := collectExt(x, &list, "ListDeliveries", &in, &in.pageInput,
			func(o listDeliveriesOutput) ([]deliverySummary, *string) { return o.Deliveries, o.NextToken })
		if err != nil {
			return err
		}
		defer x.moreHint(next)
		return x.show(listDeliveriesOutput{Deliveries: ds, NextToken: next}, func(w io.Writer) { printDeliveries(w, ds) })
	})
	f := cmd.Flags()
	f.StringVar(&pipeline, "pipeline", "", "only deliveries of pipeline `NAME`")
	f.StringVar(&state, "state", "", "only deliveries in `STATE`: pending, leased, succeeded, dead, superseded, discarded, filtered")
	f.StringVar(&eventID, "event-id", "", "only deliveries of event `ID`")
	list.register(f)
	return cmd
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

func deliveriesGet(x *call) error {
	var out struct {
		Delivery struct {
			deliverySummary
			Message json.RawMessage
		}
		Attempts []attempt
	}
	if err := x.ext.call(x.ctx, "GetDelivery", map[string]string{"DeliveryId": x.args[0]}, &out); err != nil {
		return err
	}
	return x.show(out, func(w io.Writer) {
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

func deliveriesRedeliver(x *call) error {
	if err := x.ext.call(x.ctx, "RedeliverDelivery", map[string]string{"DeliveryId": x.args[0]}, &struct{}{}); err != nil {
		return err
	}
	return x.done(nil, "Queued delivery %s for redelivery.", x.args[0])
}

func deliveriesDiscard(x *call) error {
	if err := x.ext.call(x.ctx, "DiscardDelivery", map[string]string{"DeliveryId": x.args[0]}, &struct{}{}); err != nil {
		return err
	}
	return x.done(nil, "Discarded delivery %s.", x.args[0])
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
