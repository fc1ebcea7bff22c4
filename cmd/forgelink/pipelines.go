package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func (c *cli) pipelinesCommand() *cobra.Command {
	return c.clientGroup("pipelines", "list and show the configured pipelines",
		c.leaf("list", "list the configured pipelines", exactArgs(0, 0), pipelinesList),
		c.leaf("get NAME", "show a pipeline with its triggers", exactArgs(1, 1), pipelinesGet),
	)
}

// pipelineOutput is a pipeline as ListPipelines and GetPipeline return it.
type pipelineOutput struct {
	Name          string
	ConnectionArn string
	Repository    string
	ExecutionMode string
	Target        string
	Triggers      json.RawMessage // as in the configuration file
}

func pipelinesList(x *call) error {
	var out struct{ Pipelines []pipelineOutput }
	if err := x.ext.call(x.ctx, "ListPipelines", struct{}{}, &out); err != nil {
		return err
	}
	return x.show(out, func(w io.Writer) {
		fmt.Fprintln(w, "NAME\tREPOSITORY\tMODE\tTARGET\tCONNECTION")
		for _, p := range out.Pipelines {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", p.Name, p.Repository, p.ExecutionMode, p.Target, p.ConnectionArn)
		}
	})
}

func pipelinesGet(x *call) error {
	var out struct{ Pipeline pipelineOutput }
	if err := x.ext.call(x.ctx, "GetPipeline", map[string]string{"Name": x.args[0]}, &out); err != nil {
		return err
	}
	return x.show(out, func(w io.Writer) {
		p := out.Pipeline
		fmt.Fprintf(w, "NAME\t%s\nCONNECTION\t%s\nREPOSITORY\t%s\nMODE\t%s\nTARGET\t%s\nTRIGGERS\t%s\n",
			p.Name, p.ConnectionArn, p.Repository, p.ExecutionMode, p.Target, p.Triggers)
	})
}
