package amqp

import (
	"context"
	"errors"
	"fmt"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/forgelink/forgelink/relay/notify"
)

// publisher is a channel in confirm mode that carries one publish at a
// time, so whatever the broker says on it belongs to that publish.
type publisher struct {
	conn    *amqp091.Connection
	ch      *amqp091.Channel
	returns chan amqp091.Return
	closes  chan *amqp091.Error
}

// openPublisher opens a publisher on conn within ctx. Channel round trips
// take no context, so the opening runs aside, and closes the channel if
// ctx ended before it was handed over.
func openPublisher(ctx context.Context, conn *amqp091.Connection) (*publisher, error) {
	type opened struct {
		p   *publisher
		err error
	}
	handover := make(chan opened)
	go func() {
		p, err := newPublisher(conn)
		select {
		case handover <- opened{p, err}:
		case <-ctx.Done():
			if err == nil {
				_ = p.ch.Close()
			}
		}
	}()
	select {
	case o := <-handover:
		return o.p, o.err
	case <-ctx.Done():
		return nil, fmt.Errorf("open channel: %w", ctx.Err())
	}
}

func newPublisher(conn *amqp091.Connection) (*publisher, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("enable publisher confirms: %w", err)
	}
	// With one publish at a time, a buffer of one never holds up the
	// channel's dispatcher.
	return &publisher{
		conn:    conn,
		ch:      ch,
		returns: ch.NotifyReturn(make(chan amqp091.Return, 1)),
		closes:  ch.NotifyClose(make(chan *amqp091.Error, 1)),
	}, nil
}

// publish sends msg as mandatory and waits for its confirm. settled is
// false when ctx ended first: the confirm, and maybe a return, are still
// to come on this channel, which must carry no other publish.
func (p *publisher) publish(ctx context.Context, exchange, key string, msg amqp091.Publishing) (res notify.Result, settled bool) {
	dc, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, true, false, msg)
	if err != nil {
		return notify.Result{Err: fmt.Errorf("publish: %w", err), Retryable: true}, true
	}
	acked, err := dc.WaitContext(ctx)
	if err != nil {
		return notify.Result{Err: fmt.Errorf("wait for the broker's confirm: %w", err), Retryable: true}, false
	}
	return p.outcome(acked, exchange, key), true
}

// outcome reads what the broker said about a settled publish. The channel
// delivers a return before the confirm it precedes, and a channel error
// before the confirms it cancels, so both are in by now if they came.
func (p *publisher) outcome(acked bool, exchange, key string) notify.Result {
	var returned *amqp091.Return
	select {
	case r := <-p.returns:
		returned = &r
	default:
	}
	switch {
	case !acked && p.ch.IsClosed():
		return p.closed()
	case !acked:
		return notify.Result{Err: errors.New("broker nacked the message"), Retryable: true}
	case returned != nil:
		// Binding a queue is an operator's fix away: retried, not dead.
		return notify.Result{Err: fmt.Errorf("%s: %d %s", noRouteReason(exchange, key), returned.ReplyCode, returned.ReplyText), Retryable: true}
	}
	return notify.Result{}
}

// closed describes a channel that closed under a publish. Refused access
// and failed preconditions (a message over the broker's size limit) stay
// until someone changes the broker or the target; other closes may pass,
// a missing exchange too: declaring it is an operator's fix away.
func (p *publisher) closed() notify.Result {
	var e *amqp091.Error
	select {
	case e = <-p.closes:
	default:
	}
	if e == nil {
		return notify.Result{Err: errors.New("channel closed before the broker confirmed"), Retryable: true}
	}
	final := e.Code == amqp091.AccessRefused || e.Code == amqp091.PreconditionFailed
	return notify.Result{Err: fmt.Errorf("broker closed the channel: %w", e), Retryable: !final}
}

// noRouteReason says what to do when the broker routes a publish nowhere.
func noRouteReason(exchange, key string) string {
	if exchange == "" {
		return fmt.Sprintf("no queue named %q for the default exchange to route to — declare it (rabbitmqadmin declare queue name=%s durable=true)", key, key)
	}
	return fmt.Sprintf("no queue bound for routing key %q on %s — bind one (rabbitmqadmin declare binding source=%s destination=QUEUE routing_key=%s)", key, exchangeName(exchange), exchange, key)
}

func exchangeName(name string) string {
	if name == "" {
		return "the default exchange"
	}
	return fmt.Sprintf("exchange %q", name)
}
