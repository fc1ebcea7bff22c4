package config

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// Dialer opens a connection, as (*net.Dialer).DialContext does.
type Dialer func(ctx context.Context, network, address string) (net.Conn, error)

// ProbeTargets dials every network target (http, nats, amqp) once and
// reports those that cannot be reached, with file, line and field. It is
// what `forgelink config validate --probe` runs before a deployment. A
// start or reload only warns of what a probe finds: a target that is down
// for a while is what the delivery queue and its retries are for, not a
// reason to keep an old configuration.
func (c *Config) ProbeTargets(ctx context.Context, dial Dialer) error {
	var errs ValidationError
	for i, t := range c.Targets {
		field, raw, defaultPort := probeAddress(t)
		if raw == "" {
			continue
		}
		field = fmt.Sprintf("targets[%d].%s", i, field)
		addr, err := hostPort(raw, defaultPort)
		if err == nil {
			var conn net.Conn
			if conn, err = dial(ctx, "tcp", addr); err == nil {
				conn.Close()
				continue
			}
		}
		errs = append(errs, FieldError{File: c.File, Line: c.lines[field], Field: field,
			Msg: fmt.Sprintf("target %s unreachable: %v", t.Name, err)})
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// probeAddress returns the field and URL to probe for a target, and the
// scheme's default port.
func probeAddress(t Target) (field, raw, defaultPort string) {
	switch {
	case t.HTTP != nil:
		port := "80"
		if strings.HasPrefix(t.HTTP.URL, "https:") {
			port = "443"
		}
		return "http.url", t.HTTP.URL, port
	case t.NATS != nil:
		return "nats.url", t.NATS.URL, "4222"
	case t.AMQP != nil && t.AMQP.URLFile != "":
		data, err := os.ReadFile(t.AMQP.URLFile)
		if err != nil {
			return "amqp.urlFile", "", ""
		}
		return "amqp.urlFile", strings.TrimSpace(string(data)), "5672"
	case t.AMQP != nil:
		return "amqp.url", t.AMQP.URL, "5672"
	}
	return "", "", ""
}

func hostPort(raw, defaultPort string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("no host in %s", redactURL(raw))
	}
	port := u.Port()
	if port == "" {
		port = defaultPort
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

// Problem places a problem found outside this package (building a target,
// probing it) at field, as validation places its own.
func (c *Config) Problem(field, msg string) FieldError { return c.fieldError(field, msg) }

// TargetProblem places an error of building or probing target i: at the
// field of its section that the error names first ("command: ..." of an
// exec target is targets[i].exec.command), else at the section.
func (c *Config) TargetProblem(i int, err error) FieldError {
	field := fmt.Sprintf("targets[%d].%s", i, c.Targets[i].Type)
	msg := err.Error()
	name := msg[:strings.IndexFunc(msg+":", func(r rune) bool { return r == ':' || r == ' ' })]
	if _, known := c.lines[field+"."+name]; known && name != "" {
		field += "." + name
	}
	return c.fieldError(field, msg)
}
