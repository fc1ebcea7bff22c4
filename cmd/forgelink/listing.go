package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	"github.com/spf13/pflag"
)

const (
	// defaultLimit is how many records a listing shows unless told: a
	// screenful of the newest.
	defaultLimit = 20
	// maxPage is the most records the daemon returns in one page.
	maxPage = 100
)

// newestFirst are the flags of the event and delivery listings, which
// show the newest records first and stop at --limit.
type newestFirst struct {
	limit       int
	all         bool
	oldestFirst bool
	nextToken   string
}

func (l *newestFirst) register(fs *pflag.FlagSet) {
	fs.IntVar(&l.limit, "limit", defaultLimit, "show at most `N` records, fetching as many pages as that takes")
	fs.IntVar(&l.limit, "max-results", defaultLimit, "the former name of --limit")
	fs.MarkHidden("max-results")
	fs.BoolVar(&l.all, "all", false, "show every record, however many pages that takes")
	fs.BoolVar(&l.oldestFirst, "oldest-first", false, "list the oldest records first")
	fs.StringVar(&l.nextToken, "next-token", "", "continue an earlier listing from its NextToken `token`")
}

func (l *newestFirst) check(fs *pflag.FlagSet) error {
	switch {
	case l.limit < 1:
		return usagef("--limit %d: want a positive number", l.limit)
	case l.all && (fs.Changed("limit") || fs.Changed("max-results")):
		return usagef("--all and --limit exclude each other")
	}
	return nil
}

// sortOrder is the wire value of SortOrder.
func (l *newestFirst) sortOrder() string {
	if l.oldestFirst {
		return "ASCENDING"
	}
	return "DESCENDING"
}

// collectNewest fetches pages until the limit (or, with --all, the end):
// each page asks for no more than the records still wanted, so that the
// NextToken returned resumes right after the last record shown.
func collectNewest[T any](l *newestFirst, fetch func(maxResults int, token *string) ([]T, *string, error)) ([]T, *string, error) {
	items := []T{} // not nil, so that an empty listing is [] in JSON
	token := optional(l.nextToken)
	for {
		size := maxPage
		if !l.all {
			size = min(size, l.limit-len(items))
		}
		page, next, err := fetch(size, token)
		if err != nil {
			return nil, nil, err
		}
		items = append(items, page...)
		if next == nil || !l.all && len(items) >= l.limit {
			return items, next, nil
		}
		token = next
	}
}

// pageInput is the paging part of ListEvents' and ListDeliveries' input.
type pageInput struct {
	SortOrder  string
	MaxResults int     `json:",omitempty"`
	NextToken  *string `json:",omitempty"`
}

// collectExt runs a newest-first listing of forgelink's own: op with in,
// whose paging part is page, and items to take a page's records.
func collectExt[O, T any](x *call, l *newestFirst, op string, in any, page *pageInput, items func(O) ([]T, *string)) ([]T, *string, error) {
	if err := l.check(x.cmd.Flags()); err != nil {
		return nil, nil, err
	}
	page.SortOrder = l.sortOrder()
	return collectNewest(l, func(max int, token *string) ([]T, *string, error) {
		page.MaxResults, page.NextToken = max, token
		var out O
		if err := x.ext.call(x.ctx, op, in, &out); err != nil {
			return nil, nil, err
		}
		got, next := items(out)
		return got, next, nil
	})
}

// moreHint tells, in table mode, how to see the records not shown.
func (x *call) moreHint(next *string) {
	if x.cli.common.output == outputTable && aws.ToString(next) != "" {
		fmt.Fprintf(x.cli.stderr, "more results: --next-token %s (or --limit N, --all)\n", *next)
	}
}

// pageFlags are the flags of the CodeConnections listings, which fetch
// every page unless asked for one.
type pageFlags struct {
	maxResults int32
	nextToken  string
}

func (p *pageFlags) register(fs *pflag.FlagSet) {
	fs.Var(positiveInt32{&p.maxResults}, "max-results", "fetch one page of at most `n` results instead of all")
	fs.StringVar(&p.nextToken, "next-token", "", "fetch one page starting at `token`, from an earlier listing")
}

// all reports whether to fetch every page rather than one.
func (p *pageFlags) all() bool { return p.maxResults == 0 && p.nextToken == "" }

// positiveInt32 is a pflag.Value that refuses zero and negatives.
type positiveInt32 struct{ p *int32 }

func (v positiveInt32) String() string {
	if v.p == nil || *v.p == 0 {
		return ""
	}
	return strconv.Itoa(int(*v.p))
}
func (v positiveInt32) Type() string { return "n" }
func (v positiveInt32) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 1 {
		return errors.New("want a positive number")
	}
	*v.p = int32(n)
	return nil
}

// pager is what the SDK's list paginators have in common.
type pager[O any] interface {
	HasMorePages() bool
	NextPage(ctx context.Context, optFns ...func(*codeconnections.Options)) (O, error)
}

// showPages fetches a CodeConnections listing, every page or the one the
// flags ask for, and shows what out makes of the records and NextToken.
func showPages[O, T any](x *call, p pager[O], paging *pageFlags, items func(O) ([]T, *string),
	out func([]T, *string) any, table func([]T) func(io.Writer)) error {
	list := []T{} // not nil, so that an empty listing is [] in JSON
	var next *string
	for p.HasMorePages() {
		o, err := p.NextPage(x.ctx)
		if err != nil {
			return err
		}
		var got []T
		got, next = items(o)
		list = append(list, got...)
		if !paging.all() {
			break
		}
	}
	defer x.moreHint(next)
	return x.show(out(list, next), table(list))
}
