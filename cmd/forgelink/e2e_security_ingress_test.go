//go:build unix

// Security of the webhook ingress end to end (issue 9, finding 3 and the
// path token): slow bodies that announce GitHub's largest payload cost the
// daemon what they send, not what they announce, while genuine deliveries
// go through; a webhook URL is not guessable from the connection id.

package main_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/internal/testenv"
	"github.com/forgelink/forgelink/relay/ingress"
	"github.com/forgelink/forgelink/relay/keyring"
	"github.com/forgelink/forgelink/store"
)

// webhookPath is connection id's webhook path on d, computed from d's
// master key as the daemon computes it.
func webhookPath(d *daemon, id string) string {
	kr, err := keyring.LoadFile(filepath.Join(d.dataDir, "master.key"))
	if err != nil {
		panic(fmt.Sprintf("master key of the daemon under test: %v", err))
	}
	return ingress.WebhookPath(kr, id)
}

const (
	slowSenders   = 100
	announcedBody = 25 << 20 // GitHub's cap, the daemon's default limit
	trickled      = 64 << 10
	maxRSS        = 300 << 20
)

func TestE2ESecurityIngressSlowBodies(t *testing.T) {
	e2e(t)
	if _, err := os.Stat("/proc/self/status"); err != nil {
		testenv.Missing(t, fmt.Sprintf("no /proc to read the daemon's memory from (%v)", err), "run on Linux with procfs mounted")
	}
	d := startDaemon(t, daemonOptions{})
	cli := cliFor(t, d)
	gh := newHookConn(t, cli, "slow-bodies", store.ProviderGitHub)
	pid := d.cmd.Process.Pid
	before := vmRSS(t, pid)

	addr := strings.TrimPrefix(d.url, "http://")
	attackers := openSlowSenders(t, addr, webhookPath(d, gh.id))
	ports := make(map[int]bool, len(attackers))
	for _, c := range attackers {
		ports[c.LocalAddr().(*net.TCPAddr).Port] = true
	}
	_, daemonPort, _ := net.SplitHostPort(addr)
	waitFor(t, "the daemon has read every trickled byte", 10*time.Second, func() (bool, string) {
		sockets, unread := unreadBytes(t, daemonPort, ports)
		return sockets == slowSenders && unread == 0, fmt.Sprintf("%d sockets, %d bytes unread", sockets, unread)
	})
	rss := vmRSS(t, pid)
	t.Logf("daemon RSS %d MiB before, %d MiB with %d bodies of %d MiB announced and %d KiB sent", before>>20, rss>>20, slowSenders, announcedBody>>20, trickled>>10)
	if rss > maxRSS {
		t.Errorf("daemon RSS %d MiB with slow bodies hanging, want under %d MiB", rss>>20, maxRSS>>20)
	}

	req, err := gh.delivery(t, "push", "push_branch.json", uuid.NewString()).request(t.Context(), gh.url(d))
	if err != nil {
		t.Fatal(err)
	}
	if a, err := send(newHookClient(t), req); err != nil || a.code != http.StatusAccepted {
		t.Fatalf("genuine delivery while slow bodies hang: %+v, %v; want 202", a, err)
	}
	// The body deadline ends every slow request; nothing of it is stored.
	for i, c := range attackers {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("slow sender %d: no answer: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("slow sender %d: HTTP %d, want 408", i, resp.StatusCode)
		}
	}
	if events := cli.listEvents(t, "--connection-arn", gh.arn); len(events) != 1 {
		t.Errorf("%d events recorded, want only the genuine delivery", len(events))
	}
}

// openSlowSenders opens slowSenders connections to addr, each announcing
// a GitHub push of announcedBody bytes on path and sending trickled of
// them. They come from four loopback addresses, so that no address
// reaches the per-source limit and every one holds a request open. All
// are closed at the end of the test.
func openSlowSenders(t *testing.T, addr, path string) []net.Conn {
	t.Helper()
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"+
		"X-GitHub-Event: push\r\nX-Hub-Signature-256: sha256=%064x\r\n", path, addr, announcedBody, 0)
	filler := bytes.Repeat([]byte(" "), trickled)
	conns := make([]net.Conn, slowSenders)
	var wg sync.WaitGroup
	errs := make(chan error, slowSenders)
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	for i := range conns {
		dialer := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%4))}}
		c, err := dialer.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("slow sender %d: %v", i, err)
		}
		conns[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(c, head+"X-GitHub-Delivery: "+uuid.NewString()+"\r\n\r\n"); err != nil {
				errs <- err
				return
			}
			if _, err := c.Write(filler); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("slow sender: %v", err)
	}
	return conns
}

// vmRSS reads a process's resident set size from /proc.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS line %q: %v", line, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// unreadBytes finds the daemon's side of the connections from the given
// client ports in /proc/net/tcp and sums what they received that the
// daemon has not read yet (rx_queue).
func unreadBytes(t *testing.T, daemonPort string, clientPorts map[int]bool) (sockets int, unread int64) {
	t.Helper()
	table, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := strconv.ParseInt(daemonPort, 10, 64)
	for line := range strings.Lines(string(table)) {
		f := strings.Fields(line)
		if len(f) < 5 || !strings.Contains(f[1], ":") {
			continue
		}
		local, remote := hexPort(f[1]), hexPort(f[2])
		_, rx, _ := strings.Cut(f[4], ":")
		queued, err := strconv.ParseInt(rx, 16, 64)
		if local != want || !clientPorts[int(remote)] || err != nil {
			continue
		}
		sockets++
		unread += queued
	}
	return sockets, unread
}

// hexPort is the port of a /proc/net/tcp address (hex IP:hex port).
func hexPort(addr string) int64 {
	_, p, _ := strings.Cut(addr, ":")
	n, _ := strconv.ParseInt(p, 16, 64)
	return n
}

// TestE2ESecurityIngressPathToken: only the path with the connection's
// token reaches it; the id alone, or another token, is answered exactly as
// an unknown connection is.
func TestE2ESecurityIngressPathToken(t *testing.T) {
	e2e(t)
	d := startDaemon(t, daemonOptions{})
	cli := cliFor(t, d)
	gh := newHookConn(t, cli, "token-path", store.ProviderGitHub)
	other := newHookConn(t, cli, "other", store.ProviderGitHub)
	client := newHookClient(t)
	good := webhookPath(d, gh.id)
	tests := []struct {
		name, path string
		code       int
	}{
		{"the id alone (the path before tokens)", "/webhooks/" + gh.id, http.StatusNotFound},
		{"another connection's token", "/webhooks/" + gh.id + "/" + strings.TrimPrefix(webhookPath(d, other.id), "/webhooks/"+other.id+"/"), http.StatusNotFound},
		{"a guessed token", "/webhooks/" + gh.id + "/AAAAAAAAAAAAAAAAAAAAAA", http.StatusNotFound},
		{"an unknown connection with its token", webhookPath(d, uuid.NewString()), http.StatusNotFound},
		{"the connection's path", good, http.StatusAccepted},
	}
	var unknown string
	for _, tc := range tests {
		req, err := gh.delivery(t, "push", "push_branch.json", uuid.NewString()).request(t.Context(), d.url+tc.path)
		if err != nil {
			t.Fatal(err)
		}
		a, err := send(client, req)
		if err != nil || a.code != tc.code {
			t.Errorf("%s: %+v, %v; want HTTP %d", tc.name, a, err, tc.code)
			continue
		}
		if tc.code == http.StatusNotFound {
			if unknown == "" {
				unknown = a.Error
			} else if a.Error != unknown {
				t.Errorf("%s: answered %q, an unknown connection %q: the answer must not tell them apart", tc.name, a.Error, unknown)
			}
		}
	}
	if events := cli.listEvents(t, "--connection-arn", gh.arn); len(events) != 1 {
		t.Errorf("%d events recorded, want only the delivery to the connection's path", len(events))
	}
}

// TestE2ESecurityIngressWebhookURL: the URL the daemon gives out for a
// connection (connections webhook) carries the path token.
func TestE2ESecurityIngressWebhookURL(t *testing.T) {
	e2e(t)
	d := startDaemon(t, daemonOptions{})
	cli := cliFor(t, d)
	gh := newHookConn(t, cli, "url", store.ProviderGitHub)
	var w webhookInfo
	cli.decode(t, &w, "connections", "webhook", gh.arn)
	u, err := url.Parse(w.URL)
	if err != nil || u.Path != webhookPath(d, gh.id) {
		t.Errorf("connections webhook URL %q, want the path %s", w.URL, webhookPath(d, gh.id))
	}
}
