package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections/types"
)

func (c *cli) hostsCommand() *cobra.Command {
	return c.clientGroup("hosts", "create, get, list, update and delete hosts",
		c.hostsCreate(),
		c.leaf("get ARN", "show a host", exactArgs(1, 1), hostsGet),
		c.hostsList(),
		c.hostsUpdate(),
		c.leaf("delete ARN", "delete a host", exactArgs(1, 1), hostsDelete),
		c.hostsSetup(),
		c.hostsConfigureApp(),
	)
}

func (c *cli) hostsCreate() *cobra.Command {
	var name, provider, endpoint string
	var tags *[]types.Tag
	cmd := c.leaf("create --name NAME --provider-type TYPE --provider-endpoint URL", "create a host", exactArgs(0, 0), func(x *call) error {
		if err := required(x.cmd, "name", "provider-type", "provider-endpoint"); err != nil {
			return err
		}
		out, err := x.api.CreateHost(x.ctx, &codeconnections.CreateHostInput{
			Name:             &name,
			ProviderType:     types.ProviderType(provider),
			ProviderEndpoint: &endpoint,
			Tags:             *tags,
		})
		if err != nil {
			return err
		}
		return x.show(out, func(w io.Writer) { fmt.Fprintln(w, aws.ToString(out.HostArn)) })
	})
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "host `name` (required)")
	f.StringVar(&provider, "provider-type", "", "provider `type`, e.g. GitHubEnterpriseServer, GitLabSelfManaged (required)")
	f.StringVar(&endpoint, "provider-endpoint", "", "`URL` of the provider's installation (required)")
	tags = tagFlag(f)
	return cmd
}

func hostsGet(x *call) error {
	out, err := x.api.GetHost(x.ctx, &codeconnections.GetHostInput{HostArn: &x.args[0]})
	if err != nil {
		return err
	}
	// GetHost does not echo the ARN; the table shows the one asked for.
	host := types.Host{
		HostArn:          &x.args[0],
		Name:             out.Name,
		ProviderEndpoint: out.ProviderEndpoint,
		ProviderType:     out.ProviderType,
		Status:           out.Status,
	}
	return x.show(out, hostTable([]types.Host{host}))
}

func (c *cli) hostsList() *cobra.Command {
	var paging pageFlags
	cmd := c.leaf("list", "list hosts", exactArgs(0, 0), func(x *call) error {
		p := codeconnections.NewListHostsPaginator(x.api, &codeconnections.ListHostsInput{
			MaxResults: paging.maxResults,
			NextToken:  optional(paging.nextToken),
		})
		return showPages(x, p, &paging, func(o *codeconnections.ListHostsOutput) ([]types.Host, *string) { return o.Hosts, o.NextToken },
			func(hosts []types.Host, next *string) any {
				return &codeconnections.ListHostsOutput{Hosts: hosts, NextToken: next}
			},
			hostTable)
	})
	paging.register(cmd.Flags())
	return cmd
}

func (c *cli) hostsUpdate() *cobra.Command {
	var endpoint string
	cmd := c.leaf("update [--provider-endpoint URL] ARN", "update a host", exactArgs(1, 1), func(x *call) error {
		out, err := x.api.UpdateHost(x.ctx, &codeconnections.UpdateHostInput{
			HostArn:          &x.args[0],
			ProviderEndpoint: optional(endpoint),
		})
		if err != nil {
			return err
		}
		return x.done(out, "Updated host %s.", x.args[0])
	})
	cmd.Flags().StringVar(&endpoint, "provider-endpoint", "", "new `URL` of the provider's installation")
	return cmd
}

func hostsDelete(x *call) error {
	out, err := x.api.DeleteHost(x.ctx, &codeconnections.DeleteHostInput{HostArn: &x.args[0]})
	if err != nil {
		return err
	}
	return x.done(out, "Deleted host %s.", x.args[0])
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
