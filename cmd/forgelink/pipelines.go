package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
)

func runPipelines(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runSubcommand(ctx, "pipelines", []subcommand{
		{"list", "[flags]", "list the configured pipelines", pipelinesList},
		{"get", "[flags] NAME", "show a pipeline with its triggers", pipelinesGet},
	}, args, stdout, stderr)
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

func pipelinesList(ctx context.Context, l *leaf, args []string) error {
	if _, err := l.parse(args, 0, 0); err != nil {
		return err
	}
	client, err := l.extClient(ctx)
	if err != nil {
		return err
	}
	var out struct{ Pipelines []pipelineOutput }
	if err := client.call(ctx, "ListPipelines", struct{}{}, &out); err != nil {
		return err
	}
	return l.print(out, func(w io.Writer) {
		fmt.Fprintln(w, "NAME\tREPOSITORY\tMODE\tTARGET\tCONNECTION")
		for _, p := range out.Pipelines {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", p.Name, p.Repository, p.ExecutionMode, p.Target, p.ConnectionArn)
		}
	})
}

func pipelinesGet(ctx context.Context, l *leaf, args []string) error {
	pos, err := l.parse(args, 1, 1)
	if err != nil {
		return err
	}
	client, err := l.extClient(ctx)
	if err != nil {
		return err
	}
	var out struct{ Pipeline pipelineOutput }
	if err := client.call(ctx, "GetPipeline", map[string]string{"Name": pos[0]}, &out); err != nil {
		return err
	}
	return l.print(out, func(w io.Writer) {
		p := out.Pipeline
		fmt.Fprintf(w, "NAME\t%s\nCONNECTION\t%s\nREPOSITORY\t%s\nMODE\t%s\nTARGET\t%s\nTRIGGERS\t%s\n",
			p.Name, p.ConnectionArn, p.Repository, p.ExecutionMode, p.Target, p.Triggers)
	})
}
