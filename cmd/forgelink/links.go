package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections/types"
)

func (c *cli) linksCommand() *cobra.Command {
	return c.clientGroup("repository-links", "link repositories to connections (forgelink keeps their webhooks)",
		c.linksCreate(),
		c.leaf("get ID", "show a repository link", exactArgs(1, 1), linksGet),
		c.linksList(),
		c.linksUpdate(),
		c.leaf("delete ID", "delete a repository link", exactArgs(1, 1), linksDelete),
	)
}

func (c *cli) linksCreate() *cobra.Command {
	var conn, owner, name, key string
	var tags *[]types.Tag
	cmd := c.leaf("create --connection-arn ARN --owner-id OWNER --repository-name NAME",
		"link a repository: forgelink registers its webhook", exactArgs(0, 0), func(x *call) error {
			if err := required(x.cmd, "connection-arn", "owner-id", "repository-name"); err != nil {
				return err
			}
			out, err := x.api.CreateRepositoryLink(x.ctx, &codeconnections.CreateRepositoryLinkInput{
				ConnectionArn:    &conn,
				OwnerId:          &owner,
				RepositoryName:   &name,
				EncryptionKeyArn: optional(key),
				Tags:             *tags,
			})
			if err != nil {
				return err
			}
			return x.doneTable(out, linkTable(oneLink(out.RepositoryLinkInfo)), "Linked %s/%s to %s.", owner, name, conn)
		})
	f := cmd.Flags()
	f.StringVar(&conn, "connection-arn", "", "`ARN` of the connection (required)")
	f.StringVar(&owner, "owner-id", "", "repository `owner`: user, organisation, workspace or GitLab group path (required)")
	f.StringVar(&name, "repository-name", "", "repository `name` (required)")
	f.StringVar(&key, "encryption-key-arn", "", "KMS key `ARN`, kept and shown only: forgelink seals secrets with its own key")
	tags = tagFlag(f)
	return cmd
}

func linksGet(x *call) error {
	out, err := x.api.GetRepositoryLink(x.ctx, &codeconnections.GetRepositoryLinkInput{RepositoryLinkId: &x.args[0]})
	if err != nil {
		return err
	}
	return x.show(out, linkTable(oneLink(out.RepositoryLinkInfo)))
}

func (c *cli) linksList() *cobra.Command {
	var paging pageFlags
	cmd := c.leaf("list", "list repository links", exactArgs(0, 0), func(x *call) error {
		p := codeconnections.NewListRepositoryLinksPaginator(x.api, &codeconnections.ListRepositoryLinksInput{
			MaxResults: paging.maxResults,
			NextToken:  optional(paging.nextToken),
		})
		return showPages(x, p, &paging,
			func(o *codeconnections.ListRepositoryLinksOutput) ([]types.RepositoryLinkInfo, *string) {
				return o.RepositoryLinks, o.NextToken
			},
			func(links []types.RepositoryLinkInfo, next *string) any {
				return &codeconnections.ListRepositoryLinksOutput{RepositoryLinks: links, NextToken: next}
			},
			linkTable)
	})
	paging.register(cmd.Flags())
	return cmd
}

func (c *cli) linksUpdate() *cobra.Command {
	var conn, key string
	cmd := c.leaf("update [--connection-arn ARN] [--encryption-key-arn ARN] ID", "move a link to another connection", exactArgs(1, 1), func(x *call) error {
		if conn == "" && key == "" {
			return usagef("nothing to update: give --connection-arn or --encryption-key-arn")
		}
		out, err := x.api.UpdateRepositoryLink(x.ctx, &codeconnections.UpdateRepositoryLinkInput{
			RepositoryLinkId: &x.args[0],
			ConnectionArn:    optional(conn),
			EncryptionKeyArn: optional(key),
		})
		if err != nil {
			return err
		}
		return x.doneTable(out, linkTable(oneLink(out.RepositoryLinkInfo)), "Updated repository link %s.", x.args[0])
	})
	cmd.Flags().StringVar(&conn, "connection-arn", "", "`ARN` of the connection to move the link to (same provider type)")
	cmd.Flags().StringVar(&key, "encryption-key-arn", "", "new KMS key `ARN` (kept and shown only)")
	return cmd
}

func linksDelete(x *call) error {
	out, err := x.api.DeleteRepositoryLink(x.ctx, &codeconnections.DeleteRepositoryLinkInput{RepositoryLinkId: &x.args[0]})
	if err != nil {
		return err
	}
	return x.done(out, "Deleted repository link %s.", x.args[0])
}

// linkTable lists repository links.
func linkTable(links []types.RepositoryLinkInfo) func(io.Writer) {
	return func(w io.Writer) {
		fmt.Fprintln(w, "ID\tPROVIDER\tREPOSITORY\tCONNECTION")
		for _, l := range links {
			fmt.Fprintf(w, "%s\t%s\t%s/%s\t%s\n", aws.ToString(l.RepositoryLinkId), l.ProviderType,
				aws.ToString(l.OwnerId), aws.ToString(l.RepositoryName), aws.ToString(l.ConnectionArn))
		}
	}
}

// oneLink is the link of an answer that carries one.
func oneLink(info *types.RepositoryLinkInfo) []types.RepositoryLinkInfo {
	if info == nil {
		return nil
	}
	return []types.RepositoryLinkInfo{*info}
}
