package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/forgelink/forgelink/relay/route"
)

func runEvents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runSubcommand(ctx, "events", []subcommand{
		{"list", "[--connection-arn ARN] [--repository OWNER/REPO] [--kind KIND] [--since T] [--until T] [--all] [flags]", "list recorded webhook events", eventsList},
		{"get", "[flags] EVENT-ID", "show one event with its body", eventsGet},
		{"explain", "[flags] EVENT-ID", "show why each pipeline did or did not trigger", eventsExplain},
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

func (e eventSummary) received() string { return epochTime(e.ReceivedAt) }

// epochTime formats a time the API sends as epoch seconds.
func epochTime(s float64) string {
	return time.UnixMilli(int64(math.Round(s * 1000))).UTC().Format(time.RFC3339Nano)
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
	out.NextToken, err = followPages(*all, &in.NextToken, func() (*string, error) {
		var p listEventsOutput
		err := client.call(ctx, "ListEvents", in, &p)
		out.Events = append(out.Events, p.Events...)
		return p.NextToken, err
	})
	if err != nil {
		return err
	}
	return l.printPage(out, out.NextToken, func(w io.Writer) {
		fmt.Fprintln(w, "RECEIVED\tKIND\tREPOSITORY\tDELIVERY\tHELD\tEVENT")
		for _, e := range out.Events {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%t\t%s\n", e.received(), e.Kind, e.Repository, e.DeliveryID, e.Held, e.EventID)
		}
	})
}

// followPages fetches the first page of a listing and, if all, every
// further one, setting *token to the page to fetch next. It returns the
// NextToken of the last page fetched.
func followPages(all bool, token **string, fetch func() (next *string, err error)) (*string, error) {
	for {
		next, err := fetch()
		if err != nil || !all || next == nil {
			return next, err
		}
		*token = next
	}
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

func eventsExplain(ctx context.Context, l *leaf, args []string) error {
	pos, err := l.parse(args, 1, 1)
	if err != nil {
		return err
	}
	client, err := l.extClient(ctx)
	if err != nil {
		return err
	}
	var out struct {
		EventID       string `json:"EventId"`
		ConnectionArn string
		Repository    string
		Kind          string
		Verdicts      []route.PipelineVerdict
		Deliveries    []deliverySummary
	}
	if err := client.call(ctx, "ExplainEvent", map[string]string{"EventId": pos[0]}, &out); err != nil {
		return err
	}
	return l.print(out, func(w io.Writer) {
		fmt.Fprintf(w, "EVENT\t%s\nCONNECTION\t%s\nREPOSITORY\t%s\nKIND\t%s\n", out.EventID, out.ConnectionArn, out.Repository, out.Kind)
		if len(out.Verdicts) == 0 {
			fmt.Fprintln(w, "\nno pipeline is configured for this connection and repository")
		}
		for _, v := range out.Verdicts {
			printVerdict(w, v)
		}
		fmt.Fprintln(w)
		printDeliveries(w, out.Deliveries)
	})
}

// printVerdict writes a pipeline's verdict, then one line per filter and
// subject (ref update or pull request): SUBJECT, FILTER, VERDICT, DETAIL.
func printVerdict(w io.Writer, v route.PipelineVerdict) {
	fmt.Fprintf(w, "\nPIPELINE\t%s (target %s)\nTRIGGERED\t%s\n", v.Pipeline, v.Target, yesNo(v.Triggered))
	if v.Reason != "" {
		fmt.Fprintf(w, "REASON\t%s\n", v.Reason)
	}
	for _, s := range v.Subjects {
		if len(s.Filters) == 0 {
			fmt.Fprintf(w, "\t%s\t-\tnot matched\t%s\n", s.Subject, s.Reason)
		}
		for _, f := range s.Filters {
			verdict, detail := "not matched", describeCriteria(f.Criteria)
			switch {
			case f.Reason != "":
				verdict, detail = "skipped", f.Reason
			case f.Matched:
				verdict = "matched"
			}
			fmt.Fprintf(w, "\t%s\t%s\t%s\t%s\n", s.Subject, f.Filter, verdict, detail)
		}
	}
}

// describeCriteria puts a filter's criteria on one line:
// "branches main: include \"main\" matched; filePaths ...".
func describeCriteria(cs []route.CriterionVerdict) string {
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		p := c.Criterion
		if c.Value != "" {
			p += " " + c.Value
		}
		p += ": " + c.Decision
		// The decision says whether the list was complete where it mattered.
		if c.Files != nil {
			p += fmt.Sprintf(" (%d changed files listed)", c.Files.Listed)
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
