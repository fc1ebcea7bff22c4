package main

import (
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections/types"
)

func runHosts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runSubcommand(ctx, "hosts", []subcommand{
		{"create", "--name NAME --provider-type TYPE --provider-endpoint URL [--tag KEY=VALUE ...] [flags]", "create a host", hostsCreate},
		{"get", "[flags] ARN", "show a host", hostsGet},
		{"list", "[flags]", "list hosts", hostsList},
		{"update", "[--provider-endpoint URL] [flags] ARN", "update a host", hostsUpdate},
		{"delete", "[flags] ARN", "delete a host", hostsDelete},
		{"setup", "[--github-app [--org ORG]] [flags] [ARN]", "print a link that sets the host up in a browser (or registers a GitHub App on github.com)", hostsSetup},
		{"configure-app", "(--client-id ID --client-secret-file FILE | --admin-token-file FILE) [flags] ARN", "give a GitLab self-managed host its OAuth application (no browser)", hostsConfigureApp},
	}, args, stdout, stderr)
}

func hostsCreate(ctx context.Context, l *leaf, args []string) error {
	name := l.String("name", "", "host `name` (required)")
	provider := l.String("provider-type", "", "provider `type`, e.g. GitHubEnterpriseServer, GitLabSelfManaged (required)")
	endpoint := l.String("provider-endpoint", "", "`URL` of the provider's installation (required)")
	tags := l.tagFlag()
	if _, err := l.parse(args, 0, 0); err != nil {
		return err
	}
	switch "" {
	case *name:
		return usagef("--name is required")
	case *provider:
		return usagef("--provider-type is required")
	case *endpoint:
		return usagef("--provider-endpoint is required")
	}
	client, err := l.client(ctx)
	if err != nil {
		return err
	}
	out, err := client.CreateHost(ctx, &codeconnections.CreateHostInput{
		Name:             name,
		ProviderType:     types.ProviderType(*provider),
		ProviderEndpoint: endpoint,
		Tags:             *tags,
	})
	if err != nil {
		return err
	}
	return l.print(out, func(w io.Writer) { fmt.Fprintln(w, aws.ToString(out.HostArn)) })
}

func hostsGet(ctx context.Context, l *leaf, args []string) error {
	pos, err := l.parse(args, 1, 1)
	if err != nil {
		return err
	}
	client, err := l.client(ctx)
	if err != nil {
		return err
	}
	out, err := client.GetHost(ctx, &codeconnections.GetHostInput{HostArn: &pos[0]})
	if err != nil {
		return err
	}
	// GetHost does not echo the ARN; the table shows the one asked for.
	host := types.Host{
		HostArn:          &pos[0],
		Name:             out.Name,
		ProviderEndpoint: out.ProviderEndpoint,
		ProviderType:     out.ProviderType,
		Status:           out.Status,
	}
	return l.print(out, hostTable([]types.Host{host}))
}

func hostsList(ctx context.Context, l *leaf, args []string) error {
	paging := l.pageFlags()
	if _, err := l.parse(args, 0, 0); err != nil {
		return err
	}
	client, err := l.client(ctx)
	if err != nil {
		return err
	}
	p := codeconnections.NewListHostsPaginator(client, &codeconnections.ListHostsInput{
		MaxResults: paging.maxResults,
		NextToken:  optional(paging.nextToken),
	})
	hosts, last, err := collect(ctx, p, paging.all(), func(o *codeconnections.ListHostsOutput) []types.Host {
		return o.Hosts
	})
	if err != nil {
		return err
	}
	out := &codeconnections.ListHostsOutput{Hosts: hosts, NextToken: last.NextToken}
	return l.printPage(out, out.NextToken, hostTable(hosts))
}

func hostsUpdate(ctx context.Context, l *leaf, args []string) error {
	endpoint := l.String("provider-endpoint", "", "new `URL` of the provider's installation")
	pos, err := l.parse(args, 1, 1)
	if err != nil {
		return err
	}
	client, err := l.client(ctx)
	if err != nil {
		return err
	}
	_, err = client.UpdateHost(ctx, &codeconnections.UpdateHostInput{
		HostArn:          &pos[0],
		ProviderEndpoint: optional(*endpoint),
	})
	return err
}

func hostsDelete(ctx context.Context, l *leaf, args []string) error {
	pos, err := l.parse(args, 1, 1)
	if err != nil {
		return err
	}
	client, err := l.client(ctx)
	if err != nil {
		return err
	}
	_, err = client.DeleteHost(ctx, &codeconnections.DeleteHostInput{HostArn: &pos[0]})
	return err
}

func hostTable(hosts []types.Host) func(io.Writer) {
	return func(w io.Writer) {
		fmt.Fprintln(w, "NAME\tSTATUS\tPROVIDER\tENDPOINT\tARN")
		for _, h := range hosts {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", aws.ToString(h.Name), aws.ToString(h.Status), h.ProviderType,
				aws.ToString(h.ProviderEndpoint), aws.ToString(h.HostArn))
		}
	}
}
