package main

import (
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections/types"
)

func runTags(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runSubcommand(ctx, "tags", []subcommand{
		{"add", "[flags] ARN KEY=VALUE ...", "add or overwrite tags of a resource", tagsAdd},
		{"remove", "[flags] ARN KEY ...", "remove tags from a resource", tagsRemove},
		{"list", "[flags] ARN", "list the tags of a resource", tagsList},
	}, args, stdout, stderr)
}

func tagsAdd(ctx context.Context, l *leaf, args []string) error {
	pos, err := l.parse(args, 2, -1)
	if err != nil {
		return err
	}
	tags := make([]types.Tag, 0, len(pos)-1)
	for _, s := range pos[1:] {
		t, err := parseTag(s)
		if err != nil {
			return usagef("%v", err)
		}
		tags = append(tags, t)
	}
	client, err := l.client(ctx)
	if err != nil {
		return err
	}
	_, err = client.TagResource(ctx, &codeconnections.TagResourceInput{ResourceArn: &pos[0], Tags: tags})
	return err
}

func tagsRemove(ctx context.Context, l *leaf, args []string) error {
	pos, err := l.parse(args, 2, -1)
	if err != nil {
		return err
	}
	client, err := l.client(ctx)
	if err != nil {
		return err
	}
	_, err = client.UntagResource(ctx, &codeconnections.UntagResourceInput{ResourceArn: &pos[0], TagKeys: pos[1:]})
	return err
}

func tagsList(ctx context.Context, l *leaf, args []string) error {
	pos, err := l.parse(args, 1, 1)
	if err != nil {
		return err
	}
	client, err := l.client(ctx)
	if err != nil {
		return err
	}
	out, err := client.ListTagsForResource(ctx, &codeconnections.ListTagsForResourceInput{ResourceArn: &pos[0]})
	if err != nil {
		return err
	}
	if out.Tags == nil {
		// An untagged resource lists as [] in JSON, like an empty listing.
		out.Tags = []types.Tag{}
	}
	return l.print(out, func(w io.Writer) {
		fmt.Fprintln(w, "KEY\tVALUE")
		for _, t := range out.Tags {
			fmt.Fprintf(w, "%s\t%s\n", aws.ToString(t.Key), aws.ToString(t.Value))
		}
	})
}
