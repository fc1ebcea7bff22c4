package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/spf13/cobra"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections/types"
)

func (c *cli) connectionsCommand() *cobra.Command {
	return c.clientGroup("connections", "create, get, list and delete connections",
		c.connectionsCreate(),
		c.leaf("get ARN", "show a connection", exactArgs(1, 1), connectionsGet),
		c.connectionsList(),
		c.leaf("delete ARN", "delete a connection", exactArgs(1, 1), connectionsDelete),
		c.leaf("webhook ARN", "show the connection's webhook URL and secret", exactArgs(1, 1), connectionsWebhook),
		c.connectionsRotateSecret(),
		c.connectionsComplete(),
		c.leaf("setup ARN", "print a link that sets the connection up in a browser (valid 10 minutes)", exactArgs(1, 1), connectionsSetup),
	)
}

func (c *cli) connectionsCreate() *cobra.Command {
	var name, provider, host string
	var tags *[]types.Tag
	cmd := c.leaf("create --name NAME (--provider-type TYPE | --host-arn ARN)", "create a connection", exactArgs(0, 0), func(x *call) error {
		if err := required(x.cmd, "name"); err != nil {
			return err
		}
		if provider == "" && host == "" {
			return usagef("--provider-type or --host-arn is required")
		}
		out, err := x.api.CreateConnection(x.ctx, &codeconnections.CreateConnectionInput{
			ConnectionName: &name,
			ProviderType:   types.ProviderType(provider),
			HostArn:        optional(host),
			Tags:           *tags,
		})
		if err != nil {
			return err
		}
		return x.show(out, func(w io.Writer) { fmt.Fprintln(w, aws.ToString(out.ConnectionArn)) })
	})
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "connection `name` (required)")
	f.StringVar(&provider, "provider-type", "", "provider `type`: GitHub, GitLab, Bitbucket (or GitHubEnterpriseServer, GitLabSelfManaged with --host-arn)")
	f.StringVar(&host, "host-arn", "", "`ARN` of the host of a self-managed provider")
	tags = tagFlag(f)
	return cmd
}

func connectionsGet(x *call) error {
	raw := &rawAnswer{}
	out, err := x.api.GetConnection(x.ctx, &codeconnections.GetConnectionInput{ConnectionArn: &x.args[0]}, raw.capture)
	if err != nil {
		return err
	}
	if out.Connection == nil {
		return fmt.Errorf("get connection: the answer has no Connection")
	}
	// StatusReason is forgelink's member beside AWS's: the SDK's types drop
	// it, so it is read from the answer itself.
	var extra struct{ Connection struct{ StatusReason string } }
	if err := json.Unmarshal(raw.body, &extra); err != nil {
		return fmt.Errorf("get connection: decode answer: %w", err)
	}
	detail := connectionDetail{Connection: *out.Connection, StatusReason: extra.Connection.StatusReason}
	return x.showText(struct{ Connection connectionDetail }{detail}, detail.write)
}

// connectionDetail is one connection as GetConnection answers it,
// forgelink's StatusReason included.
type connectionDetail struct {
	types.Connection
	StatusReason string `json:",omitempty"`
}

func (d connectionDetail) write(w io.Writer) error {
	return tabulate(w, func(w io.Writer) {
		row := func(k, v string) {
			if v != "" {
				fmt.Fprintf(w, "%s:\t%s\n", k, v)
			}
		}
		row("Name", aws.ToString(d.ConnectionName))
		row("ARN", aws.ToString(d.ConnectionArn))
		row("Provider", string(d.ProviderType))
		row("Status", string(d.ConnectionStatus))
		row("Reason", d.StatusReason)
		row("Owner", aws.ToString(d.OwnerAccountId))
		row("Host", aws.ToString(d.HostArn))
	})
}

// rawAnswer keeps the body of the answer to one SDK call, for members the
// SDK's types do not have.
type rawAnswer struct {
	next codeconnections.HTTPClient
	body []byte
}

// capture is an SDK call option that routes the call through r.
func (r *rawAnswer) capture(o *codeconnections.Options) {
	r.next, o.HTTPClient = o.HTTPClient, r
}

func (r *rawAnswer) Do(req *http.Request) (*http.Response, error) {
	resp, err := r.next.Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	r.body, resp.Body = body, io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

func (c *cli) connectionsList() *cobra.Command {
	var provider, host string
	var paging pageFlags
	cmd := c.leaf("list", "list connections", exactArgs(0, 0), func(x *call) error {
		p := codeconnections.NewListConnectionsPaginator(x.api, &codeconnections.ListConnectionsInput{
			ProviderTypeFilter: types.ProviderType(provider),
			HostArnFilter:      optional(host),
			MaxResults:         paging.maxResults,
			NextToken:          optional(paging.nextToken),
		})
		return showPages(x, p, &paging,
			func(o *codeconnections.ListConnectionsOutput) ([]types.Connection, *string) {
				return o.Connections, o.NextToken
			},
			func(conns []types.Connection, next *string) any {
				return &codeconnections.ListConnectionsOutput{Connections: conns, NextToken: next}
			},
			connectionTable)
	})
	cmd.Flags().StringVar(&provider, "provider-type", "", "list only connections to provider `type`")
	cmd.Flags().StringVar(&host, "host-arn", "", "list only connections to the host with this `ARN`")
	paging.register(cmd.Flags())
	return cmd
}

func connectionsDelete(x *call) error {
	out, err := x.api.DeleteConnection(x.ctx, &codeconnections.DeleteConnectionInput{ConnectionArn: &x.args[0]})
	if err != nil {
		return err
	}
	return x.done(out, "Deleted connection %s.", x.args[0])
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
