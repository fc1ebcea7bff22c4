package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"
)

// consoleLinkOutput is CreateConsoleLink's answer.
type consoleLinkOutput struct {
	URL       string  `json:"Url"`
	ExpiresAt float64 // epoch seconds
}

func runConsoleLink(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	l := newLeaf("console-link", "[flags]", stdout, stderr, os.Getenv)
	return shortAPIError(consoleLink(ctx, l, args))
}

// consoleLink prints a one-time sign-in link to the daemon's web console.
// The URL alone goes to stdout, so that it can be piped to a browser; when
// it expires goes to stderr.
func consoleLink(ctx context.Context, l *leaf, args []string) error {
	if _, err := l.parse(args, 0, 0); err != nil {
		return err
	}
	client, err := l.extClient(ctx)
	if err != nil {
		return err
	}
	var out consoleLinkOutput
	if err := client.call(ctx, "CreateConsoleLink", struct{}{}, &out); err != nil {
		return err
	}
	if l.common.output == "json" {
		return writeJSON(l.stdout, out)
	}
	expires := time.UnixMilli(int64(out.ExpiresAt * 1000)).Local()
	fmt.Fprintf(l.stderr, "single use, valid until %s\n", expires.Format(time.DateTime+" MST"))
	_, err = fmt.Fprintln(l.stdout, out.URL)
	return err
}
