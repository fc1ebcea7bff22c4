package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

func runEvents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runSubcommand(ctx, "events", []subcommand{
		{"list", "[--connection-arn ARN] [--repository OWNER/REPO] [--kind KIND] [--since T] [--until T] [--all] [flags]", "list recorded webhook events", eventsList},
		{"get", "[flags] EVENT-ID", "show one event with its body", eventsGet},
	}, args, stdout, stderr)
}

// eventSummary is an event as ListEvents returns it.
type eventSummary struct {
	EventID       string `json:"EventId"`
	ConnectionArn string
	Provider      string
	DeliveryID    string `json:"DeliveryId"`
	Kind          string
	RawKind       string
	Repository    string
	Held          bool
	ReceivedAt    float64
}

func (e eventSummary) received() string {
	return time.UnixMilli(int64(e.ReceivedAt * 1000)).UTC().Format(time.RFC3339Nano)
}

type listEventsInput struct {
	ConnectionArn *string  `json:",omitempty"`
	Repository    *string  `json:",omitempty"`
	Kind          *string  `json:",omitempty"`
	Since         *float64 `json:",omitempty"`
	Until         *float64 `json:",omitempty"`
	MaxResults    int32    `json:",omitempty"`
	NextToken     *string  `json:",omitempty"`
}

type listEventsOutput struct {
	Events    []eventSummary
	NextToken *string `json:",omitempty"`
}

func eventsList(ctx context.Context, l *leaf, args []string) error {
	conn := l.String("connection-arn", "", "only events of the connection `ARN`")
	repo := l.String("repository", "", "only events of `OWNER/REPO`")
	kind := l.String("kind", "", "only events of `KIND`: push, pull_request, ping, installation, other")
	since := l.String("since", "", "only events received at or after `T` (RFC 3339, or a duration such as 1h for that long ago)")
	until := l.String("until", "", "only events received before `T` (RFC 3339 or a duration ago)")
	all := l.Bool("all", false, "fetch every page, not just the first")
	page := l.pageFlags()
	if _, err := l.parse(args, 0, 0); err != nil {
		return err
	}
	in := listEventsInput{ConnectionArn: optional(*conn), Repository: optional(*repo), Kind: optional(*kind),
		MaxResults: page.maxResults, NextToken: optional(page.nextToken)}
	var err error
	if in.Since, err = timeFlag("--since", *since); err != nil {
		return err
	}
	if in.Until, err = timeFlag("--until", *until); err != nil {
		return err
	}
	client, err := l.extClient(ctx)
	if err != nil {
		return err
	}
	out := listEventsOutput{Events: []eventSummary{}}
	for {
		var pageOut listEventsOutput
		if err := client.call(ctx, "ListEvents", in, &pageOut); err != nil {
			return err
		}
		out.Events, out.NextToken = append(out.Events, pageOut.Events...), pageOut.NextToken
		if !*all || out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	return l.printPage(out, out.NextToken, func(w io.Writer) {
		fmt.Fprintln(w, "RECEIVED\tKIND\tREPOSITORY\tDELIVERY\tHELD\tEVENT")
		for _, e := range out.Events {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%t\t%s\n", e.received(), e.Kind, e.Repository, e.DeliveryID, e.Held, e.EventID)
		}
	})
}

// timeFlag parses an RFC 3339 time or a duration meaning that long ago, as
// epoch seconds.
func timeFlag(name, v string) (*float64, error) {
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		d, derr := time.ParseDuration(v)
		if derr != nil {
			return nil, usagef("%s %q: want an RFC 3339 time or a duration", name, v)
		}
		t = time.Now().Add(-d)
	}
	s := float64(t.UnixMilli()) / 1000
	return &s, nil
}

func eventsGet(ctx context.Context, l *leaf, args []string) error {
	pos, err := l.parse(args, 1, 1)
	if err != nil {
		return err
	}
	client, err := l.extClient(ctx)
	if err != nil {
		return err
	}
	var out struct {
		Event struct {
			eventSummary
			Headers    json.RawMessage
			Body       string
			Normalized json.RawMessage
		}
	}
	if err := client.call(ctx, "GetEvent", map[string]string{"EventId": pos[0]}, &out); err != nil {
		return err
	}
	return l.print(out, func(w io.Writer) {
		e := out.Event
		fmt.Fprintf(w, "EVENT\t%s\nCONNECTION\t%s\nPROVIDER\t%s\nKIND\t%s (%s)\nREPOSITORY\t%s\nDELIVERY\t%s\nRECEIVED\t%s\nHELD\t%t\n",
			e.EventID, e.ConnectionArn, e.Provider, e.Kind, e.RawKind, e.Repository, e.DeliveryID, e.received(), e.Held)
		fmt.Fprintf(w, "NORMALIZED\t%s\n", e.Normalized)
	})
}
