package githubtest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The delivery log and branch heads, as GitHub documents them:
//
//   - GET /repos/{owner}/{repo}/hooks/{id}/deliveries (admin token) and
//     GET /app/hook/deliveries (App JWT only: 401 for a token): the
//     hook's delivery attempts newest first, per_page (default 30, at
//     most 100) and an opaque cursor from the Link header's rel="next".
//   - POST .../deliveries/{delivery_id}/attempts: 202, and the delivery
//     is made again at once (same GUID, redelivery true, signed with the
//     hook's secret); 404 for an unknown delivery.
//   - GET /repos/{owner}/{repo}/commits/{ref}: with Accept
//     application/vnd.github.sha the bare SHA and its ETag, 304 when
//     If-None-Match names it (counted in RateLimitUsed only when not 304);
//     422 for an unknown ref.
//
// RateLimitNext makes the next n of these requests 429 with Retry-After.

// Delivery is one attempt the server made to deliver an event to a hook.
type Delivery struct {
	ID          int64
	GUID        string
	Event       string
	DeliveredAt time.Time
	Status      string // "OK", or why it failed
	StatusCode  int
	Redelivery  bool
	payload     []byte
}

// recoveryState is the server's delivery logs and heads; s.mu guards it.
type recoveryState struct {
	logs       map[string][]*Delivery // by logKey, oldest first
	heads      map[string]string      // by repository (lower case) + " " + full ref
	rateUsed   int
	limitNext  int
	retryAfter time.Duration
}

func (s *Server) recoveryRoutes(api func(string, http.HandlerFunc)) {
	api("GET /repos/{owner}/{repo}/hooks/{id}/deliveries", s.limited(s.listRepoDeliveries))
	api("POST /repos/{owner}/{repo}/hooks/{id}/deliveries/{delivery}/attempts", s.limited(s.redeliverRepo))
	api("GET /app/hook/deliveries", s.limited(s.listAppDeliveries))
	api("POST /app/hook/deliveries/{delivery}/attempts", s.limited(s.redeliverApp))
	api("GET /repos/{owner}/{repo}/commits/{ref...}", s.limited(s.commitSHA))
}

func repoLogKey(fullName string, hookID int64) string {
	return "repo " + strings.ToLower(fullName) + " " + strconv.FormatInt(hookID, 10)
}

func appLogKey(appID int64) string { return "app " + strconv.FormatInt(appID, 10) }

// RateLimitNext answers the next n delivery-log and commit requests 429
// with Retry-After: wait.
func (s *Server) RateLimitNext(n int, wait time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec.limitNext, s.rec.retryAfter = n, wait
}

// RateLimitUsed counts the delivery-log and commit requests that count
// against the primary rate limit (a 304 does not).
func (s *Server) RateLimitUsed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.rateUsed
}

func (s *Server) limited(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		if s.rec.limitNext > 0 {
			s.rec.limitNext--
			wait := s.rec.retryAfter
			s.mu.Unlock()
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())))
			writeError(w, http.StatusTooManyRequests, "API rate limit exceeded")
			return
		}
		s.mu.Unlock()
		h(w, r)
	}
}

// SetHead points ref ("refs/heads/main", "refs/tags/v1") of repository
// fullName at sha.
func (s *Server) SetHead(fullName, ref, sha string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repo(fullName, true)
	if s.rec.heads == nil {
		s.rec.heads = map[string]string{}
	}
	s.rec.heads[strings.ToLower(fullName)+" "+ref] = sha
}

// AddDelivery records d in the log of hook hookID of repository fullName
// as it is (no request is made), giving it an id and GUID if it has none.
func (s *Server) AddDelivery(fullName string, hookID int64, d Delivery, payload []byte) Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addDelivery(repoLogKey(fullName, hookID), d, payload)
}

// AddAppDelivery records d in the log of App appID's hook.
func (s *Server) AddAppDelivery(appID int64, d Delivery, payload []byte) Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addDelivery(appLogKey(appID), d, payload)
}

func (s *Server) addDelivery(key string, d Delivery, payload []byte) Delivery {
	if s.rec.logs == nil {
		s.rec.logs = map[string][]*Delivery{}
	}
	if d.ID == 0 {
		d.ID = s.id()
	}
	if d.GUID == "" {
		d.GUID = newGUID()
	}
	if d.DeliveredAt.IsZero() {
		d.DeliveredAt = s.opts.Now()
	}
	d.payload = bytes.Clone(payload)
	s.rec.logs[key] = append(s.rec.logs[key], &d)
	return d
}

// Deliveries returns the log of hook hookID of repository fullName,
// oldest first.
func (s *Server) Deliveries(fullName string, hookID int64) []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Delivery
	for _, d := range s.rec.logs[repoLogKey(fullName, hookID)] {
		out = append(out, *d)
	}
	return out
}

// Push delivers event with payload to hook hookID of repository fullName
// now, as GitHub does on a push (signed with the hook's secret, 10 s
// timeout), and records the attempt, failed or not.
func (s *Server) Push(ctx context.Context, fullName string, hookID int64, event string, payload []byte) Delivery {
	s.mu.Lock()
	h := s.repo(fullName, true).hooks[hookID]
	s.mu.Unlock()
	target, secret := "", ""
	if h != nil {
		target, secret = h.URL, h.Secret
	}
	d := Delivery{GUID: newGUID(), Event: event}
	s.deliver(ctx, &d, target, secret, hookID, payload)
	return s.AddDelivery(fullName, hookID, d, payload)
}

// PushApp delivers event with payload to App appID's webhook URL now and
// records the attempt in the App hook's log.
func (s *Server) PushApp(ctx context.Context, appID int64, event string, payload []byte) Delivery {
	s.mu.Lock()
	var target, secret string
	if a := s.apps[appID]; a != nil {
		target, secret = a.WebhookURL, a.WebhookSecret
	}
	s.mu.Unlock()
	d := Delivery{GUID: newGUID(), Event: event}
	s.deliver(ctx, &d, target, secret, appID, payload)
	return s.AddAppDelivery(appID, d, payload)
}

// deliver POSTs payload to target and sets d's outcome.
func (s *Server) deliver(ctx context.Context, d *Delivery, target, secret string, hookID int64, payload []byte) {
	d.DeliveredAt = s.opts.Now()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(payload))
	if err != nil {
		d.Status = "Invalid URL"
		return
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(payload)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitHub-Hookshot/githubtest")
	req.Header.Set("X-GitHub-Event", d.Event)
	req.Header.Set("X-GitHub-Delivery", d.GUID)
	req.Header.Set("X-GitHub-Hook-ID", strconv.FormatInt(hookID, 10))
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.Status = "failed to connect to host"
		return
	}
	resp.Body.Close()
	d.StatusCode = resp.StatusCode
	d.Status = "OK"
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		d.Status = fmt.Sprintf("Invalid HTTP Response: %d", resp.StatusCode)
	}
}

func (s *Server) listRepoDeliveries(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key, ok := s.repoHookLog(w, r)
	if ok {
		s.writeDeliveries(w, r, s.rec.logs[key])
	}
}

func (s *Server) listAppDeliveries(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	app, err := s.appFromJWT(r)
	if err != nil {
		writeError(w, http.StatusUnauthorized, err.Error())
		return
	}
	s.writeDeliveries(w, r, s.rec.logs[appLogKey(app.ID)])
}

// repoHookLog authenticates r for a repository hook's log and returns the
// log's key; otherwise it answers r. s.mu must be held.
func (s *Server) repoHookLog(w http.ResponseWriter, r *http.Request) (string, bool) {
	repo, ok := s.hookRepo(w, r)
	if !ok {
		return "", false
	}
	id, ok := pathID(r, "id")
	if !ok || repo.hooks[id] == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return "", false
	}
	return repoLogKey(repo.fullName, id), true
}

// writeDeliveries answers one page of log, newest first: cursor is the id
// below which the page starts. s.mu must be held.
func (s *Server) writeDeliveries(w http.ResponseWriter, r *http.Request, log []*Delivery) {
	s.rec.rateUsed++
	q := r.URL.Query()
	perPage, _ := strconv.Atoi(q.Get("per_page"))
	if perPage <= 0 {
		perPage = 30
	}
	perPage = min(perPage, s.opts.MaxPerPage)
	below := int64(-1)
	if c := q.Get("cursor"); c != "" {
		n, err := strconv.ParseInt(strings.TrimPrefix(c, "v1_"), 10, 64)
		if err != nil || !strings.HasPrefix(c, "v1_") {
			writeValidation(w, "HookDelivery", "invalid cursor")
			return
		}
		below = n
	}
	var page []map[string]any
	var last int64
	for _, d := range slices.Backward(log) {
		if below >= 0 && d.ID >= below {
			continue
		}
		if len(page) == perPage {
			setCursorLink(w, r, perPage, last)
			break
		}
		page = append(page, deliveryJSON(d))
		last = d.ID
	}
	writeJSON(w, http.StatusOK, append([]map[string]any{}, page...))
}

func setCursorLink(w http.ResponseWriter, r *http.Request, perPage int, below int64) {
	u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
	q := url.Values{}
	q.Set("per_page", strconv.Itoa(perPage))
	q.Set("cursor", "v1_"+strconv.FormatInt(below, 10))
	u.RawQuery = q.Encode()
	w.Header().Set("Link", fmt.Sprintf("<%s>; rel=\"next\"", u.String()))
}

func deliveryJSON(d *Delivery) map[string]any {
	return map[string]any{
		"id": d.ID, "guid": d.GUID, "delivered_at": d.DeliveredAt.UTC().Format(time.RFC3339),
		"redelivery": d.Redelivery, "duration": 0.1, "status": d.Status, "status_code": d.StatusCode,
		"event": d.Event, "action": nil,
	}
}

func (s *Server) redeliverRepo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	key, ok := s.repoHookLog(w, r)
	if !ok {
		s.mu.Unlock()
		return
	}
	repo := s.repo(r.PathValue("owner")+"/"+r.PathValue("repo"), false)
	id, _ := pathID(r, "id")
	h := *repo.hooks[id]
	s.mu.Unlock()
	s.redeliver(w, r, key, h.URL, h.Secret, id)
}

func (s *Server) redeliverApp(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	app, err := s.appFromJWT(r)
	if err != nil {
		s.mu.Unlock()
		writeError(w, http.StatusUnauthorized, err.Error())
		return
	}
	a := *app
	s.mu.Unlock()
	s.redeliver(w, r, appLogKey(a.ID), a.WebhookURL, a.WebhookSecret, a.ID)
}

// redeliver makes delivery {delivery} of log key again and answers 202.
// GitHub answers first and delivers later; delivering first keeps tests
// free of waiting.
func (s *Server) redeliver(w http.ResponseWriter, r *http.Request, key, target, secret string, hookID int64) {
	id, ok := pathID(r, "delivery")
	s.mu.Lock()
	var orig *Delivery
	for _, d := range s.rec.logs[key] {
		if d.ID == id {
			orig = d
		}
	}
	s.mu.Unlock()
	if !ok || orig == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	d := Delivery{GUID: orig.GUID, Event: orig.Event, Redelivery: true}
	s.deliver(r.Context(), &d, target, secret, hookID, orig.payload)
	s.mu.Lock()
	s.rec.rateUsed++
	s.addDelivery(key, d, orig.payload)
	s.mu.Unlock()
	writeJSON(w, http.StatusAccepted, map[string]any{})
}

func (s *Server) commitSHA(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := s.liveToken(r)
	if tok == nil {
		writeError(w, http.StatusUnauthorized, "Bad credentials")
		return
	}
	repo := s.repo(r.PathValue("owner")+"/"+r.PathValue("repo"), false)
	if repo == nil || (tok.InstallationID != 0 && !s.tokenCovers(tok, repo)) {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	ref := r.PathValue("ref")
	var sha string
	for _, full := range []string{ref, "refs/" + ref, "refs/heads/" + ref, "refs/tags/" + ref} {
		if v, ok := s.rec.heads[strings.ToLower(repo.fullName)+" "+full]; ok {
			sha = v
			break
		}
	}
	if sha == "" {
		writeValidation(w, "Commit", "No commit found for SHA: "+ref)
		return
	}
	etag := `"` + sha + `"`
	if inm := r.Header.Get("If-None-Match"); inm == etag || inm == "W/"+etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	s.rec.rateUsed++
	w.Header().Set("ETag", etag)
	// application/vnd.github.sha, or go-github's vnd.github.v3.sha.
	if accept := r.Header.Get("Accept"); strings.Contains(accept, "application/vnd.github") && strings.Contains(accept, ".sha") {
		w.Header().Set("Content-Type", "application/vnd.github.sha; charset=utf-8")
		fmt.Fprint(w, sha)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sha": sha})
}

// newGUID returns a GUID as GitHub writes X-GitHub-Delivery.
func newGUID() string {
	b := randomHex(16)
	return b[:8] + "-" + b[8:12] + "-" + b[12:16] + "-" + b[16:20] + "-" + b[20:]
}
