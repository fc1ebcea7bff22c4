// Package nats is the nats pipeline target: it publishes each delivery to a
// NATS JetStream subject and waits for the stream's acknowledgement.
package nats

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/relay/notify"
)

// Options are what a Notifier needs beside its target's configuration.
type Options struct {
	Log  *zap.Logger // nil: no logging
	Name string      // connection name, shown in the server's monitoring
}

// Notifier publishes deliveries to one JetStream subject. It is safe for
// concurrent use.
type Notifier struct {
	cfg config.NATSTarget
	nc  *natsgo.Conn
	js  jetstream.JetStream
}

// New connects to the server, the first attempt bounded by nats.go's
// connect timeout (2 s). A server that is down does not fail New: the
// client keeps reconnecting in the background, and Notify fails retryably
// until it is connected.
func New(ctx context.Context, cfg config.NATSTarget, opts Options) (*Notifier, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := Check(cfg); err != nil {
		return nil, err
	}
	log := opts.Log
	if log == nil {
		log = zap.NewNop()
	}
	log = log.With(zap.String("subject", cfg.Subject))
	nc, err := natsgo.Connect(cfg.URL, connectOptions(cfg, opts.Name, log)...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", redact(cfg.URL), err)
	}
	if !nc.IsConnected() {
		log.Warn("nats server unreachable; connecting in the background", zap.String("url", redact(cfg.URL)))
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return &Notifier{cfg: cfg, nc: nc, js: js}, nil
}

// Check runs the checks of New that need no server: the credentials
// file holds a user JWT and its seed, as nats.go reads them at connect.
// `forgelink config validate` runs it.
func Check(cfg config.NATSTarget) error {
	if cfg.CredentialsFile == "" {
		return nil
	}
	data, err := os.ReadFile(cfg.CredentialsFile)
	if err != nil {
		return fmt.Errorf("credentialsFile: %w", err)
	}
	if _, err := nkeys.ParseDecoratedJWT(data); err != nil {
		return fmt.Errorf("credentialsFile: no user JWT: %w", err)
	}
	kp, err := nkeys.ParseDecoratedNKey(data)
	if err != nil {
		return fmt.Errorf("credentialsFile: no seed: %w", err)
	}
	kp.Wipe()
	return nil
}

func connectOptions(cfg config.NATSTarget, name string, log *zap.Logger) []natsgo.Option {
	opts := []natsgo.Option{
		natsgo.Name(name),
		natsgo.RetryOnFailedConnect(true),
		natsgo.MaxReconnects(-1),
		// No buffering while disconnected: a publish then fails at once and
		// the delivery is retried, instead of waiting for its deadline.
		natsgo.ReconnectBufSize(-1),
		natsgo.ConnectHandler(func(nc *natsgo.Conn) {
			log.Info("nats connected", zap.String("url", nc.ConnectedUrlRedacted()))
		}),
		natsgo.ReconnectHandler(func(nc *natsgo.Conn) {
			log.Info("nats reconnected", zap.String("url", nc.ConnectedUrlRedacted()))
		}),
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", zap.Error(err))
			}
		}),
		natsgo.ErrorHandler(func(_ *natsgo.Conn, _ *natsgo.Subscription, err error) {
			log.Warn("nats error", zap.Error(err))
		}),
	}
	if cfg.CredentialsFile != "" {
		opts = append(opts, natsgo.UserCredentials(cfg.CredentialsFile))
	}
	return opts
}

// Notify publishes m and waits for the stream's acknowledgement, within
// the target's timeout and ctx.
func (n *Notifier) Notify(ctx context.Context, m *notify.Message) notify.Result {
	if !n.nc.IsConnected() {
		return notify.Result{Err: fmt.Errorf("not connected to %s", redact(n.cfg.URL)), Retryable: true}
	}
	if n.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.Timeout)
		defer cancel()
	}
	ack, err := n.js.PublishMsg(ctx, n.message(m), jetstream.WithMsgID(m.DeliveryID))
	if err != nil {
		return n.failure(err)
	}
	out := fmt.Sprintf("stream %s sequence %d", ack.Stream, ack.Sequence)
	if ack.Duplicate {
		// The stream already holds this delivery: an earlier attempt got
		// through but its acknowledgement was lost.
		out += " (duplicate)"
	}
	return notify.Result{Output: out}
}

func (n *Notifier) message(m *notify.Message) *natsgo.Msg {
	msg := natsgo.NewMsg(n.cfg.Subject)
	msg.Data = m.JSON()
	for k, v := range m.Headers() {
		msg.Header.Set(k, v)
	}
	return msg
}

// failure describes a publish error and whether it may pass. A subject
// no stream captures is retried: creating the stream is an operator's fix
// away, and the deliveries queued meanwhile should not be lost to it.
func (n *Notifier) failure(err error) notify.Result {
	if errors.Is(err, jetstream.ErrNoStreamResponse) {
		return notify.Result{Err: fmt.Errorf("%s: %w", noStreamReason(n.cfg.Subject), err), Retryable: true}
	}
	return notify.Result{Err: fmt.Errorf("publish to %s: %w", n.cfg.Subject, err), Retryable: retryable(err)}
}

// noStreamReason says what to do when no JetStream stream captures subject.
func noStreamReason(subject string) string {
	return fmt.Sprintf("no JetStream stream captures subject %s — create one (nats stream add --subjects %s)", subject, subject)
}

// retryable: configuration problems (a message the server will never take,
// a JetStream 4xx such as a stream that refuses it) are final; everything
// else, timeouts and connection loss first, may pass.
func retryable(err error) bool {
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, natsgo.ErrMaxPayload):
		return false
	case errors.As(err, &apiErr):
		return apiErr.Code >= 500
	}
	return true
}

// Close closes the connection; Notify fails retryably afterwards.
func (n *Notifier) Close() error {
	n.nc.Close()
	return nil
}

// redact keeps a password in the URL out of logs and errors.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}

// Probe connects once and checks that a JetStream stream captures the
// target's subject: what `forgelink config validate --probe` asks before a
// deployment. It reports the stream's name.
func Probe(ctx context.Context, cfg config.NATSTarget) (stream string, err error) {
	opts := []natsgo.Option{natsgo.Name("forgelink probe"), natsgo.NoReconnect()}
	if d, ok := ctx.Deadline(); ok {
		opts = append(opts, natsgo.Timeout(time.Until(d)))
	}
	if cfg.CredentialsFile != "" {
		opts = append(opts, natsgo.UserCredentials(cfg.CredentialsFile))
	}
	nc, err := natsgo.Connect(cfg.URL, opts...)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", redact(cfg.URL), err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return "", fmt.Errorf("jetstream: %w", err)
	}
	stream, err = js.StreamNameBySubject(ctx, cfg.Subject)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return "", errors.New(noStreamReason(cfg.Subject))
	case err != nil:
		return "", fmt.Errorf("look up the stream of subject %s: %w", cfg.Subject, err)
	}
	return stream, nil
}
