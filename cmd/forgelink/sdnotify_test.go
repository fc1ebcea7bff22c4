package main

import (
	"net"
	"path/filepath"
	"testing"
	"time"
)

func TestSDNotify(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if err := sdNotify("READY=1"); err != nil {
		t.Fatalf("outside systemd: %v", err)
	}
	for _, name := range []string{filepath.Join(t.TempDir(), "notify"), "@forgelink-test-" + time.Now().Format("150405.000000000")} {
		t.Run(name, func(t *testing.T) {
			addr := name
			if addr[0] == '@' {
				addr = "\x00" + addr[1:]
			}
			conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			t.Setenv("NOTIFY_SOCKET", name)
			if err := sdNotify("READY=1"); err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 64)
			n, err := conn.Read(buf)
			if err != nil || string(buf[:n]) != "READY=1" {
				t.Fatalf("read %q, %v", buf[:n], err)
			}
		})
	}
}
