package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/forgelink/forgelink/cmd/forgelink/internal/sdktransport"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections/types"
	"github.com/aws/smithy-go"
)

// defaultEndpoint is where a daemon started with default settings listens.
const defaultEndpoint = "http://127.0.0.1:7788"

// subcommand is a leaf command such as "connections get".
type subcommand struct {
	name     string
	synopsis string // the command line after the leaf's name
	summary  string
	run      func(ctx context.Context, l *leaf, args []string) error
}

// runSubcommand runs the subcommand of group named by args[0].
func runSubcommand(ctx context.Context, group string, subs []subcommand, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(stderr, "usage: forgelink %s <subcommand> [flags]\n\nsubcommands:\n", group)
		for _, s := range subs {
			fmt.Fprintf(stderr, "  %-8s %s\n", s.name, s.summary)
		}
		return flag.ErrHelp
	}
	for _, s := range subs {
		if s.name == args[0] {
			l := newLeaf(group+" "+s.name, s.synopsis, stdout, stderr, os.Getenv)
			return shortAPIError(s.run(ctx, l, args[1:]))
		}
	}
	return usagef("unknown subcommand %q; run 'forgelink %s -h'", args[0], group)
}

// commonFlags are the flags every leaf command accepts.
type commonFlags struct {
	endpoint string
	region   string
	output   string
}

// leaf is one invocation of a leaf command: its flags and its outputs.
type leaf struct {
	*flag.FlagSet
	synopsis string
	common   commonFlags
	stdout   io.Writer
	stderr   io.Writer
	getenv   func(string) string
}

func newLeaf(name, synopsis string, stdout, stderr io.Writer, getenv func(string) string) *leaf {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// parse reports errors itself, once, instead of the flag package's
	// error-plus-usage dump.
	fs.SetOutput(io.Discard)
	l := &leaf{FlagSet: fs, synopsis: synopsis, stdout: stdout, stderr: stderr, getenv: getenv}
	fs.StringVar(&l.common.endpoint, "endpoint-url", cmp.Or(getenv("FORGELINK_ENDPOINT"), defaultEndpoint),
		"forgelink daemon `URL` (env FORGELINK_ENDPOINT)")
	fs.StringVar(&l.common.region, "region", cmp.Or(getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION"), "us-east-1"),
		"AWS `region` to sign requests for (env AWS_REGION, AWS_DEFAULT_REGION)")
	fs.StringVar(&l.common.output, "output", "table", "output `format`: table or json")
	return l
}

// parse parses flags that may come before, between or after the positional
// arguments, and returns the positional arguments, of which there must be
// at least min and, unless max is negative, at most max.
func (l *leaf) parse(args []string, min, max int) ([]string, error) {
	var pos []string
	for {
		if err := l.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				l.usage()
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		rest := l.Args()
		if len(rest) == 0 {
			break
		}
		// After "--" everything is positional.
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) < min:
		return nil, usagef("missing arguments; usage: forgelink %s %s", l.Name(), l.synopsis)
	case max >= 0 && len(pos) > max:
		return nil, usagef("unexpected arguments %q", pos[max:])
	case l.common.output != "table" && l.common.output != "json":
		return nil, usagef("unknown --output %q; want table or json", l.common.output)
	}
	return pos, nil
}

func (l *leaf) usage() {
	fmt.Fprintf(l.stderr, "usage: forgelink %s %s\n\nflags:\n", l.Name(), l.synopsis)
	l.SetOutput(l.stderr)
	l.PrintDefaults()
}

// client returns a CodeConnections client for the parsed common flags.
func (l *leaf) client(ctx context.Context) (*codeconnections.Client, error) {
	return newClient(ctx, &l.common, l.getenv)
}

// newClient builds a client that signs with the standard AWS credential
// chain, else with the daemon's root credentials from the environment, and
// otherwise sends unsigned requests, which a daemon without credentials
// accepts on loopback.
func newClient(ctx context.Context, f *commonFlags, getenv func(string) string) (*codeconnections.Client, error) {
	cfg, err := awsConfig(ctx, f, getenv)
	if err != nil {
		return nil, err
	}
	return codeconnections.NewFromConfig(cfg, func(o *codeconnections.Options) {
		o.BaseEndpoint = aws.String(f.endpoint)
		o.HTTPClient = &http.Client{Transport: sdktransport.BufferedBodies(http.DefaultTransport)}
	}), nil
}

// awsConfig resolves region and credentials for either client.
func awsConfig(ctx context.Context, f *commonFlags, getenv func(string) string) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion(f.region),
		// IMDS is never the daemon's credential source and would only add
		// network timeouts off EC2.
		config.WithEC2IMDSClientEnableState(imds.ClientDisabled),
	)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load aws config: %w", err)
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		cfg.Credentials = aws.AnonymousCredentials{}
		if id, secret := getenv("FORGELINK_ROOT_ACCESS_KEY_ID"), getenv("FORGELINK_ROOT_SECRET_ACCESS_KEY"); id != "" && secret != "" {
			cfg.Credentials = credentials.NewStaticCredentialsProvider(id, secret, "")
		}
	}
	return cfg, nil
}

// apiError shows a service error as the service put it, without the SDK's
// operation and request details, yet still unwraps to the SDK error.
type apiError struct {
	err error
	api smithy.APIError
}

func (e *apiError) Error() string { return e.api.ErrorCode() + ": " + e.api.ErrorMessage() }
func (e *apiError) Unwrap() error { return e.err }

func shortAPIError(err error) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		return &apiError{err: err, api: api}
	}
	return err
}

// print writes v as JSON, or in table mode has table write to a tabwriter.
func (l *leaf) print(v any, table func(w io.Writer)) error {
	if l.common.output == "json" {
		return writeJSON(l.stdout, v)
	}
	tw := tabwriter.NewWriter(l.stdout, 0, 0, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// printPage is print for one page of a listing: in table mode it tells on
// stderr how to fetch the next page.
func (l *leaf) printPage(v any, nextToken *string, table func(w io.Writer)) error {
	if err := l.print(v, table); err != nil {
		return err
	}
	if l.common.output == "table" && aws.ToString(nextToken) != "" {
		fmt.Fprintf(l.stderr, "more results: --next-token %s\n", *nextToken)
	}
	return nil
}

// writeJSON writes an SDK output as the wire spells it: PascalCase member
// names, absent members left out, and no client-side ResultMetadata.
func writeJSON(w io.Writer, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	delete(doc, "ResultMetadata")
	out, err := json.MarshalIndent(dropNulls(doc), "", "  ")
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	_, err = w.Write(append(out, '\n'))
	return err
}

// dropNulls removes null members, which the SDK's nil pointers become.
func dropNulls(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if e == nil {
				delete(v, k)
			} else {
				v[k] = dropNulls(e)
			}
		}
	case []any:
		for i, e := range v {
			v[i] = dropNulls(e)
		}
	}
	return v
}

// pageFlags are the flags of list commands that page by hand.
type pageFlags struct {
	maxResults int32
	nextToken  string
}

func (l *leaf) pageFlags() *pageFlags {
	p := new(pageFlags)
	l.Func("max-results", "fetch one page of at most `n` results instead of all", func(s string) error {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n < 1 {
			return errors.New("want a positive number")
		}
		p.maxResults = int32(n)
		return nil
	})
	l.StringVar(&p.nextToken, "next-token", "", "fetch one page starting at `token`, from an earlier listing")
	return p
}

// all reports whether to fetch every page rather than one.
func (p *pageFlags) all() bool { return p.maxResults == 0 && p.nextToken == "" }

// pager is what the SDK's list paginators have in common.
type pager[O any] interface {
	HasMorePages() bool
	NextPage(ctx context.Context, optFns ...func(*codeconnections.Options)) (O, error)
}

// collect fetches every page, or only the first unless all, and returns
// the pages' items and the last page, whose NextToken resumes the listing.
func collect[O, T any](ctx context.Context, p pager[O], all bool, items func(O) []T) ([]T, O, error) {
	// Not nil, so that an empty listing is [] in JSON.
	list := []T{}
	var last O
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, last, err
		}
		list, last = append(list, items(page)...), page
		if !all {
			break
		}
	}
	return list, last, nil
}

// tagFlag registers the repeatable --tag KEY=VALUE flag.
func (l *leaf) tagFlag() *[]types.Tag {
	tags := new([]types.Tag)
	l.Func("tag", "add tag `KEY=VALUE` (repeatable)", func(s string) error {
		t, err := parseTag(s)
		if err != nil {
			return err
		}
		*tags = append(*tags, t)
		return nil
	})
	return tags
}

func parseTag(s string) (types.Tag, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return types.Tag{}, fmt.Errorf("tag %q is not KEY=VALUE", s)
	}
	return types.Tag{Key: aws.String(k), Value: aws.String(v)}, nil
}

// optional returns nil for an unset string flag, which the SDK then omits.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
