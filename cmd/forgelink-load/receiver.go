package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Paths of the receiver's server: the pipeline target and the fake GitHub
// API that CompleteConnection checks the token with.
const (
	deliverPath  = "/deliver"
	githubPrefix = "/github/"
)

// arrival is the first successful delivery of one event to the receiver.
type arrival struct {
	at        time.Time // when the receiver read the request (this clock)
	createdAt time.Time // the message's createdAt: when the daemon recorded the event
	count     int       // successful receptions, duplicates included
}

// receiver is the pipeline target: it answers 200 (or 503 while failing)
// and records when each event's delivery arrived. The daemon runs on the
// same machine, so its createdAt and this clock are comparable.
type receiver struct {
	failing atomic.Bool

	mu         sync.Mutex
	events     map[string]*arrival // by event id: one pipeline, one delivery per event
	deliveries map[string]string   // delivery id → event id
	received   int                 // 200 answers, duplicates included
	duplicates int                 // receptions of a delivery id seen before
	refused    int                 // 503 answers while failing
	malformed  int                 // bodies without deliveryId, eventId or createdAt
	sample     string              // the first malformed body's problem
	msgBytes   int                 // size of the last message received
	ghCalls    atomic.Int64        // GET /user calls to the fake GitHub API
}

func newReceiver() *receiver {
	return &receiver{events: map[string]*arrival{}, deliveries: map[string]string{}}
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (r *receiver) deliver(w http.ResponseWriter, req *http.Request) {
	now := time.Now()
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(req.Body, 1<<20)); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if r.failing.Load() {
		r.mu.Lock()
		r.refused++
		r.mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	m, err := scanMessage(buf.Bytes())
	r.mu.Lock()
	defer r.mu.Unlock()
	r.received++
	r.msgBytes = buf.Len()
	if err != nil {
		// Answered 200 all the same: a 4xx would dead-letter it, and the
		// report counts it as an error either way.
		r.malformed++
		if r.sample == "" {
			r.sample = err.Error()
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	if _, seen := r.deliveries[m.DeliveryID]; seen {
		r.duplicates++
	} else {
		r.deliveries[m.DeliveryID] = m.EventID
	}
	if a := r.events[m.EventID]; a != nil {
		a.count++
	} else {
		r.events[m.EventID] = &arrival{at: now, createdAt: m.CreatedAt, count: 1}
	}
	w.WriteHeader(http.StatusOK)
}

// fakeGitHub answers GET /user as api.github.com does for a valid token.
func (r *receiver) fakeGitHub(w http.ResponseWriter, req *http.Request) {
	r.ghCalls.Add(1)
	if req.Header.Get("Authorization") == "" {
		http.Error(w, `{"message":"Requires authentication"}`, http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	io.WriteString(w, `{"login":"load","id":1,"type":"User"}`)
}

func (r *receiver) setFailing(v bool) { r.failing.Store(v) }

// missing returns the ids of ids not received yet; ids is reused.
func (r *receiver) missing(ids []string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	kept := ids[:0]
	for _, id := range ids {
		if r.events[id] == nil {
			kept = append(kept, id)
		}
	}
	return kept
}

// arrivals returns a copy of the arrivals of ids (nil for those not
// received).
func (r *receiver) arrivals(ids []string) []*arrival {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*arrival, len(ids))
	for i, id := range ids {
		if a := r.events[id]; a != nil {
			c := *a
			out[i] = &c
		}
	}
	return out
}

// counters is a snapshot of the receiver's totals.
type counters struct {
	Received     int    `json:"received"` // 200 answers, duplicates included
	Events       int    `json:"events"`   // distinct events
	Duplicates   int    `json:"duplicates"`
	Refused      int    `json:"refused"` // 503 answers
	Malformed    int    `json:"malformed"`
	Sample       string `json:"malformedSample,omitempty"`
	MessageBytes int    `json:"messageBytes"`
	GitHubCalls  int64  `json:"githubApiCalls"`
}

func (r *receiver) counters() counters {
	r.mu.Lock()
	defer r.mu.Unlock()
	return counters{Received: r.received, Events: len(r.events), Duplicates: r.duplicates, Refused: r.refused,
		Malformed: r.malformed, Sample: r.sample, MessageBytes: r.msgBytes, GitHubCalls: r.ghCalls.Load()}
}

// message is what the receiver reads of a delivered message.
type message struct {
	DeliveryID string    `json:"deliveryId"`
	EventID    string    `json:"eventId"`
	CreatedAt  time.Time `json:"createdAt"`
}

// scanMessage reads deliveryId, eventId and createdAt from a message in
// forgelink's JSON schema. It looks for the keys instead of decoding the
// whole message: the receiver shares the machine with the daemon, and a
// full decode of every 3 KB message would take CPU from it. A key pattern
// with its unescaped quotes cannot occur inside a JSON string, and no
// nested object of the schema has these keys; anything unexpected (an
// escape in a value) falls back to encoding/json.
func scanMessage(body []byte) (message, error) {
	var m message
	d, ok1 := stringField(body, `"deliveryId":"`)
	e, ok2 := stringField(body, `"eventId":"`)
	c, ok3 := stringField(body, `"createdAt":"`)
	if ok1 && ok2 && ok3 {
		t, err := time.Parse(time.RFC3339Nano, c)
		if err == nil {
			return message{DeliveryID: d, EventID: e, CreatedAt: t}, nil
		}
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return m, fmt.Errorf("decode message: %w", err)
	}
	if m.DeliveryID == "" || m.EventID == "" || m.CreatedAt.IsZero() {
		return m, errors.New("message without deliveryId, eventId or createdAt")
	}
	return m, nil
}

// stringField returns the string value after the first occurrence of key
// (which ends with the value's opening quote), if it holds no escape.
func stringField(body []byte, key string) (string, bool) {
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return "", false
	}
	rest := body[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || bytes.IndexByte(rest[:j], '\\') >= 0 {
		return "", false
	}
	return string(rest[:j]), true
}

// receiverServer is the receiver listening on a loopback port.
type receiverServer struct {
	*receiver
	srv  *http.Server
	base string // http://127.0.0.1:port
	errc chan error
}

func startReceiver() (*receiverServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("receiver: listen: %w", err)
	}
	r := newReceiver()
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+deliverPath, r.deliver)
	mux.HandleFunc("GET "+githubPrefix+"user", r.fakeGitHub)
	rs := &receiverServer{
		receiver: r,
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute, // keep-alive: the daemon's pool reuses its connections
		},
		base: "http://" + ln.Addr().String(),
		errc: make(chan error, 1),
	}
	go func() { rs.errc <- rs.srv.Serve(ln) }()
	return rs, nil
}

func (rs *receiverServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if rs.srv.Shutdown(ctx) != nil {
		rs.srv.Close()
	}
}
