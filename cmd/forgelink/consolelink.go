package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
)

// consoleLinkOutput is CreateConsoleLink's answer.
type consoleLinkOutput struct {
	URL       string  `json:"Url"`
	ExpiresAt float64 // epoch seconds
}

func (c *cli) consoleLinkCommand() *cobra.Command {
	return c.topLeaf("console-link", "print a one-time sign-in link to the web console", exactArgs(0, 0), consoleLink)
}

// consoleLink prints a one-time sign-in link to the daemon's web console.
// The URL alone goes to stdout, so that it can be piped to a browser; when
// it expires goes to stderr.
func consoleLink(x *call) error {
	var out consoleLinkOutput
	if err := x.ext.call(x.ctx, "CreateConsoleLink", struct{}{}, &out); err != nil {
		return err
	}
	return x.showText(out, func(w io.Writer) error {
		expires := time.UnixMilli(int64(out.ExpiresAt * 1000)).Local()
		fmt.Fprintf(x.cli.stderr, "single use, valid until %s\n", expires.Format(time.DateTime+" MST"))
		_, err := fmt.Fprintln(w, out.URL)
		return err
	})
}
