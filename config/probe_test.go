package config

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
)

func TestProbeTargets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()
	path := writeFile(t, strings.Join([]string{
		"targets:",
		"  - name: up",
		"    type: http",
		"    http: {url: \"http://" + ln.Addr().String() + "/hook\"}",
		"  - name: down",
		"    type: nats",
		"    nats: {url: \"nats://" + closedAddr + "\", subject: ci}",
		"  - name: local",
		"    type: exec",
		"    exec: {command: [/bin/true]}",
	}, "\n"))
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var d net.Dialer
	err = cfg.ProbeTargets(context.Background(), d.DialContext)
	var verr ValidationError
	if !errors.As(err, &verr) || len(verr) != 1 {
		t.Fatalf("ProbeTargets = %v, want one problem", err)
	}
	if fe := verr[0]; fe.Field != "targets[1].nats.url" || fe.Line != 7 || !strings.Contains(fe.Msg, "down unreachable") {
		t.Errorf("problem %+v", fe)
	}
}

func TestTargetProblem(t *testing.T) {
	path := writeFile(t, strings.Join([]string{
		"targets:",
		"  - name: local",
		"    type: exec",
		"    exec:",
		"      command: [/no/such/build]",
	}, "\n"))
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		err  string
		want string
	}{
		{`command: exec: "/no/such/build": stat /no/such/build: no such file or directory`,
			path + `:5: targets[0].exec.command: command: exec: "/no/such/build": stat /no/such/build: no such file or directory`},
		{`command "build": no executable of that name in PATH`,
			path + `:5: targets[0].exec.command: command "build": no executable of that name in PATH`},
		{"timeout: not a field the file sets", path + ":4: targets[0].exec: timeout: not a field the file sets"},
		{"exec targets need a Unix host", path + ":4: targets[0].exec: exec targets need a Unix host"},
	}
	for _, tt := range tests {
		if got := cfg.TargetProblem(0, errors.New(tt.err)).Error(); got != tt.want {
			t.Errorf("TargetProblem(%q) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
