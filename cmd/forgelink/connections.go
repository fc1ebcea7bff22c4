package main

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections/types"
)

func runConnections(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runSubcommand(ctx, "connections", []subcommand{
		{"create", "--name NAME (--provider-type TYPE | --host-arn ARN) [--tag KEY=VALUE ...] [flags]", "create a connection", connectionsCreate},
		{"get", "[flags] ARN", "show a connection", connectionsGet},
		{"list", "[flags]", "list connections", connectionsList},
		{"delete", "[flags] ARN", "delete a connection", connectionsDelete},
		{"webhook", "[flags] ARN", "show the connection's webhook URL and secret", connectionsWebhook},
		{"rotate-secret", "[--overlap DURATION | --revoke-now] [flags] ARN", "issue a new webhook secret", connectionsRotateSecret},
		{"complete", "--token-file FILE [flags] ARN", "make a connection AVAILABLE with an access token (no browser)", connectionsComplete},
		{"setup", "[flags] ARN", "print a link that sets the connection up in a browser (valid 10 minutes)", connectionsSetup},
	}, args, stdout, stderr)
}

func connectionsCreate(ctx context.Context, l *leaf, args []string) error {
	name := l.String("name", "", "connection `name` (required)")
	provider := l.String("provider-type", "", "provider `type`, e.g. GitHub, GitLab, Bitbucket")
	host := l.String("host-arn", "", "`ARN` of the host of a self-managed provider")
	tags := l.tagFlag()
	if _, err := l.parse(args, 0, 0); err != nil {
		return err
	}
	if *name == "" {
		return usagef("--name is required")
	}
	if *provider == "" && *host == "" {
		return usagef("--provider-type or --host-arn is required")
	}
	client, err := l.client(ctx)
	if err != nil {
		return err
	}
	out, err := client.CreateConnection(ctx, &codeconnections.CreateConnectionInput{
		ConnectionName: name,
		ProviderType:   types.ProviderType(*provider),
		HostArn:        optional(*host),
		Tags:           *tags,
	})
	if err != nil {
		return err
	}
	return l.print(out, func(w io.Writer) { fmt.Fprintln(w, aws.ToString(out.ConnectionArn)) })
}

func connectionsGet(ctx context.Context, l *leaf, args []string) error {
	pos, err := l.parse(args, 1, 1)
	if err != nil {
		return err
	}
	client, err := l.client(ctx)
	if err != nil {
		return err
	}
	out, err := client.GetConnection(ctx, &codeconnections.GetConnectionInput{ConnectionArn: &pos[0]})
	if err != nil {
		return err
	}
	var conns []types.Connection
	if out.Connection != nil {
		conns = append(conns, *out.Connection)
	}
	return l.print(out, connectionTable(conns))
}

func connectionsList(ctx context.Context, l *leaf, args []string) error {
	provider := l.String("provider-type", "", "list only connections to provider `type`")
	host := l.String("host-arn", "", "list only connections to the host with this `ARN`")
	paging := l.pageFlags()
	if _, err := l.parse(args, 0, 0); err != nil {
		return err
	}
	client, err := l.client(ctx)
	if err != nil {
		return err
	}
	p := codeconnections.NewListConnectionsPaginator(client, &codeconnections.ListConnectionsInput{
		ProviderTypeFilter: types.ProviderType(*provider),
		HostArnFilter:      optional(*host),
		MaxResults:         paging.maxResults,
		NextToken:          optional(paging.nextToken),
	})
	conns, last, err := collect(ctx, p, paging.all(), func(o *codeconnections.ListConnectionsOutput) []types.Connection {
		return o.Connections
	})
	if err != nil {
		return err
	}
	out := &codeconnections.ListConnectionsOutput{Connections: conns, NextToken: last.NextToken}
	return l.printPage(out, out.NextToken, connectionTable(conns))
}

func connectionsDelete(ctx context.Context, l *leaf, args []string) error {
	pos, err := l.parse(args, 1, 1)
	if err != nil {
		return err
	}
	client, err := l.client(ctx)
	if err != nil {
		return err
	}
	_, err = client.DeleteConnection(ctx, &codeconnections.DeleteConnectionInput{ConnectionArn: &pos[0]})
	return err
}

// connectionTable lists connections, with a HOST column only when one of
// them belongs to a host.
func connectionTable(conns []types.Connection) func(io.Writer) {
	return func(w io.Writer) {
		withHost := slices.ContainsFunc(conns, func(c types.Connection) bool { return c.HostArn != nil })
		fmt.Fprint(w, "NAME\tSTATUS\tPROVIDER\tARN")
		if withHost {
			fmt.Fprint(w, "\tHOST")
		}
		fmt.Fprintln(w)
		for _, c := range conns {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s", aws.ToString(c.ConnectionName), c.ConnectionStatus, c.ProviderType, aws.ToString(c.ConnectionArn))
			if withHost {
				fmt.Fprintf(w, "\t%s", aws.ToString(c.HostArn))
			}
			fmt.Fprintln(w)
		}
	}
}
