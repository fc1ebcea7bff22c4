package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/notify"
)

const connectionARN = "arn:aws:codeconnections:us-east-1:000000000000:connection/0192f0c4-0000-7000-8000-000000000001"

func pushMessage() *notify.Message {
	return &notify.Message{
		DeliveryID:    "0192f0c4-7d3e-7a1b-9c2d-3e4f5a6b7c8d",
		Attempt:       1,
		Pipeline:      "build",
		ConnectionARN: connectionARN,
		EventID:       "0192f0c4-7d3e-7a1b-9c2d-000000000001",
		// The X-GitHub-Delivery of the webhook that carried the event.
		ProviderDeliveryID: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
		Provider:           "GitHub",
		Kind:               providers.KindPush,
		Repository:         providers.Repository{FullName: "acme/widgets", CloneURLHTTP: "https://github.com/acme/widgets.git"},
		Push:               &providers.Push{Ref: "refs/heads/feature/x", RefType: providers.RefBranch, RefName: "feature/x", After: "9f2c1e0d"},
		CreatedAt:          time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
		Variables: map[string]string{
			notify.VarCommitID:           "9f2c1e0d",
			notify.VarBranchName:         "feature/x",
			notify.VarFullRepositoryName: "acme/widgets",
		},
	}
}

func pullRequestMessage() *notify.Message {
	m := pushMessage()
	m.Kind, m.Push = providers.KindPullRequest, nil
	m.PullRequest = &providers.PullRequest{Action: providers.PROpened, Number: 42, SourceBranch: "feature/x", DestinationBranch: "main", HeadSHA: "9f2c1e0d"}
	return m
}

// request is what a receiver got.
type request struct {
	header http.Header
	body   []byte
}

// receiver records every request on the returned channel and answers it
// with answer.
func receiver(t *testing.T, answer http.HandlerFunc) (*httptest.Server, <-chan request) {
	t.Helper()
	got := make(chan request, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- request{header: r.Header.Clone(), body: body}
		r.Body = io.NopCloser(bytes.NewReader(body))
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

func newNotifier(t *testing.T, cfg config.HTTPTarget, opts Options) *Notifier {
	t.Helper()
	n, err := New(cfg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func newSecret(t testing.TB) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(key)
}

func notifyOnce(t *testing.T, n *Notifier, m *notify.Message) notify.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	return n.Notify(ctx, m)
}

func TestFormats(t *testing.T) {
	for _, tc := range []struct {
		name, format string
		m            *notify.Message
		contentType  string
		wantType     string
		wantSubject  string
	}{
		{"forgelink", "forgelink", pushMessage(), "application/json", "", ""},
		{"forgelink default", "", pullRequestMessage(), "application/json", "", ""},
		{"binary push", "cloudevents-binary", pushMessage(), "application/json", "dev.forgelink.push", "feature/x"},
		{"binary pull request", "cloudevents-binary", pullRequestMessage(), "application/json", "dev.forgelink.pull_request", "pull/42"},
		{"structured push", "cloudevents-structured", pushMessage(), "application/cloudevents+json", "dev.forgelink.push", "feature/x"},
		{"structured pull request", "cloudevents-structured", pullRequestMessage(), "application/cloudevents+json", "dev.forgelink.pull_request", "pull/42"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := receiver(t, status(http.StatusOK))
			n := newNotifier(t, config.HTTPTarget{URL: srv.URL, Format: tc.format, Timeout: 5 * time.Second}, Options{})
			if r := notifyOnce(t, n, tc.m); r.Err != nil || r.StatusCode != http.StatusOK {
				t.Fatalf("Notify = %+v", r)
			}
			req := <-got
			if mt, _, _ := mime.ParseMediaType(req.header.Get("Content-Type")); mt != tc.contentType {
				t.Errorf("Content-Type = %q, want %q", req.header.Get("Content-Type"), tc.contentType)
			}
			if tc.wantType == "" {
				if !bytes.Equal(req.body, tc.m.JSON()) {
					t.Errorf("body = %s, want the message JSON", req.body)
				}
				return
			}
			checkCloudEvent(t, req, tc.m, tc.wantType, tc.wantSubject)
		})
	}
}

// checkCloudEvent decodes the request with the SDK, as a receiver would.
func checkCloudEvent(t *testing.T, req request, m *notify.Message, wantType, wantSubject string) {
	t.Helper()
	e, err := cehttp.NewEventFromHTTPRequest(&http.Request{Header: req.header, Body: io.NopCloser(bytes.NewReader(req.body))})
	if err != nil {
		t.Fatalf("decode CloudEvent: %v", err)
	}
	for _, c := range []struct{ attr, got, want string }{
		{"specversion", e.SpecVersion(), "1.0"},
		{"id", e.ID(), m.DeliveryID},
		{"source", e.Source(), connectionARN + "/acme/widgets"},
		{"type", e.Type(), wantType},
		{"subject", e.Subject(), wantSubject},
		{"datacontenttype", e.DataContentType(), "application/json"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.attr, c.got, c.want)
		}
	}
	if got := e.Extensions()["providerdeliveryid"]; got != m.ProviderDeliveryID || got == "" {
		t.Errorf("extension providerdeliveryid = %v, want %q", got, m.ProviderDeliveryID)
	}
	if mt, _, _ := mime.ParseMediaType(req.header.Get("Content-Type")); mt == "application/json" && req.header.Get("Ce-Providerdeliveryid") != m.ProviderDeliveryID {
		t.Errorf("binary mode header ce-providerdeliveryid = %q, want %q", req.header.Get("Ce-Providerdeliveryid"), m.ProviderDeliveryID)
	}
	if !e.Time().Equal(m.CreatedAt) {
		t.Errorf("time = %v, want %v", e.Time(), m.CreatedAt)
	}
	var got, want notify.Message
	if err := e.DataAs(&got); err != nil {
		t.Fatalf("data: %v", err)
	}
	if err := json.Unmarshal(m.JSON(), &want); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.JSON(), want.JSON()) {
		t.Errorf("data = %s, want %s", got.JSON(), want.JSON())
	}
}

func TestSignatureVerifiedByReceiver(t *testing.T) {
	secret := newSecret(t)
	now := time.Now()
	for _, tc := range []struct {
		name         string
		senderSecret string // in the sender's secret file
		senderClock  time.Duration
		want         int
	}{
		{"whsec secret", secret, 0, http.StatusNoContent},
		{"raw base64 secret", strings.TrimPrefix(secret, secretPrefix) + "\n", 0, http.StatusNoContent},
		{"sender clock within tolerance", secret, -4 * time.Minute, http.StatusNoContent},
		{"stale timestamp", secret, -10 * time.Minute, http.StatusUnauthorized},
		{"future timestamp", secret, 10 * time.Minute, http.StatusUnauthorized},
		{"other secret", newSecret(t), 0, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if err := Verify(secret, r.Header, body, 5*time.Minute, now); err != nil {
					http.Error(w, err.Error(), http.StatusUnauthorized)
					return
				}
				w.WriteHeader(http.StatusNoContent)
			})
			cfg := config.HTTPTarget{URL: srv.URL, Format: "cloudevents-structured", SecretFile: writeFile(t, "secret", tc.senderSecret)}
			n := newNotifier(t, cfg, Options{Now: func() time.Time { return now.Add(tc.senderClock) }})
			r := notifyOnce(t, n, pushMessage())
			if r.StatusCode != tc.want || (r.Err == nil) != (tc.want < 300) || r.Retryable {
				t.Fatalf("Notify = %+v, want status %d", r, tc.want)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	secret := newSecret(t)
	now := time.Unix(1_790_000_000, 0)
	srv, got := receiver(t, status(http.StatusOK))
	n := newNotifier(t, config.HTTPTarget{URL: srv.URL, SecretFile: writeFile(t, "secret", secret)}, Options{Now: func() time.Time { return now }})
	if r := notifyOnce(t, n, pushMessage()); r.Err != nil {
		t.Fatal(r.Err)
	}
	sent := <-got
	if id := sent.header.Get(HeaderID); id != pushMessage().DeliveryID {
		t.Errorf("webhook-id = %q, want the delivery id", id)
	}
	if ts := sent.header.Get(HeaderTimestamp); ts != "1790000000" {
		t.Errorf("webhook-timestamp = %q", ts)
	}
	for _, tc := range []struct {
		name   string
		secret string
		change func(h http.Header, body []byte) []byte
		at     time.Time
		want   error
	}{
		{"as sent", secret, nil, now, nil},
		{"without prefix", strings.TrimPrefix(secret, secretPrefix), nil, now, nil},
		{"one of several signatures", secret, func(h http.Header, b []byte) []byte {
			h.Set(HeaderSignature, "v1a,bm90IGl0 v1,AAAA "+h.Get(HeaderSignature))
			return b
		}, now, nil},
		{"body tampered", secret, func(_ http.Header, b []byte) []byte {
			return bytes.Replace(b, []byte("feature/x"), []byte("feature/y"), 1)
		}, now, ErrBadSignature},
		{"id tampered", secret, func(h http.Header, b []byte) []byte { h.Set(HeaderID, "other"); return b }, now, ErrBadSignature},
		{"timestamp tampered", secret, func(h http.Header, b []byte) []byte { h.Set(HeaderTimestamp, "1790000001"); return b }, now, ErrBadSignature},
		{"other version", secret, func(h http.Header, b []byte) []byte {
			h.Set(HeaderSignature, strings.Replace(h.Get(HeaderSignature), "v1,", "v2,", 1))
			return b
		}, now, ErrBadSignature},
		{"other secret", newSecret(t), nil, now, ErrBadSignature},
		{"old", secret, nil, now.Add(5*time.Minute + time.Second), ErrStaleTimestamp},
		{"from the future", secret, nil, now.Add(-5*time.Minute - time.Second), ErrStaleTimestamp},
		{"no signature", secret, func(h http.Header, b []byte) []byte { h.Del(HeaderSignature); return b }, now, ErrMissingSignature},
		{"no id", secret, func(h http.Header, b []byte) []byte { h.Del(HeaderID); return b }, now, ErrMissingSignature},
		{"bad timestamp", secret, func(h http.Header, b []byte) []byte { h.Set(HeaderTimestamp, "yesterday"); return b }, now, ErrMissingSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, body := sent.header.Clone(), bytes.Clone(sent.body)
			if tc.change != nil {
				body = tc.change(h, body)
			}
			if err := Verify(tc.secret, h, body, 5*time.Minute, tc.at); !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestTemplates(t *testing.T) {
	for _, tc := range []struct {
		name, template, contentType string
		m                           *notify.Message
		check                       func(t *testing.T, req request)
	}{{
		name:        "jenkins buildWithParameters",
		template:    `COMMIT={{urlquery .Variables.CommitId}}&BRANCH={{urlquery .Push.RefName}}&REPO={{urlquery .Repository.FullName}}`,
		contentType: "application/x-www-form-urlencoded",
		m:           pushMessage(),
		check: func(t *testing.T, req request) {
			r := &http.Request{Method: http.MethodPost, Header: req.header, Body: io.NopCloser(bytes.NewReader(req.body))}
			if err := r.ParseForm(); err != nil {
				t.Fatal(err)
			}
			if r.PostForm.Get("COMMIT") != "9f2c1e0d" || r.PostForm.Get("BRANCH") != "feature/x" || r.PostForm.Get("REPO") != "acme/widgets" {
				t.Errorf("form = %v", r.PostForm)
			}
		},
	}, {
		name: "gitlab pipeline trigger",
		template: `{"ref":{{json .Push.RefName}},"variables":{"COMMIT":{{json .Variables.CommitId}},` +
			`"TAG":{{index .Variables "TagName" | default "none" | json}},"ATTEMPT":"{{.Attempt}}"}}`,
		m: pushMessage(),
		check: func(t *testing.T, req request) {
			if ct := req.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			var got struct {
				Ref       string
				Variables map[string]string
			}
			if err := json.Unmarshal(req.body, &got); err != nil {
				t.Fatalf("body %s: %v", req.body, err)
			}
			want := map[string]string{"COMMIT": "9f2c1e0d", "TAG": "none", "ATTEMPT": "1"}
			if got.Ref != "feature/x" || len(got.Variables) != len(want) {
				t.Fatalf("body = %s", req.body)
			}
			for k, v := range want {
				if got.Variables[k] != v {
					t.Errorf("variables[%s] = %q, want %q", k, got.Variables[k], v)
				}
			}
		},
	}, {
		name:     "pull request",
		template: `pr={{.PullRequest.Number}} {{.PullRequest.SourceBranch}}->{{.PullRequest.DestinationBranch}}`,
		m:        pullRequestMessage(),
		check: func(t *testing.T, req request) {
			if string(req.body) != "pr=42 feature/x->main" {
				t.Errorf("body = %q", req.body)
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := receiver(t, status(http.StatusCreated))
			n := newNotifier(t, config.HTTPTarget{URL: srv.URL, BodyTemplate: tc.template, ContentType: tc.contentType}, Options{})
			if r := notifyOnce(t, n, tc.m); r.Err != nil {
				t.Fatalf("Notify: %v", r.Err)
			}
			tc.check(t, <-got)
		})
	}
}

func TestTemplateErrorIsFinal(t *testing.T) {
	for name, tmpl := range map[string]string{
		"missing variable": `{{.Variables.TagName}}`,
		"nil pull request": `{{.PullRequest.Number}}`,
		"unknown field":    `{{.Branch}}`,
	} {
		t.Run(name, func(t *testing.T) {
			var requests atomic.Int32
			srv, _ := receiver(t, func(w http.ResponseWriter, _ *http.Request) { requests.Add(1) })
			n := newNotifier(t, config.HTTPTarget{URL: srv.URL, BodyTemplate: tmpl}, Options{})
			r := notifyOnce(t, n, pushMessage())
			if r.Err == nil || r.Retryable || r.StatusCode != 0 {
				t.Fatalf("Notify = %+v, want a final failure", r)
			}
			if requests.Load() != 0 {
				t.Error("a request was sent")
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	srv, got := receiver(t, status(http.StatusOK))
	cfg := config.HTTPTarget{
		URL:        srv.URL,
		Format:     "cloudevents-binary",
		SecretFile: writeFile(t, "secret", newSecret(t)),
		Headers:    map[string]string{"authorization": "Bearer t0ken", "X-Jenkins-Crumb": "c"},
	}
	n := newNotifier(t, cfg, Options{Version: "1.4.0"})
	if r := notifyOnce(t, n, pushMessage()); r.Err != nil {
		t.Fatal(r.Err)
	}
	h := (<-got).header
	for name, want := range map[string]string{
		"Authorization":   "Bearer t0ken",
		"X-Jenkins-Crumb": "c",
		"User-Agent":      "forgelink/1.4.0",
		"Content-Type":    "application/json",
		"Ce-Id":           pushMessage().DeliveryID,
	} {
		if v := h.Get(name); v != want {
			t.Errorf("%s = %q, want %q", name, v, want)
		}
	}
	if !strings.HasPrefix(h.Get(HeaderSignature), "v1,") {
		t.Errorf("webhook-signature = %q", h.Get(HeaderSignature))
	}
}

func TestNewRefuses(t *testing.T) {
	caFile := writeFile(t, "ca.pem", "not a certificate")
	short := writeFile(t, "short", secretPrefix+base64.StdEncoding.EncodeToString([]byte("too short")))
	garbled := writeFile(t, "garbled", "whsec_not base64 at all!")
	ok := config.HTTPTarget{URL: "https://ci.example.com/hook"}
	for _, tc := range []struct {
		name   string
		change func(c *config.HTTPTarget, o *Options)
		want   string
	}{
		{"relative url", func(c *config.HTTPTarget, _ *Options) { c.URL = "/hook?token=s3cret" }, "url"},
		{"ftp url", func(c *config.HTTPTarget, _ *Options) { c.URL = "ftp://ci.example.com/?token=s3cret" }, "url"},
		{"unknown format", func(c *config.HTTPTarget, _ *Options) { c.Format = "xml" }, "format"},
		{"template with cloudevents", func(c *config.HTTPTarget, _ *Options) {
			c.Format, c.BodyTemplate = "cloudevents-binary", "x"
		}, "template"},
		{"bad template", func(c *config.HTTPTarget, _ *Options) { c.BodyTemplate = "{{.Push" }, "template"},
		{"content type header", func(c *config.HTTPTarget, _ *Options) { c.Headers = map[string]string{"content-type": "text/plain"} }, "content-type"},
		{"signature header", func(c *config.HTTPTarget, _ *Options) { c.Headers = map[string]string{"Webhook-Signature": "v1,x"} }, "Webhook-Signature"},
		{"cloudevents header", func(c *config.HTTPTarget, _ *Options) { c.Headers = map[string]string{"ce-type": "x"} }, "ce-type"},
		{"bad header name", func(c *config.HTTPTarget, _ *Options) { c.Headers = map[string]string{"X Token": "s3cret"} }, "invalid name"},
		{"header smuggling", func(c *config.HTTPTarget, _ *Options) {
			c.Headers = map[string]string{"Authorization": "s3cret\r\nX-Admin: 1"}
		}, "invalid value"},
		{"missing secret file", func(c *config.HTTPTarget, _ *Options) { c.SecretFile = filepath.Join(t.TempDir(), "none") }, "secret"},
		{"short secret", func(c *config.HTTPTarget, _ *Options) { c.SecretFile = short }, "bytes"},
		{"garbled secret", func(c *config.HTTPTarget, _ *Options) { c.SecretFile = garbled }, "base64"},
		{"ca file without certificate", func(c *config.HTTPTarget, _ *Options) { c.TLS.CAFile = caFile }, "PEM"},
		{"cert without key", func(c *config.HTTPTarget, _ *Options) { c.TLS.CertFile = caFile }, "together"},
		{"tls with a client", func(c *config.HTTPTarget, o *Options) {
			c.TLS.ServerName, o.Client = "ci.example.com", http.DefaultClient
		}, "tls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, opts := ok, Options{}
			tc.change(&cfg, &opts)
			_, err := New(cfg, opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error about %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "not base64") {
				t.Errorf("error %q repeats a secret", err)
			}
		})
	}
}
