package amqp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forgelink/forgelink/relay/notify/notifytest"

	"github.com/google/uuid"
	amqp091 "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/internal/testenv"
	"github.com/forgelink/forgelink/relay/notify"
)

// The RabbitMQ broker that development and CI machines run.
const (
	brokerAddr = "127.0.0.1:5672"
	testURL    = "amqp://guest:guest@" + brokerAddr + "/"
)

// connectBroker connects to the real broker: the test fails without one in
// CI, where .ci/run starts it, and is skipped elsewhere.
func connectBroker(t *testing.T) *amqp091.Channel {
	t.Helper()
	conn, err := amqp091.DialConfig(testURL, amqp091.Config{Dial: amqp091.DefaultDial(2 * time.Second)})
	if err != nil {
		testenv.Missing(t, fmt.Sprintf("RabbitMQ not reachable at %s (%v)", brokerAddr, err),
			"start it (rabbitmq-server -detached) with the guest user")
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// newQueue declares a queue of the test's own; being exclusive, the broker
// deletes it when the test's connection closes.
func newQueue(t *testing.T, ch *amqp091.Channel) string {
	t.Helper()
	q, err := ch.QueueDeclare("forgelink-test-"+uuid.NewString(), false, false, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return q.Name
}

// newExchange declares a direct exchange bound to queue with key, deleted
// when the test ends.
func newExchange(t *testing.T, ch *amqp091.Channel, name, queue, key string) {
	t.Helper()
	if err := ch.ExchangeDeclare(name, amqp091.ExchangeDirect, false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.ExchangeDelete(name, false, false) })
	if err := ch.QueueBind(queue, key, name, false, nil); err != nil {
		t.Fatal(err)
	}
}

func newNotifier(t *testing.T, ctx context.Context, cfg config.AMQPTarget, log *zap.Logger) *Notifier {
	t.Helper()
	n, err := New(ctx, cfg, Options{Log: log, Name: "forgelink-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	})
	return n
}

func TestNotifyPublishes(t *testing.T) {
	ch := connectBroker(t)
	queue := newQueue(t, ch)
	exchange := "forgelink-test-" + uuid.NewString()
	newExchange(t, ch, exchange, queue, "ci")
	urlFile := filepath.Join(t.TempDir(), "url")
	if err := os.WriteFile(urlFile, []byte(testURL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		cfg  config.AMQPTarget
	}{
		{"default exchange", config.AMQPTarget{URL: testURL, RoutingKey: queue}},
		{"named exchange", config.AMQPTarget{URL: testURL, Exchange: exchange, RoutingKey: "ci"}},
		{"url file", config.AMQPTarget{URLFile: urlFile, RoutingKey: queue}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Timeout = 5 * time.Second
			n := newNotifier(t, t.Context(), tt.cfg, nil)
			m := notifytest.Message(uuid.NewString())
			if res := n.Notify(t.Context(), m); res.Err != nil {
				t.Fatalf("Notify: %v", res.Err)
			}
			// A confirmed message is enqueued: no need to wait for it.
			d, ok, err := ch.Get(queue, true)
			if err != nil || !ok {
				t.Fatalf("Get = %v, %v; want the message", ok, err)
			}
			checkDelivery(t, d, m)
		})
	}
}

func checkDelivery(t *testing.T, d amqp091.Delivery, m *notify.Message) {
	t.Helper()
	if string(d.Body) != string(m.JSON()) {
		t.Errorf("body = %s, want %s", d.Body, m.JSON())
	}
	if d.ContentType != "application/json" || d.DeliveryMode != amqp091.Persistent || d.MessageId != m.DeliveryID || d.Timestamp.IsZero() {
		t.Errorf("properties: content type %q, delivery mode %d, message id %q, timestamp %v", d.ContentType, d.DeliveryMode, d.MessageId, d.Timestamp)
	}
	for name, want := range map[string]string{notify.HeaderDeliveryID: m.DeliveryID, notify.HeaderPipeline: "build", notify.HeaderEventKind: "push"} {
		if v := d.Headers[name]; v != want {
			t.Errorf("header %s = %v, want %q", name, v, want)
		}
	}
}

func TestNotifyConcurrently(t *testing.T) {
	ch := connectBroker(t)
	queue := newQueue(t, ch)
	n := newNotifier(t, t.Context(), config.AMQPTarget{URL: testURL, RoutingKey: queue, Timeout: 5 * time.Second}, nil)

	const count = 32
	var wg sync.WaitGroup
	for range count {
		wg.Go(func() {
			if res := n.Notify(t.Context(), notifytest.Message(uuid.NewString())); res.Err != nil {
				t.Error(res.Err)
			}
		})
	}
	wg.Wait()
	q, err := ch.QueueDeclarePassive(queue, false, false, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if q.Messages != count {
		t.Errorf("queue holds %d messages, want %d", q.Messages, count)
	}
}

func TestNotifyFails(t *testing.T) {
	ch := connectBroker(t)
	queue := newQueue(t, ch)
	expired, cancel := context.WithCancel(t.Context())
	cancel()

	tests := []struct {
		name          string
		cfg           config.AMQPTarget
		ctx           context.Context
		wantRetryable bool
		wantErr       string
		wantIs        error
	}{{
		name:          "no queue for the default exchange",
		cfg:           config.AMQPTarget{URL: testURL, RoutingKey: "forgelink-test-nobody-" + uuid.NewString()},
		wantRetryable: true,
		wantErr:       `no queue named "forgelink-test-nobody-`,
	}, {
		name:          "no queue bound on an exchange",
		cfg:           config.AMQPTarget{URL: testURL, Exchange: "amq.direct", RoutingKey: "forgelink-test-nobody-" + uuid.NewString()},
		wantRetryable: true,
		wantErr:       `no queue bound for routing key "forgelink-test-nobody-`,
	}, {
		name:          "missing exchange",
		cfg:           config.AMQPTarget{URL: testURL, Exchange: "forgelink-test-missing-" + uuid.NewString(), RoutingKey: "ci"},
		wantRetryable: true,
		wantErr:       "NOT_FOUND - no exchange",
	}, {
		name:          "broker unreachable",
		cfg:           config.AMQPTarget{URL: "amqp://guest:guest@" + notifytest.ClosedAddr(t) + "/", RoutingKey: queue},
		wantRetryable: true,
		wantErr:       "not connected to amqp://guest:xxxxx@127.0.0.1:",
	}, {
		name:          "ctx done",
		cfg:           config.AMQPTarget{URL: testURL, RoutingKey: queue},
		ctx:           expired,
		wantRetryable: true,
		wantIs:        context.Canceled,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Timeout = 5 * time.Second
			n := newNotifier(t, t.Context(), tt.cfg, nil)
			ctx := t.Context()
			if tt.ctx != nil {
				ctx = tt.ctx
			}
			res := n.Notify(ctx, notifytest.Message(uuid.NewString()))
			checkFailure(t, res, tt.wantRetryable, tt.wantErr, tt.wantIs)
		})
	}
}

func checkFailure(t *testing.T, res notify.Result, wantRetryable bool, wantErr string, wantIs error) {
	t.Helper()
	if res.Err == nil {
		t.Fatal("Notify succeeded, want a failure")
	}
	if res.Retryable != wantRetryable {
		t.Errorf("Retryable = %v, want %v (%v)", res.Retryable, wantRetryable, res.Err)
	}
	if !strings.Contains(res.Err.Error(), wantErr) {
		t.Errorf("error %q does not contain %q", res.Err, wantErr)
	}
	if wantIs != nil && !errors.Is(res.Err, wantIs) {
		t.Errorf("error %q is not %v", res.Err, wantIs)
	}
}

// A channel error ends that publish only, and is retried: once the
// exchange exists, the same notifier delivers.
func TestNotifyAfterChannelError(t *testing.T) {
	ch := connectBroker(t)
	queue := newQueue(t, ch)
	exchange := "forgelink-test-" + uuid.NewString()
	n := newNotifier(t, t.Context(), config.AMQPTarget{URL: testURL, Exchange: exchange, RoutingKey: "ci", Timeout: 5 * time.Second}, nil)

	if res := n.Notify(t.Context(), notifytest.Message(uuid.NewString())); res.Err == nil || !res.Retryable {
		t.Fatalf("Notify to a missing exchange = %v (retryable %v), want a retryable failure", res.Err, res.Retryable)
	}
	newExchange(t, ch, exchange, queue, "ci")
	if res := n.Notify(t.Context(), notifytest.Message(uuid.NewString())); res.Err != nil {
		t.Fatalf("Notify once the exchange exists: %v", res.Err)
	}
}

func TestPasswordNeverShown(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	n := newNotifier(t, t.Context(), config.AMQPTarget{URL: "amqp://forgelink:s3cret@" + notifytest.ClosedAddr(t) + "/", RoutingKey: "q"}, zap.New(core))
	res := n.Notify(t.Context(), notifytest.Message(uuid.NewString()))
	if res.Err == nil || strings.Contains(res.Err.Error(), "s3cret") {
		t.Errorf("Notify error = %v, want a failure without the password", res.Err)
	}
	if logs.Len() == 0 {
		t.Error("nothing logged about the unreachable broker")
	}
	for _, e := range logs.All() {
		for k, v := range e.ContextMap() {
			if strings.Contains(e.Message, "s3cret") || strings.Contains(k, "s3cret") || strings.Contains(toString(v), "s3cret") {
				t.Errorf("log entry %q shows the password", e.Message)
			}
		}
	}
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if err, ok := v.(error); ok {
		return err.Error()
	}
	return ""
}

// New and Check (what `config validate` runs) refuse the same targets.
func TestNewRejects(t *testing.T) {
	dir := t.TempDir()
	badURLFile := filepath.Join(dir, "url")
	if err := os.WriteFile(badURLFile, []byte("amqp://forgelink:s3cret@[::1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  config.AMQPTarget
	}{
		{"missing url file", config.AMQPTarget{URLFile: filepath.Join(dir, "missing"), RoutingKey: "q"}},
		{"unparsable url in file", config.AMQPTarget{URLFile: badURLFile, RoutingKey: "q"}},
		{"wrong scheme", config.AMQPTarget{URL: "http://forgelink:s3cret@127.0.0.1/", RoutingKey: "q"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Check(tt.cfg); err == nil || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("Check = %v, want an error without the password", err)
			}
			n, err := New(t.Context(), tt.cfg, Options{})
			if err == nil {
				_ = n.Close()
				t.Fatal("New succeeded")
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

// A target that is down at start, or lost later, is redialled in the
// background.
func TestNotifyReconnects(t *testing.T) {
	ch := connectBroker(t)
	queue := newQueue(t, ch)
	p := startProxy(t, refuse)
	n := newNotifier(t, t.Context(), config.AMQPTarget{URL: p.url(), RoutingKey: queue, Timeout: 5 * time.Second}, nil)

	res := n.Notify(t.Context(), notifytest.Message(uuid.NewString()))
	checkFailure(t, res, true, "not connected", nil)
	p.mode.Store(forward)
	waitDelivered(t, n)
	p.cut()
	waitDelivered(t, n)
}

// waitDelivered polls Notify until a delivery gets through.
func waitDelivered(t *testing.T, n *Notifier) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		res := n.Notify(ctx, notifytest.Message(uuid.NewString()))
		if res.Err == nil {
			return
		}
		if !res.Retryable {
			t.Fatalf("Notify: %v", res.Err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no delivery got through: %v", res.Err)
		case <-tick.C:
		}
	}
}

// Deadlines hold when the broker stops answering: while dialling, while
// opening a channel, while waiting for a confirm.
func TestDeadlines(t *testing.T) {
	ch := connectBroker(t)
	queue := newQueue(t, ch)
	const deadline = 300 * time.Millisecond

	t.Run("dial", func(t *testing.T) {
		p := startProxy(t, swallow)
		ctx, cancel := context.WithTimeout(t.Context(), deadline)
		defer cancel()
		start := time.Now()
		n := newNotifier(t, ctx, config.AMQPTarget{URL: p.url(), RoutingKey: queue, Timeout: 5 * time.Second}, nil)
		checkPrompt(t, start)
		checkFailure(t, n.Notify(t.Context(), notifytest.Message(uuid.NewString())), true, "not connected", nil)
	})
	t.Run("channel open", func(t *testing.T) {
		p := startProxy(t, forward)
		n := newNotifier(t, t.Context(), config.AMQPTarget{URL: p.url(), RoutingKey: queue, Timeout: 5 * time.Second}, nil)
		p.mode.Store(swallow)
		notifyStalled(t, n, deadline)
	})
	t.Run("confirm", func(t *testing.T) {
		p := startProxy(t, forward)
		n := newNotifier(t, t.Context(), config.AMQPTarget{URL: p.url(), RoutingKey: queue, Timeout: 5 * time.Second}, nil)
		if res := n.Notify(t.Context(), notifytest.Message(uuid.NewString())); res.Err != nil {
			t.Fatal(res.Err) // leaves an open channel in the pool
		}
		p.mode.Store(swallow)
		notifyStalled(t, n, deadline)
	})
	t.Run("target timeout", func(t *testing.T) {
		p := startProxy(t, forward)
		n := newNotifier(t, t.Context(), config.AMQPTarget{URL: p.url(), RoutingKey: queue, Timeout: deadline}, nil)
		p.mode.Store(swallow)
		notifyStalled(t, n, time.Minute)
	})
}

// notifyStalled checks that a Notify to a broker that does not answer
// fails retryably by the earlier of its deadline and the target's timeout.
func notifyStalled(t *testing.T, n *Notifier, deadline time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	start := time.Now()
	res := n.Notify(ctx, notifytest.Message(uuid.NewString()))
	checkPrompt(t, start)
	checkFailure(t, res, true, "", context.DeadlineExceeded)
}

func checkPrompt(t *testing.T, start time.Time) {
	t.Helper()
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("took %s past a 300ms deadline", elapsed)
	}
}

// Proxy modes.
const (
	refuse  int32 = iota // accept and close at once: a broker that is down
	forward              // pass bytes both ways
	swallow              // drop what the client sends: a broker that hangs
)

// proxy stands between a notifier and the real broker, to take the broker
// down, hang it or cut connections under the notifier.
type proxy struct {
	l     net.Listener
	mode  atomic.Int32
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(t *testing.T, mode int32) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l}
	p.mode.Store(mode)
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		_ = l.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) url() string { return "amqp://guest:guest@" + p.l.Addr().String() + "/" }

func (p *proxy) accept() {
	for {
		client, err := p.l.Accept()
		if err != nil {
			return
		}
		if p.mode.Load() == refuse {
			_ = client.Close()
			continue
		}
		broker, err := net.Dial("tcp", brokerAddr)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, broker)
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(client, broker, false) })
		p.wg.Go(func() { p.pipe(broker, client, true) })
	}
}

// pipe copies src to dst until either fails, then closes both, which ends
// the pipe the other way too.
func (p *proxy) pipe(dst, src net.Conn, fromClient bool) {
	defer func() {
		_ = dst.Close()
		_ = src.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		if fromClient && p.mode.Load() == swallow {
			continue
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

// cut closes every connection through the proxy.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

func TestProbe(t *testing.T) {
	ch := connectBroker(t)
	queue := newQueue(t, ch)
	exchange := "forgelink-test-" + uuid.NewString()
	newExchange(t, ch, exchange, queue, "ci")
	shared, err := ch.QueueDeclare("forgelink-test-"+uuid.NewString(), false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = ch.QueueDelete(shared.Name, false, false, false) })
	tests := []struct {
		name    string
		cfg     config.AMQPTarget
		want    string
		wantErr string
	}{{
		name: "queue of the default exchange",
		cfg:  config.AMQPTarget{URL: testURL, RoutingKey: shared.Name},
		want: fmt.Sprintf("queue %q exists (0 consumers)", shared.Name),
	}, {
		name: "another connection's exclusive queue",
		cfg:  config.AMQPTarget{URL: testURL, RoutingKey: queue},
		want: fmt.Sprintf("queue %q exists (exclusive", queue),
	}, {
		name:    "no queue for the default exchange",
		cfg:     config.AMQPTarget{URL: testURL, RoutingKey: "forgelink-test-nobody"},
		wantErr: `no queue named "forgelink-test-nobody" for the default exchange to route to — declare it`,
	}, {
		name: "exchange exists",
		cfg:  config.AMQPTarget{URL: testURL, Exchange: exchange, RoutingKey: "ci"},
		want: fmt.Sprintf("exchange %q exists", exchange),
	}, {
		name:    "no exchange",
		cfg:     config.AMQPTarget{URL: testURL, Exchange: "forgelink-test-missing", RoutingKey: "ci"},
		wantErr: `exchange "forgelink-test-missing": Exception (404) Reason: "NOT_FOUND`,
	}, {
		name:    "broker unreachable",
		cfg:     config.AMQPTarget{URL: "amqp://guest:guest@" + notifytest.ClosedAddr(t) + "/", RoutingKey: queue},
		wantErr: "connect: dial tcp 127.0.0.1:",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			got, err := Probe(ctx, tt.cfg)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Probe: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Probe error = %v, want %q", err, tt.wantErr)
			}
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("Probe = %q, want %q...", got, tt.want)
			}
		})
	}
}
