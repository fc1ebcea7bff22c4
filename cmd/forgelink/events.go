package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/forgelink/forgelink/relay/route"
)

func (c *cli) eventsCommand() *cobra.Command {
	return c.clientGroup("events", "list, show and explain recorded webhook events",
		c.eventsList(),
		c.leaf("get EVENT-ID", "show one event: its summary, headers and raw body", exactArgs(1, 1), eventsGet),
		c.leaf("explain EVENT-ID", "show why each pipeline did or did not trigger", exactArgs(1, 1), eventsExplain),
	)
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
	Recovered     *bool    `json:",omitempty"`
	pageInput
}

type listEventsOutput struct {
	Events    []eventSummary
	NextToken *string `json:",omitempty"`
}

func (c *cli) eventsList() *cobra.Command {
	var conn, repo, kind, since, until string
	var recovered bool
	var list newestFirst
	cmd := c.leaf("list", "list recorded webhook events, newest first", exactArgs(0, 0), func(x *call) error {
		in := listEventsInput{ConnectionArn: optional(conn), Repository: optional(repo)}
		if recovered {
			in.Recovered = &recovered
		}
		var err error
		if in.Kind, err = kindFlag(kind); err != nil {
			return err
		}
		if in.Since, err = timeFlag("--since", since); err != nil {
			return err
		}
		if in.Until, err = timeFlag("--until", until); err != nil {
			return err
		}
		events, next, err := collectExt(x, &list, "ListEvents", &in, &in.pageInput,
			func(o listEventsOutput) ([]eventSummary, *string) { return o.Events, o.NextToken })
		if err != nil {
			return err
		}
		defer x.moreHint(next)
		return x.show(listEventsOutput{Events: events, NextToken: next}, func(w io.Writer) {
			fmt.Fprintln(w, "RECEIVED\tKIND\tREPOSITORY\tDELIVERY\tHELD\tEVENT")
			for _, e := range events {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%t\t%s\n", e.received(), e.Kind, e.Repository, e.DeliveryID, e.Held, e.EventID)
			}
		})
	})
	f := cmd.Flags()
	f.StringVar(&conn, "connection-arn", "", "only events of the connection `ARN`")
	f.StringVar(&repo, "repository", "", "only events of `OWNER/REPO`")
	f.StringVar(&kind, "kind", "", "only events of `KIND`: "+kindsHelp)
	f.StringVar(&since, "since", "", "only events received at or after `T` (RFC 3339, or a duration such as 1h for that long ago)")
	f.StringVar(&until, "until", "", "only events received before `T` (RFC 3339 or a duration ago)")
	f.BoolVar(&recovered, "recovered", false, "only events recovery brought back: synthesised from a polled head (delivery id forgelink-synthesized:...) or redelivered at its request")
	list.register(f)
	return cmd
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

// eventDetail is an event as GetEvent returns it.
type eventDetail struct {
	eventSummary
	Headers    json.RawMessage
	Body       string
	Normalized json.RawMessage
}

func eventsGet(x *call) error {
	var out struct{ Event eventDetail }
	if err := x.ext.call(x.ctx, "GetEvent", map[string]string{"EventId": x.args[0]}, &out); err != nil {
		return err
	}
	return x.showText(out, func(w io.Writer) error { return printEvent(w, out.Event) })
}

// printEvent writes the summary as a table, then the headers one per line,
// the raw body and the normalised form, each after a blank line.
func printEvent(w io.Writer, e eventDetail) error {
	err := tabulate(w, func(w io.Writer) {
		fmt.Fprintf(w, "EVENT\t%s\nCONNECTION\t%s\nPROVIDER\t%s\nKIND\t%s (%s)\nREPOSITORY\t%s\nDELIVERY\t%s\nRECEIVED\t%s\nHELD\t%t\n",
			e.EventID, e.ConnectionArn, e.Provider, e.Kind, e.RawKind, e.Repository, e.DeliveryID, e.received(), e.Held)
	})
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("\nHEADERS\n")
	var headers map[string]string
	if json.Unmarshal(e.Headers, &headers) == nil {
		for _, k := range slices.Sorted(maps.Keys(headers)) {
			fmt.Fprintf(&b, "%s: %s\n", k, headers[k])
		}
	}
	b.WriteString("\nBODY\n" + showBody(e.Body) + "\n")
	b.WriteString("\nNORMALIZED\n" + indentJSON(e.Normalized) + "\n")
	_, err = io.WriteString(w, b.String())
	return err
}

// showBody is the raw body, indented if it is JSON, or its size if it is
// not text. Bytes the wire could not carry as UTF-8 arrive as U+FFFD.
func showBody(body string) string {
	if !utf8.ValidString(body) || strings.ContainsFunc(body, func(r rune) bool {
		return r == utf8.RuneError || unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t'
	}) {
		return fmt.Sprintf("(%d bytes, binary)", len(body))
	}
	if json.Valid([]byte(body)) {
		return indentJSON([]byte(body))
	}
	return strings.TrimSuffix(body, "\n")
}

// indentJSON indents a JSON document; anything else is returned as is.
func indentJSON(raw []byte) string {
	var b bytes.Buffer
	if json.Indent(&b, raw, "", "  ") != nil {
		return string(raw)
	}
	return b.String()
}

func eventsExplain(x *call) error {
	var out struct {
		EventID       string `json:"EventId"`
		ConnectionArn string
		Repository    string
		Kind          string
		Verdicts      []route.PipelineVerdict
		Deliveries    []deliverySummary
	}
	if err := x.ext.call(x.ctx, "ExplainEvent", map[string]string{"EventId": x.args[0]}, &out); err != nil {
		return err
	}
	return x.show(out, func(w io.Writer) {
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
