package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections/types"
)

func (c *cli) tagsCommand() *cobra.Command {
	return c.clientGroup("tags", "add, remove and list resource tags",
		c.leaf("add ARN KEY=VALUE ...", "add or overwrite tags of a resource", exactArgs(2, -1), tagsAdd),
		c.leaf("remove ARN KEY ...", "remove tags from a resource", exactArgs(2, -1), tagsRemove),
		c.leaf("list ARN", "list the tags of a resource", exactArgs(1, 1), tagsList),
	)
}

func tagsAdd(x *call) error {
	tags := make([]types.Tag, 0, len(x.args)-1)
	for _, s := range x.args[1:] {
		t, err := parseTag(s)
		if err != nil {
			return usageError{err.Error()}
		}
		tags = append(tags, t)
	}
	out, err := x.api.TagResource(x.ctx, &codeconnections.TagResourceInput{ResourceArn: &x.args[0], Tags: tags})
	if err != nil {
		return err
	}
	return x.done(out, "Tagged %s: %s added.", x.args[0], plural(len(tags), "tag"))
}

func tagsRemove(x *call) error {
	keys := x.args[1:]
	out, err := x.api.UntagResource(x.ctx, &codeconnections.UntagResourceInput{ResourceArn: &x.args[0], TagKeys: keys})
	if err != nil {
		return err
	}
	return x.done(out, "Untagged %s: %s removed.", x.args[0], plural(len(keys), "tag"))
}

func tagsList(x *call) error {
	out, err := x.api.ListTagsForResource(x.ctx, &codeconnections.ListTagsForResourceInput{ResourceArn: &x.args[0]})
	if err != nil {
		return err
	}
	if out.Tags == nil {
		// An untagged resource lists as [] in JSON, like an empty listing.
		out.Tags = []types.Tag{}
	}
	return x.show(out, func(w io.Writer) {
		fmt.Fprintln(w, "KEY\tVALUE")
		for _, t := range out.Tags {
			fmt.Fprintf(w, "%s\t%s\n", aws.ToString(t.Key), aws.ToString(t.Value))
		}
	})
}

// plural is "1 tag", "2 tags".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
