package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// drainGrace bounds how long requests still in flight at the end of a
// phase may take; those that take longer fail and count as errors.
const drainGrace = 10 * time.Second

// target is a webhook endpoint and the signed delivery sent to it.
type target struct {
	url       string
	body      []byte
	signature string // computed once: the body never changes, only the delivery id
	ids       *deliveryIDs
}

func newTarget(url string, secret, body []byte) *target {
	return &target{url: url, body: body, signature: signature(secret, body), ids: newDeliveryIDs()}
}

func (t *target) request(ctx context.Context, deliveryID string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(t.body))
	if err != nil {
		return nil, fmt.Errorf("new request: %w", err)
	}
	// Canonical keys set directly: the headers GitHub sends with a push.
	req.Header = http.Header{
		"Accept":                                 {"*/*"},
		"Content-Type":                           {"application/json"},
		"User-Agent":                             {"GitHub-Hookshot/forgelink-load"},
		"X-Github-Event":                         {"push"},
		"X-Github-Delivery":                      {deliveryID},
		"X-Github-Hook-Id":                       {"471203925"},
		"X-Github-Hook-Installation-Target-Type": {"repository"},
		"X-Github-Hook-Installation-Target-Id":   {"701234567"},
		"X-Hub-Signature-256":                    {t.signature},
	}
	return req, nil
}

// answer is what a server said to one delivery.
type answer struct {
	status int
	body   []byte // kept only when not 202, or when asked for
}

// send posts one delivery. Only a 202 is success; any other status is an
// error carrying the start of the answer.
func (t *target) send(ctx context.Context, hc *http.Client, deliveryID string, keep bool) (answer, error) {
	req, err := t.request(ctx, deliveryID)
	if err != nil {
		return answer{}, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode}
	if resp.StatusCode == http.StatusAccepted && !keep {
		_, err = io.Copy(io.Discard, resp.Body)
		return a, err
	}
	a.body, err = io.ReadAll(io.LimitReader(resp.Body, 4096))
	io.Copy(io.Discard, resp.Body) // the connection is reused only once the body is drained
	if err == nil && resp.StatusCode != http.StatusAccepted {
		err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(a.body))
	}
	return a, err
}

// newClient is a keep-alive client with a connection per worker and no
// proxy: the servers are on loopback.
func newClient(workers int) *http.Client {
	return &http.Client{
		Timeout: time.Minute,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        workers,
			MaxIdleConnsPerHost: workers,
			MaxConnsPerHost:     workers,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}
}

// smoke sends one delivery and checks the answer before any load; with
// dedupe it resends the same delivery id, which must be answered 200
// "duplicate" without recording it again.
func smoke(ctx context.Context, hc *http.Client, t *target, dedupe bool) error {
	id := t.ids.next()
	a, err := t.send(ctx, hc, id, true)
	if err != nil {
		return fmt.Errorf("first delivery: %w", err)
	}
	if !dedupe {
		return nil
	}
	var first struct{ Status, EventID string }
	if err := json.Unmarshal(a.body, &first); err != nil || first.EventID == "" ||
		(first.Status != "accepted" && first.Status != "held") {
		return fmt.Errorf("first delivery: unexpected answer %s", bytes.TrimSpace(a.body))
	}
	a, err = t.send(ctx, hc, id, true)
	if a.status == http.StatusOK && bytes.Contains(a.body, []byte(`"duplicate"`)) {
		return nil
	}
	if err == nil {
		err = fmt.Errorf("HTTP %d: %s", a.status, bytes.TrimSpace(a.body))
	}
	return fmt.Errorf("repeated delivery id: want 200 duplicate, got %w", err)
}

// window is the measured part of a phase.
type window struct{ start, end time.Time }

// recorder collects one worker's results; workers do not share one.
type recorder struct {
	w        window
	lat      []time.Duration // 202s whose (scheduled) start is in the window
	accepted int             // 202s answered within the window
	requests int             // the whole phase, warm-up included
	errors   int
	sample   string        // the first error
	lagMax   time.Duration // open loop: the longest delay past a scheduled send
	// budget, when set, bounds the sends of all workers together.
	budget *atomic.Int64
	// track: keep each 202's event id in events (pipeline mode), and count
	// anything but an "accepted" answer as an error.
	track  bool
	events []acceptance // the whole phase, warm-up included
}

// acceptance is one event the daemon accepted: its id from the 202, when
// its request was (scheduled to be) sent and when the 202 arrived.
type acceptance struct {
	id         string
	start, end time.Time
}

// send sends one delivery, keeping its event id when tracking, and
// records the outcome.
func (r *recorder) send(ctx context.Context, hc *http.Client, t *target, start time.Time) {
	a, err := t.send(ctx, hc, t.ids.next(), r.track)
	end := time.Now()
	if err == nil && r.track {
		var id string
		if id, err = acceptedEventID(a.body); err == nil {
			r.events = append(r.events, acceptance{id: id, start: start, end: end})
		}
	}
	r.add(start, end, err)
}

// acceptedEventID reads the event id from a 202 answer, which must say
// "accepted": a "held" event is not routed to pipelines.
func acceptedEventID(body []byte) (string, error) {
	var ans struct {
		Status  string `json:"status"`
		EventID string `json:"eventId"`
	}
	if err := json.Unmarshal(body, &ans); err != nil || ans.EventID == "" || ans.Status != "accepted" {
		return "", fmt.Errorf("202 answer %s: want status accepted and an eventId", bytes.TrimSpace(body))
	}
	return ans.EventID, nil
}

// more reports whether the phase's send budget (if any) allows one more.
func (r *recorder) more() bool {
	return r.budget == nil || r.budget.Add(-1) >= 0
}

func (r *recorder) add(start, end time.Time, err error) {
	r.requests++
	if err != nil {
		r.errors++
		if r.sample == "" {
			r.sample = err.Error()
		}
		return
	}
	if !start.Before(r.w.start) && start.Before(r.w.end) {
		r.lat = append(r.lat, end.Sub(start))
	}
	if !end.Before(r.w.start) && !end.After(r.w.end) {
		r.accepted++
	}
}

// merge folds the workers' recorders into one.
func merge(w window, recs []*recorder) *recorder {
	all := &recorder{w: w}
	for _, r := range recs {
		all.lat = append(all.lat, r.lat...)
		all.accepted += r.accepted
		all.requests += r.requests
		all.errors += r.errors
		all.lagMax = max(all.lagMax, r.lagMax)
		all.events = append(all.events, r.events...)
		if all.sample == "" {
			all.sample = r.sample
		}
	}
	return all
}

// saturate has each worker send back to back until the window ends.
func saturate(hc *http.Client, t *target, w window) func(context.Context, *recorder) {
	return func(ctx context.Context, rec *recorder) {
		for ctx.Err() == nil && time.Now().Before(w.end) && rec.more() {
			rec.send(ctx, hc, t, time.Now())
		}
	}
}

// openLoop sends at rate per second from w.start to w.end whatever the
// answers take: workers claim the next scheduled slot, wait for its time,
// and latency counts from that time. When every worker is busy, a slot is
// sent late and its delay shows in its latency instead of vanishing.
func openLoop(hc *http.Client, t *target, w window, rate int) func(context.Context, *recorder) {
	var slot atomic.Int64
	return func(ctx context.Context, rec *recorder) {
		for ctx.Err() == nil {
			// Computed from the slot number, not by adding intervals, so
			// rounding does not drift.
			i := slot.Add(1) - 1
			at := w.start.Add(time.Duration(i * int64(time.Second) / int64(rate)))
			if !at.Before(w.end) {
				return
			}
			if !sleepUntil(ctx, at) {
				return
			}
			rec.lagMax = max(rec.lagMax, time.Since(at))
			rec.send(ctx, hc, t, at)
		}
	}
}

// sleepUntil reports false if ctx ends first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// usage is the server's and this process's /proc readings at the edges of
// a window.
type usage struct {
	server, client [2]procSample
}

// runPhase runs work on n workers, which stop by themselves at w.end, and
// reads /proc at the window's edges. Requests still in flight get
// drainGrace to finish.
func runPhase(ctx context.Context, serverPID, n int, w window, work func(context.Context, *recorder)) (*recorder, usage, error) {
	return runWorkers(ctx, serverPID, n, w, recorder{}, true, work)
}

// runWorkers is runPhase with each worker's recorder made from proto
// (its track and budget), and /proc read at the window's edges only when
// sample is set; without, the workers may stop long before w.end.
func runWorkers(ctx context.Context, serverPID, n int, w window, proto recorder, sample bool, work func(context.Context, *recorder)) (*recorder, usage, error) {
	phaseCtx, cancel := context.WithDeadline(ctx, w.end.Add(drainGrace))
	defer cancel()
	recs := make([]*recorder, n)
	var wg sync.WaitGroup
	for i := range recs {
		recs[i] = &recorder{w: w, track: proto.track, budget: proto.budget}
		wg.Go(func() { work(phaseCtx, recs[i]) })
	}
	var u usage
	var err error
	if sample {
		u, err = sampleWindow(phaseCtx, serverPID, w)
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, u, fmt.Errorf("interrupted: %w", ctx.Err())
	}
	return merge(w, recs), u, err
}

func sampleWindow(ctx context.Context, serverPID int, w window) (usage, error) {
	var u usage
	server := fmt.Sprintf("/proc/%d", serverPID)
	for i, at := range []time.Time{w.start, w.end} {
		if !sleepUntil(ctx, at) {
			return u, fmt.Errorf("sample /proc: %w", ctx.Err())
		}
		var err error
		if u.server[i], err = readProc(server); err != nil {
			return u, fmt.Errorf("server: %w", err)
		}
		if u.client[i], err = readProc("/proc/self"); err != nil {
			return u, fmt.Errorf("load generator: %w", err)
		}
	}
	return u, nil
}
