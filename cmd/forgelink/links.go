package main

import (
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections/types"
)

func runRepositoryLinks(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runSubcommand(ctx, "repository-links", []subcommand{
		{"create", "--connection-arn ARN --owner-id OWNER --repository-name NAME [--encryption-key-arn ARN] [--tag KEY=VALUE ...] [flags]",
			"link a repository: forgelink registers its webhook", linksCreate},
		{"get", "[flags] ID", "show a repository link", linksGet},
		{"list", "[flags]", "list repository links", linksList},
		{"update", "[--connection-arn ARN] [--encryption-key-arn ARN] [flags] ID", "move a link to another connection", linksUpdate},
		{"delete", "[flags] ID", "delete a repository link", linksDelete},
	}, args, stdout, stderr)
}

func linksCreate(ctx context.Context, l *leaf, args []string) error {
	conn := l.String("connection-arn", "", "`ARN` of the connection (required)")
	owner := l.String("owner-id", "", "repository `owner`: user, organisation, workspace or GitLab group path (required)")
	name := l.String("repository-name", "", "repository `name` (required)")
	key := l.String("encryption-key-arn", "", "KMS key `ARN`, kept and shown only: forgelink seals secrets with its own key")
	tags := l.tagFlag()
	if _, err := l.parse(args, 0, 0); err != nil {
		return err
	}
	switch "" {
	case *conn:
		return usagef("--connection-arn is required")
	case *owner:
		return usagef("--owner-id is required")
	case *name:
		return usagef("--repository-name is required")
	}
	client, err := l.client(ctx)
	if err != nil {
		return err
	}
	out, err := client.CreateRepositoryLink(ctx, &codeconnections.CreateRepositoryLinkInput{
		ConnectionArn:    conn,
		OwnerId:          owner,
		RepositoryName:   name,
		EncryptionKeyArn: optional(*key),
		Tags:             *tags,
	})
	if err != nil {
		return err
	}
	return l.print(out, linkTable(oneLink(out.RepositoryLinkInfo)))
}

func linksGet(ctx context.Context, l *leaf, args []string) error {
	pos, err := l.parse(args, 1, 1)
	if err != nil {
		return err
	}
	client, err := l.client(ctx)
	if err != nil {
		return err
	}
	out, err := client.GetRepositoryLink(ctx, &codeconnections.GetRepositoryLinkInput{RepositoryLinkId: &pos[0]})
	if err != nil {
		return err
	}
	return l.print(out, linkTable(oneLink(out.RepositoryLinkInfo)))
}

func linksList(ctx context.Context, l *leaf, args []string) error {
	paging := l.pageFlags()
	if _, err := l.parse(args, 0, 0); err != nil {
		return err
	}
	client, err := l.client(ctx)
	if err != nil {
		return err
	}
	p := codeconnections.NewListRepositoryLinksPaginator(client, &codeconnections.ListRepositoryLinksInput{
		MaxResults: paging.maxResults,
		NextToken:  optional(paging.nextToken),
	})
	links, last, err := collect(ctx, p, paging.all(), func(o *codeconnections.ListRepositoryLinksOutput) []types.RepositoryLinkInfo {
		return o.RepositoryLinks
	})
	if err != nil {
		return err
	}
	out := &codeconnections.ListRepositoryLinksOutput{RepositoryLinks: links, NextToken: last.NextToken}
	return l.printPage(out, out.NextToken, linkTable(links))
}

func linksUpdate(ctx context.Context, l *leaf, args []string) error {
	conn := l.String("connection-arn", "", "`ARN` of the connection to move the link to (same provider type)")
	key := l.String("encryption-key-arn", "", "new KMS key `ARN` (kept and shown only)")
	pos, err := l.parse(args, 1, 1)
	if err != nil {
		return err
	}
	if *conn == "" && *key == "" {
		return usagef("nothing to update: give --connection-arn or --encryption-key-arn")
	}
	client, err := l.client(ctx)
	if err != nil {
		return err
	}
	out, err := client.UpdateRepositoryLink(ctx, &codeconnections.UpdateRepositoryLinkInput{
		RepositoryLinkId: &pos[0],
		ConnectionArn:    optional(*conn),
		EncryptionKeyArn: optional(*key),
	})
	if err != nil {
		return err
	}
	return l.print(out, linkTable(oneLink(out.RepositoryLinkInfo)))
}

func linksDelete(ctx context.Context, l *leaf, args []string) error {
	pos, err := l.parse(args, 1, 1)
	if err != nil {
		return err
	}
	client, err := l.client(ctx)
	if err != nil {
		return err
	}
	_, err = client.DeleteRepositoryLink(ctx, &codeconnections.DeleteRepositoryLinkInput{RepositoryLinkId: &pos[0]})
	return err
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
