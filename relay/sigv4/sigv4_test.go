package sigv4

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	"github.com/aws/smithy-go"
)

const (
	testKeyID  = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testRegion = "us-east-1"
	// otherRegion is a second region the test verifiers serve.
	otherRegion = "eu-south-1"
	testHost    = "forgelink.example:8443" // a non-default port must survive signing
)

func testNow() time.Time { return time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC) }

func testSecrets(id string) (string, bool) {
	if id == testKeyID {
		return testSecret, true
	}
	return "", false
}

func newTestVerifier() *Verifier {
	return &Verifier{Secret: testSecrets, Regions: []string{testRegion, otherRegion}, Now: testNow}
}

// signSpec describes a request and how the client signs it.
type signSpec struct {
	keyID, secret, token string
	service, region      string
	at                   time.Time
	target               string // path and query
	body                 string
	header               http.Header // extra headers, signed
	amzTarget            string      // X-Amz-Target, signed; none if empty
}

func defaultSpec() signSpec {
	return signSpec{
		keyID:   testKeyID,
		secret:  testSecret,
		service: "codeconnections",
		region:  testRegion,
		at:      testNow(),
		target:  "/",
		body:    `{"MaxResults":10}`,

		amzTarget: "CodeConnections_20231201.ListConnections",
	}
}

// sign builds a server-side request as net/http would deliver it and signs
// it with the AWS SDK signer.
func sign(tb testing.TB, s signSpec) (*http.Request, []byte) {
	tb.Helper()
	body := []byte(s.body)
	r := httptest.NewRequest(http.MethodPost, "http://"+testHost+s.target, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-amz-json-1.0")
	if s.amzTarget != "" {
		r.Header.Set("X-Amz-Target", s.amzTarget)
	}
	r.Header.Set("User-Agent", "aws-sdk-go-v2/test") // the signer never signs it
	for name, values := range s.header {
		r.Header[name] = values
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: s.keyID, SecretAccessKey: s.secret, SessionToken: s.token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), s.service, s.region, s.at); err != nil {
		tb.Fatalf("SignHTTP: %v", err)
	}
	return r, body
}

// editAuth returns a tamper func that rewrites the Authorization header.
func editAuth(pattern, repl string) func(*http.Request, *[]byte) {
	re := regexp.MustCompile(pattern)
	return func(r *http.Request, _ *[]byte) {
		r.Header.Set("Authorization", re.ReplaceAllString(r.Header.Get("Authorization"), repl))
	}
}

func setHeader(name, value string) func(*http.Request, *[]byte) {
	return func(r *http.Request, _ *[]byte) { r.Header.Set(name, value) }
}

func delHeader(name string) func(*http.Request, *[]byte) {
	return func(r *http.Request, _ *[]byte) { r.Header.Del(name) }
}

func TestVerify(t *testing.T) {
	otherSum := sha256.Sum256([]byte("other"))
	tests := []struct {
		name     string
		spec     func(*signSpec)              // changes what the client signs
		tamper   func(*http.Request, *[]byte) // changes the request after signing
		service  string                       // passed to Verify; codeconnections if empty
		wantCode string                       // empty for success
		wantMsg  string                       // substring of the message
	}{
		{name: "codeconnections"},
		{
			name:    "codestar-connections",
			spec:    func(s *signSpec) { s.service = "codestar-connections" },
			service: "codestar-connections",
		},
		{name: "empty body", spec: func(s *signSpec) { s.body = "" }},
		{
			name: "query string and escaped path",
			spec: func(s *signSpec) { s.target = "/a%20b/c~d?b=2&a=1&a-b=x&c=x%20y+z&a=0" },
		},
		{
			name: "header values are trimmed and joined",
			spec: func(s *signSpec) {
				s.header = http.Header{"X-Spaces": {"  a   b  "}, "X-Multi": {"one", "two"}}
			},
		},
		{
			name: "matching X-Amz-Content-Sha256",
			spec: func(s *signSpec) {
				sum := sha256.Sum256([]byte(s.body))
				s.header = http.Header{"X-Amz-Content-Sha256": {hex.EncodeToString(sum[:])}}
			},
		},
		{
			name: "unsigned headers changed",
			tamper: func(r *http.Request, _ *[]byte) {
				r.Header.Set("User-Agent", "other")
				r.Header.Set("X-Forwarded-For", "192.0.2.1")
			},
		},
		{name: "signed x-amz header", spec: func(s *signSpec) { s.header = http.Header{"X-Amz-Extra": {"1"}} }},
		{name: "unsigned x-amzn header", tamper: setHeader("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793")},
		{name: "skew within limit, past", spec: func(s *signSpec) { s.at = testNow().Add(-14 * time.Minute) }},
		{name: "skew within limit, future", spec: func(s *signSpec) { s.at = testNow().Add(14 * time.Minute) }},
		{name: "skew at limit", spec: func(s *signSpec) { s.at = testNow().Add(-15 * time.Minute) }},

		{name: "missing header", tamper: delHeader("Authorization"), wantCode: CodeMissingAuthenticationToken, wantMsg: "Missing Authentication Token"},
		{
			name: "presigned query",
			tamper: func(r *http.Request, _ *[]byte) {
				r.Header.Del("Authorization")
				r.URL.RawQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00"
			},
			wantCode: CodeIncompleteSignature, wantMsg: "Presigned",
		},
		{name: "garbage header", tamper: setHeader("Authorization", "garbage"), wantCode: CodeIncompleteSignature, wantMsg: "algorithm"},
		{name: "two Authorization headers", tamper: func(r *http.Request, _ *[]byte) { r.Header.Add("Authorization", "x") }, wantCode: CodeIncompleteSignature, wantMsg: "one Authorization"},
		{name: "wrong algorithm", tamper: editAuth(`^AWS4-HMAC-SHA256`, "AWS4-HMAC-SHA1"), wantCode: CodeIncompleteSignature, wantMsg: "algorithm"},
		{name: "missing Credential", tamper: editAuth(`Credential=[^,]*, `, ""), wantCode: CodeIncompleteSignature, wantMsg: "'Credential'"},
		{name: "missing SignedHeaders", tamper: editAuth(`SignedHeaders=[^,]*, `, ""), wantCode: CodeIncompleteSignature, wantMsg: "'SignedHeaders'"},
		{name: "missing Signature", tamper: editAuth(`, Signature=[0-9a-f]*`, ""), wantCode: CodeIncompleteSignature, wantMsg: "'Signature'"},
		{name: "repeated parameter", tamper: editAuth(`(Signature=[0-9a-f]*)`, "$1, $1"), wantCode: CodeIncompleteSignature, wantMsg: "repeats"},
		{name: "unknown parameter", tamper: editAuth(`$`, ", Extra=1"), wantCode: CodeIncompleteSignature, wantMsg: "unknown parameter"},
		{name: "parameter without value", tamper: editAuth(`$`, ", Extra"), wantCode: CodeIncompleteSignature, wantMsg: "name=value"},
		{name: "short credential scope", tamper: editAuth(`/aws4_request`, ""), wantCode: CodeIncompleteSignature, wantMsg: "Credential must have the form"},
		{name: "bad scope terminator", tamper: editAuth(`aws4_request`, "aws5_request"), wantCode: CodeIncompleteSignature, wantMsg: "terminator"},
		{name: "bad scope date", tamper: editAuth(`/20261125/`, "/2026-1125/"), wantCode: CodeIncompleteSignature, wantMsg: "Credential date"},
		{name: "bad signature encoding", tamper: editAuth(`Signature=[0-9a-f]*`, "Signature=zz"), wantCode: CodeIncompleteSignature, wantMsg: "hexadecimal"},
		{name: "missing X-Amz-Date", tamper: delHeader("X-Amz-Date"), wantCode: CodeIncompleteSignature, wantMsg: "X-Amz-Date"},
		{name: "bad X-Amz-Date", tamper: setHeader("X-Amz-Date", "2026-11-25T10:30:00Z"), wantCode: CodeIncompleteSignature, wantMsg: "X-Amz-Date"},
		{name: "host not signed", tamper: editAuth(`;host;`, ";"), wantCode: CodeIncompleteSignature, wantMsg: "include host"},
		{name: "x-amz-date not signed", tamper: editAuth(`;x-amz-date`, ""), wantCode: CodeIncompleteSignature, wantMsg: "include x-amz-date"},
		{
			// Finding 5 of issue 9: signed as GetConnection without the
			// target, resent as DeleteConnection.
			name:     "x-amz-target added unsigned",
			spec:     func(s *signSpec) { s.amzTarget = "" },
			tamper:   setHeader("X-Amz-Target", "CodeConnections_20231201.DeleteConnection"),
			wantCode: CodeInvalidSignature, wantMsg: "'X-Amz-Target' must be a signed header",
		},
		{name: "x-amz-target left out of SignedHeaders", tamper: editAuth(`;x-amz-target`, ""), wantCode: CodeInvalidSignature, wantMsg: "'X-Amz-Target' must be a signed header"},
		{name: "other x-amz header added unsigned", tamper: setHeader("X-Amz-Extra", "1"), wantCode: CodeInvalidSignature, wantMsg: "'X-Amz-Extra' must be a signed header"},
		{
			name: "x-amz-content-sha256 added unsigned",
			tamper: func(r *http.Request, b *[]byte) {
				sum := sha256.Sum256(*b)
				r.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
			},
			wantCode: CodeInvalidSignature, wantMsg: "'X-Amz-Content-Sha256' must be a signed header",
		},
		{name: "lowercase x-amz header added unsigned", tamper: func(r *http.Request, _ *[]byte) { r.Header["x-amz-extra"] = []string{"1"} }, wantCode: CodeInvalidSignature, wantMsg: "must be a signed header"},
		{name: "signed headers unsorted", tamper: editAuth(`content-length;content-type`, "content-type;content-length"), wantCode: CodeIncompleteSignature, wantMsg: "sorted"},
		{name: "signed headers uppercase", tamper: editAuth(`;host;`, ";Host;"), wantCode: CodeIncompleteSignature, wantMsg: "lowercase"},

		{name: "unknown key", spec: func(s *signSpec) { s.keyID = "AKIDUNKNOWN" }, wantCode: CodeUnrecognizedClient, wantMsg: "security token included in the request is invalid"},
		{name: "security token", spec: func(s *signSpec) { s.token = "session" }, wantCode: CodeUnrecognizedClient, wantMsg: "security token"},

		{name: "wrong secret", spec: func(s *signSpec) { s.secret = "not-the-secret" }, wantCode: CodeInvalidSignature, wantMsg: "does not match"},
		{name: "tampered body", tamper: func(_ *http.Request, b *[]byte) { *b = []byte(`{"MaxResults":99}`) }, wantCode: CodeInvalidSignature, wantMsg: "does not match"},
		{name: "tampered signed header", tamper: setHeader("X-Amz-Target", "CodeConnections_20231201.DeleteConnection"), wantCode: CodeInvalidSignature, wantMsg: "does not match"},
		{name: "tampered host", tamper: func(r *http.Request, _ *[]byte) { r.Host = "forgelink.example:9443" }, wantCode: CodeInvalidSignature, wantMsg: "does not match"},
		{name: "tampered query", tamper: func(r *http.Request, _ *[]byte) { r.URL.RawQuery = "a=1" }, wantCode: CodeInvalidSignature, wantMsg: "does not match"},
		{name: "tampered method", tamper: func(r *http.Request, _ *[]byte) { r.Method = http.MethodPut }, wantCode: CodeInvalidSignature, wantMsg: "does not match"},
		{
			name:     "mismatched X-Amz-Content-Sha256",
			spec:     func(s *signSpec) { s.header = http.Header{"X-Amz-Content-Sha256": {hex.EncodeToString(otherSum[:])}} },
			wantCode: CodeInvalidSignature, wantMsg: "X-Amz-Content-Sha256",
		},
		{name: "wrong service", spec: func(s *signSpec) { s.service = "codestar-connections" }, wantCode: CodeInvalidSignature, wantMsg: "scoped to correct service: 'codeconnections'"},
		{name: "wrong region", spec: func(s *signSpec) { s.region = "us-west-2" }, wantCode: CodeInvalidSignature, wantMsg: "scoped to a valid region"},
		{name: "second served region", spec: func(s *signSpec) { s.region = otherRegion }},
		{
			name: "scope date differs from X-Amz-Date", tamper: editAuth(`/20261125/`, "/20261124/"),
			wantCode: CodeInvalidSignature, wantMsg: "'20261124' != '20261125', from '20261125T103000Z'",
		},
		{
			name: "expired", spec: func(s *signSpec) { s.at = testNow().Add(-30 * time.Minute) },
			wantCode: CodeInvalidSignature,
			wantMsg:  "Signature expired: 20261125T100000Z is now earlier than 20261125T101500Z (20261125T103000Z - 15 min.)",
		},
		{
			name: "just expired", spec: func(s *signSpec) { s.at = testNow().Add(-15*time.Minute - time.Second) },
			wantCode: CodeInvalidSignature, wantMsg: "Signature expired",
		},
		{
			name: "not yet current", spec: func(s *signSpec) { s.at = testNow().Add(30 * time.Minute) },
			wantCode: CodeInvalidSignature,
			wantMsg:  "Signature not yet current: 20261125T110000Z is still later than 20261125T104500Z (20261125T103000Z + 15 min.)",
		},
		{
			name: "just not yet current", spec: func(s *signSpec) { s.at = testNow().Add(15*time.Minute + time.Second) },
			wantCode: CodeInvalidSignature, wantMsg: "Signature not yet current",
		},
	}
	leak := regexp.MustCompile(`[0-9a-fA-F]{64}`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := defaultSpec()
			if tt.spec != nil {
				tt.spec(&spec)
			}
			r, body := sign(t, spec)
			if tt.tamper != nil {
				tt.tamper(r, &body)
			}
			service := cmp.Or(tt.service, "codeconnections")

			keyID, err := newTestVerifier().Verify(r, body, service)

			if tt.wantCode == "" {
				if err != nil || keyID != testKeyID {
					t.Fatalf("Verify = %q, %v; want %q, nil", keyID, err, testKeyID)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Verify error = %v; want *Error", err)
			}
			if keyID != "" || e.Code != tt.wantCode || !strings.Contains(e.Message, tt.wantMsg) {
				t.Errorf("Verify = %q, %v; want code %s, message containing %q", keyID, err, tt.wantCode, tt.wantMsg)
			}
			if strings.Contains(err.Error(), spec.secret) || strings.Contains(err.Error(), testSecret) || leak.MatchString(err.Error()) {
				t.Errorf("error leaks a secret or signature: %v", err)
			}
		})
	}
}

func TestErrorStatus(t *testing.T) {
	tests := []struct {
		code string
		want int
	}{
		{CodeMissingAuthenticationToken, http.StatusBadRequest},
		{CodeIncompleteSignature, http.StatusBadRequest},
		{CodeUnrecognizedClient, http.StatusBadRequest},
		{CodeInvalidSignature, http.StatusForbidden},
	}
	for _, tt := range tests {
		e := &Error{Code: tt.code, Message: "m"}
		if got := e.Status(); got != tt.want {
			t.Errorf("Status(%s) = %d; want %d", tt.code, got, tt.want)
		}
		if got, want := e.Error(), tt.code+": m"; got != want {
			t.Errorf("Error() = %q; want %q", got, want)
		}
	}
}

// TestAWSTestSuite checks the "get-vanilla" case of the AWS SigV4 test suite,
// which does not depend on the SDK signer.
func TestAWSTestSuite(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "http://example.amazonaws.com/", nil)
	r.Header.Set("X-Amz-Date", "20150830T123600Z")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "+
		"SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
	v := &Verifier{
		Secret:  testSecrets,
		Regions: []string{"us-east-1"},
		Now:     func() time.Time { return time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC) },
	}
	if _, err := v.Verify(r, nil, "service"); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestVerifyConcurrent(t *testing.T) {
	v := newTestVerifier()
	var wg sync.WaitGroup
	for _, service := range []string{"codeconnections", "codestar-connections"} {
		spec := defaultSpec()
		spec.service = service
		r, body := sign(t, spec)
		for range 4 {
			wg.Go(func() {
				for range 50 {
					if _, err := v.Verify(r, body, service); err != nil {
						t.Errorf("Verify: %v", err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
}

func TestKeyCacheBounded(t *testing.T) {
	var c keyCache
	sc := scope{date: "20261125", region: testRegion, service: "codeconnections"}
	for i := range 2 * maxCachedKeys {
		secret := fmt.Sprint("secret-", i)
		if got, want := c.get(secret, sc), deriveKey(secret, sc); got != want {
			t.Fatalf("get(%q) returned a wrong key", secret)
		}
		if got, want := c.get(secret, sc), deriveKey(secret, sc); got != want {
			t.Fatalf("cached get(%q) returned a wrong key", secret)
		}
	}
	if n := len(c.keys); n > maxCachedKeys {
		t.Errorf("cache holds %d keys; want at most %d", n, maxCachedKeys)
	}
}

// TestSDKClient drives Verify with a real CodeConnections client.
func TestSDKClient(t *testing.T) {
	tests := []struct {
		name, secret string
		wantCode     string // empty for success
	}{
		{"valid", testSecret, ""},
		{"wrong secret", "not-the-secret", CodeInvalidSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			type result struct {
				keyID string
				err   error
			}
			results := make(chan result, 1)
			v := &Verifier{Secret: testSecrets, Regions: []string{testRegion}}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, err := io.ReadAll(r.Body)
				if err != nil {
					t.Errorf("reading body: %v", err)
				}
				keyID, err := v.Verify(r, body, "codeconnections")
				select {
				case results <- result{keyID, err}:
				default:
					t.Error("client sent more than one request")
				}
				writeResponse(w, err)
			}))
			defer srv.Close()
			client := codeconnections.New(codeconnections.Options{
				Region:           testRegion,
				BaseEndpoint:     aws.String(srv.URL),
				Credentials:      credentials.NewStaticCredentialsProvider(testKeyID, tt.secret, ""),
				HTTPClient:       srv.Client(),
				RetryMaxAttempts: 1,
			})

			_, callErr := client.ListConnections(context.Background(), &codeconnections.ListConnectionsInput{})

			got := <-results
			if tt.wantCode == "" {
				if got.err != nil || got.keyID != testKeyID || callErr != nil {
					t.Fatalf("Verify = %q, %v; ListConnections error %v", got.keyID, got.err, callErr)
				}
				return
			}
			var e *Error
			if !errors.As(got.err, &e) || e.Code != tt.wantCode {
				t.Fatalf("Verify error = %v; want code %s", got.err, tt.wantCode)
			}
			var apiErr smithy.APIError
			if !errors.As(callErr, &apiErr) || apiErr.ErrorCode() != tt.wantCode {
				t.Errorf("ListConnections error = %v; want API error %s", callErr, tt.wantCode)
			}
		})
	}
}

// writeResponse answers as an AWS JSON 1.0 service would.
func writeResponse(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	var e *Error
	if errors.As(err, &e) {
		w.WriteHeader(e.Status())
		fmt.Fprintf(w, `{"__type":%q,"message":%q}`, e.Code, e.Message)
		return
	}
	io.WriteString(w, "{}")
}

func FuzzParseAuthorization(f *testing.F) {
	for _, seed := range []string{
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/us-east-1/codeconnections/aws4_request, " +
			"SignedHeaders=content-type;host;x-amz-date;x-amz-target, " +
			"Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		"AWS4-HMAC-SHA256 Credential=a/20261125/r/s/aws4_request,SignedHeaders=host;x-amz-date,Signature=" + strings.Repeat("0", 64),
		"",
		"AWS4-HMAC-SHA256",
		"AWS4-HMAC-SHA256 ,,,=",
		"AWS4-HMAC-SHA256 Credential=//////, SignedHeaders=;;, Signature=",
		"AWS4-HMAC-SHA256 Credential=a/2026112/r/s/aws4_request, SignedHeaders=host, Signature=zz",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorization(h)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeIncompleteSignature {
				t.Fatalf("parseAuthorization(%q) error = %v; want %s", h, err, CodeIncompleteSignature)
			}
			return
		}
		if a.accessKeyID == "" || len(a.signature) != sha256.Size || checkSignedHeaders(a.signedHeaders) != nil {
			t.Fatalf("parseAuthorization(%q) = %+v, an invalid result", h, a)
		}
		if _, ok := parseTime(dateFormat, a.scope.date); !ok || a.scope.region == "" || a.scope.service == "" {
			t.Fatalf("parseAuthorization(%q) returned invalid scope %+v", h, a.scope)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	r, body := sign(b, defaultSpec())
	v := newTestVerifier()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(r, body, "codeconnections"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := v.Verify(r, body, "codeconnections"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func TestScopeRegion(t *testing.T) {
	tests := []struct {
		name   string
		region string // signed for; none: unsigned
		tamper func(*http.Request, *[]byte)
		want   string
		ok     bool
	}{
		{name: "signed", region: otherRegion, want: otherRegion, ok: true},
		{name: "unsigned", tamper: delHeader("Authorization")},
		{name: "malformed", region: testRegion, tamper: setHeader("Authorization", "AWS4-HMAC-SHA256 Credential=x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := defaultSpec()
			if tt.region != "" {
				s.region = tt.region
			}
			r, body := sign(t, s)
			if tt.tamper != nil {
				tt.tamper(r, &body)
			}
			got, ok := ScopeRegion(r)
			if got != tt.want || ok != tt.ok {
				t.Errorf("ScopeRegion = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
