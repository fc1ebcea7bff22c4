package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/forgelink/forgelink/config"
)

// healthcheckCommand asks a running daemon whether it is ready. It exists
// because the distroless image has no curl: the image's HEALTHCHECK runs
// the binary itself.
func (c *cli) healthcheckCommand() *cobra.Command {
	var url string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "exit 0 if the daemon answers /readyz with 200 (for container health checks)",
		Args:  exactArgs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if url == "" {
				u, err := readyzURL(c.getenv)
				if err != nil {
					return err
				}
				url = u
			}
			client, err := healthClient(c.getenv("FORGELINK_TLS_CERT_FILE"), timeout)
			if err != nil {
				return err
			}
			if err := healthcheck(cmd.Context(), client, url); err != nil {
				return err
			}
			_, err = fmt.Fprintln(c.stdout, "ready:", url)
			return err
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "readiness `URL` (default: /readyz on FORGELINK_LISTEN, https when FORGELINK_TLS_CERT_FILE is set)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "give up after this `duration`")
	return cmd
}

// readyzURL is the daemon's /readyz as seen from the same machine (or
// container): an unspecified listen address is reached on loopback, which
// is also the only Host an unauthenticated daemon answers.
func readyzURL(getenv func(string) string) (string, error) {
	listen := getenv("FORGELINK_LISTEN")
	if listen == "" {
		listen = config.DefaultListen
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("FORGELINK_LISTEN %q: %w", listen, err)
	}
	switch ip := net.ParseIP(host); {
	case host == "" || ip != nil && ip.Equal(net.IPv4zero):
		host = "127.0.0.1"
	case ip != nil && ip.Equal(net.IPv6unspecified):
		host = "::1"
	}
	scheme := "http"
	if getenv("FORGELINK_TLS_CERT_FILE") != "" {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/readyz", nil
}

// healthClient trusts the daemon's own certificate besides the system's
// roots, so that a self-signed certificate passes.
func healthClient(certFile string, timeout time.Duration) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if certFile != "" {
		pem, err := os.ReadFile(certFile)
		if err != nil {
			return nil, fmt.Errorf("tls certificate: %w", err)
		}
		roots, err := x509.SystemCertPool()
		if err != nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls certificate %s: no PEM certificate", certFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: timeout}, nil
}

// healthcheck GETs url and fails, in one line, unless the answer is 200.
func healthcheck(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	// The first line of the body says why (e.g. "store unavailable").
	line, _ := bufio.NewReader(io.LimitReader(resp.Body, 200)).ReadString('\n')
	return fmt.Errorf("not ready: %s answered %s: %s", url, resp.Status, strings.TrimSpace(line))
}
