// Package amqp is the amqp pipeline target: it publishes each delivery to a
// RabbitMQ exchange as a mandatory, persistent message and waits for the
// broker's publisher confirm.
package amqp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/relay/notify"
)

const (
	dialTimeout  = 10 * time.Second
	heartbeat    = 5 * time.Second
	minRedial    = 100 * time.Millisecond
	maxRedial    = 10 * time.Second
	closeTimeout = time.Second
)

var errClosed = errors.New("notifier closed")

// Options are what a Notifier needs beside its target's configuration.
type Options struct {
	Log  *zap.Logger // nil: no logging
	Name string      // connection name, shown in the broker's management UI
}

// Notifier publishes deliveries to one exchange and routing key. It keeps
// one connection, redialled in the background when lost, and gives each
// publish a channel of its own, so a returned message or a channel error
// belongs to exactly one delivery. It is safe for concurrent use.
type Notifier struct {
	cfg      config.AMQPTarget
	url      string // may carry a password: never logged, see redacted
	redacted string
	name     string
	log      *zap.Logger
	stop     context.CancelFunc
	done     chan struct{}

	mu      sync.Mutex
	conn    *amqp091.Connection // nil while disconnected
	err     error               // why conn is nil
	blocked amqp091.Blocking    // the broker's flow control on conn
	idle    []*publisher        // channels on conn free for a publish
}

// New dials the broker once within ctx, then keeps the connection up in
// the background until Close. A broker that is down does not fail New:
// Notify fails retryably until the connection is up.
func New(ctx context.Context, cfg config.AMQPTarget, opts Options) (*Notifier, error) {
	raw, u, err := parseURL(cfg)
	if err != nil {
		return nil, err
	}
	log := opts.Log
	if log == nil {
		log = zap.NewNop()
	}
	n := &Notifier{
		cfg:      cfg,
		url:      raw,
		redacted: u.Redacted(),
		name:     opts.Name,
		log:      log.With(zap.String("url", u.Redacted()), zap.String("exchange", cfg.Exchange), zap.String("routingKey", cfg.RoutingKey)),
		done:     make(chan struct{}),
	}
	conn, err := n.dial(ctx)
	if err != nil {
		n.log.Warn("amqp broker unreachable; connecting in the background", zap.Error(err))
	}
	n.setConn(conn, err)
	life, stop := context.WithCancel(context.WithoutCancel(ctx))
	n.stop = stop
	go n.run(life, conn)
	return n, nil
}

// Check runs the checks of New that need no broker: the URL, read from
// its file when it has one, is an AMQP URI. `forgelink config validate`
// runs it.
func Check(cfg config.AMQPTarget) error {
	_, _, err := parseURL(cfg)
	return err
}

// parseURL reads and parses the target's URL; errors never quote its
// password.
func parseURL(cfg config.AMQPTarget) (string, *url.URL, error) {
	raw, err := brokerURL(cfg)
	if err != nil {
		return "", nil, err
	}
	u, err := url.Parse(raw)
	if err != nil {
		// The parse error would quote the URL, password included.
		return "", nil, errors.New("amqp url does not parse")
	}
	if _, err := amqp091.ParseURI(raw); err != nil {
		return "", nil, fmt.Errorf("amqp url %s: %w", u.Redacted(), err)
	}
	return raw, u, nil
}

// brokerURL is the target's URL, read from its file when it has one.
func brokerURL(cfg config.AMQPTarget) (string, error) {
	if cfg.URLFile == "" {
		return cfg.URL, nil
	}
	b, err := os.ReadFile(cfg.URLFile)
	if err != nil {
		return "", fmt.Errorf("urlFile: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// dial connects within ctx; the TCP, TLS and AMQP handshakes all end by
// its deadline or dialTimeout, whichever comes first.
func (n *Notifier) dial(ctx context.Context) (*amqp091.Connection, error) {
	deadline := time.Now().Add(dialTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	props := amqp091.NewConnectionProperties()
	props.SetClientConnectionName(n.name)
	conn, err := amqp091.DialConfig(n.url, amqp091.Config{
		Heartbeat:  heartbeat,
		Properties: props,
		Dial: func(network, addr string) (net.Conn, error) {
			d := net.Dialer{Deadline: deadline}
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			// amqp091 clears the deadline once the handshake is done.
			return c, c.SetDeadline(deadline)
		},
	})
	if err != nil {
		if conn != nil {
			// A failed handshake leaves amqp091's connection half open.
			_ = conn.CloseDeadline(time.Now())
		}
		return nil, err
	}
	return conn, nil
}

// run keeps a connection up until ctx ends, redialling with exponential
// backoff. conn is the one New dialled and set, nil if that failed.
func (n *Notifier) run(ctx context.Context, conn *amqp091.Connection) {
	defer close(n.done)
	wait := minRedial
	for {
		if conn != nil {
			n.serve(ctx, conn)
			wait = minRedial
		}
		if !sleep(ctx, wait) {
			return
		}
		var err error
		conn, err = n.dial(ctx)
		n.setConn(conn, err)
		if err != nil {
			n.log.Debug("amqp dial failed", zap.Error(err), zap.Duration("retryIn", wait))
			wait = min(2*wait, maxRedial)
		}
	}
}

// serve follows conn, which Notify is using, until it is lost or ctx
// ends, and the broker's flow control on the way.
func (n *Notifier) serve(ctx context.Context, conn *amqp091.Connection) {
	closed := conn.NotifyClose(make(chan *amqp091.Error, 1))
	blocking := conn.NotifyBlocked(make(chan amqp091.Blocking, 1))
	n.log.Info("amqp connected")
	for {
		select {
		case b, ok := <-blocking:
			if !ok { // closed with the connection: closed reports why
				blocking = nil
				continue
			}
			n.setBlocked(b)
		case e := <-closed:
			err := errors.New("connection lost")
			if e != nil { // nil: it closed before serve listened
				err = fmt.Errorf("connection lost: %w", e)
			}
			n.log.Warn("amqp connection lost", zap.Error(err))
			n.setConn(nil, err)
			return
		case <-ctx.Done():
			_ = conn.CloseDeadline(time.Now().Add(closeTimeout))
			return
		}
	}
}

func (n *Notifier) setConn(conn *amqp091.Connection, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.conn, n.err, n.blocked, n.idle = conn, err, amqp091.Blocking{}, nil
}

func (n *Notifier) setBlocked(b amqp091.Blocking) {
	n.log.Warn("amqp broker flow control", zap.Bool("blocked", b.Active), zap.String("reason", b.Reason))
	n.mu.Lock()
	defer n.mu.Unlock()
	n.blocked = b
}

// sleep waits d, or less if ctx ends first; it reports whether ctx is live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Notify publishes m and waits for the broker's confirm, within the
// target's timeout and ctx.
func (n *Notifier) Notify(ctx context.Context, m *notify.Message) notify.Result {
	if n.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.Timeout)
		defer cancel()
	}
	p, err := n.acquire(ctx)
	if err != nil {
		return notify.Result{Err: err, Retryable: true}
	}
	res, settled := p.publish(ctx, n.cfg.Exchange, n.cfg.RoutingKey, publishing(m))
	n.release(p, settled)
	return res
}

func publishing(m *notify.Message) amqp091.Publishing {
	return amqp091.Publishing{
		ContentType:  "application/json",
		DeliveryMode: amqp091.Persistent,
		MessageId:    m.DeliveryID,
		Timestamp:    time.Now(),
		AppId:        "forgelink",
		Headers:      headers(m),
		Body:         m.JSON(),
	}
}

// acquire hands out an idle channel, or opens one.
func (n *Notifier) acquire(ctx context.Context) (*publisher, error) {
	conn, p, err := n.take()
	if p != nil || err != nil {
		return p, err
	}
	return openPublisher(ctx, conn)
}

// take returns an idle publisher, or the connection to open one on.
func (n *Notifier) take() (*amqp091.Connection, *publisher, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.conn == nil:
		return nil, nil, fmt.Errorf("not connected to %s: %w", n.redacted, n.err)
	case n.blocked.Active:
		return nil, nil, fmt.Errorf("broker blocks publishers: %s", n.blocked.Reason)
	}
	for len(n.idle) > 0 {
		p := n.idle[len(n.idle)-1]
		n.idle = n.idle[:len(n.idle)-1]
		if !p.ch.IsClosed() { // the broker may close an idle channel
			return n.conn, p, nil
		}
	}
	return n.conn, nil, nil
}

// release pools a channel whose last publish is settled, unless the
// channel or its connection is gone.
func (n *Notifier) release(p *publisher, settled bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if settled && p.conn == n.conn && !p.ch.IsClosed() {
		n.idle = append(n.idle, p)
		return
	}
	// Closing is a round trip to the broker: the caller has its result.
	go func() { _ = p.ch.Close() }()
}

// Close stops reconnecting and closes the connection; Notify fails
// retryably afterwards.
func (n *Notifier) Close() error {
	n.stop()
	<-n.done
	n.setConn(nil, errClosed)
	return nil
}

// headers carries the message's headers as an AMQP table.
func headers(m *notify.Message) amqp091.Table {
	t := amqp091.Table{}
	for k, v := range m.Headers() {
		t[k] = v
	}
	return t
}

// Probe connects once and checks what the broker lets a client check
// without publishing: for the default exchange, that the queue the routing
// key names exists (a passive declare); for another exchange, that the
// exchange exists. AMQP 0-9-1 shows no bindings, so whether a queue is
// bound to that exchange is learnt only from a mandatory publish, which a
// probe does not make: a delivery the broker routes nowhere is retried,
// with the reason on the delivery. It is what `forgelink config validate
// --probe` asks before a deployment, and says what it found.
func Probe(ctx context.Context, cfg config.AMQPTarget) (string, error) {
	raw, _, err := parseURL(cfg)
	if err != nil {
		return "", err
	}
	n := &Notifier{url: raw, name: "forgelink probe"}
	conn, err := n.dial(ctx)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return "", fmt.Errorf("open channel: %w", err)
	}
	if cfg.Exchange != "" {
		// A passive declare checks existence only; the kind is not compared.
		if err := ch.ExchangeDeclarePassive(cfg.Exchange, amqp091.ExchangeDirect, false, false, false, false, nil); err != nil {
			return "", fmt.Errorf("exchange %q: %w", cfg.Exchange, err)
		}
		return fmt.Sprintf("exchange %q exists (its bindings are not visible over AMQP)", cfg.Exchange), nil
	}
	q, err := ch.QueueDeclarePassive(cfg.RoutingKey, false, false, false, false, nil)
	var amqpErr *amqp091.Error
	switch {
	case errors.As(err, &amqpErr) && amqpErr.Code == amqp091.ResourceLocked:
		// Another connection's exclusive queue: it exists and takes publishes.
		return fmt.Sprintf("queue %q exists (exclusive to another connection)", cfg.RoutingKey), nil
	case errors.As(err, &amqpErr) && amqpErr.Code == amqp091.NotFound:
		return "", fmt.Errorf("%s: %w", noRouteReason("", cfg.RoutingKey), err)
	case err != nil:
		return "", fmt.Errorf("queue %q: %w", cfg.RoutingKey, err)
	}
	return fmt.Sprintf("queue %q exists (%d consumers)", q.Name, q.Consumers), nil
}
