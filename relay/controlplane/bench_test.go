package controlplane

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	cctypes "github.com/aws/aws-sdk-go-v2/service/codeconnections/types"

	"github.com/forgelink/forgelink/relay/policy"
)

// The benchmarks measure the daemon's HTTP path: a keep-alive client,
// SigV4 verification, JSON and the SQLite store. Requests are signed once and
// replayed (valid for the 15-minute skew window), so the client spends no CPU
// on signing and the figure is the server's. b.N requests run across
// GOMAXPROCS*4 client goroutines. cpu-ns/op is the process's CPU time per
// request, the client's included: the figure to compare on a shared
// machine.

func signedRequest(b *testing.B, url, op, body string) func() *http.Request {
	b.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/", nil)
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "CodeConnections_20231201."+op)
	req.ContentLength = int64(len(body))
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "codeconnections", testRegion, time.Now()); err != nil {
		b.Fatal(err)
	}
	return func() *http.Request {
		r := req.Clone(context.Background())
		r.Body = io.NopCloser(bytes.NewBufferString(body))
		return r
	}
}

func runParallel(b *testing.B, client *http.Client, next func(i int) *http.Request) {
	b.Helper()
	b.SetParallelism(4)
	b.ResetTimer()
	start, cpuStart := time.Now(), cpuTime(b)
	var seq atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Do(next(int(seq.Add(1))))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	b.ReportMetric(float64(cpuTime(b)-cpuStart)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the CPU time the process has used (client and server):
// unlike ns/op, it hardly changes with what else runs on the machine.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
}

func BenchmarkGetConnection(b *testing.B) {
	benchmarkGetConnection(b)
}

// BenchmarkGetConnectionAuthorized: the same with an Authorizer, which
// loads the connection's tags for aws:ResourceTag.
func BenchmarkGetConnectionAuthorized(b *testing.B) {
	benchmarkGetConnection(b, func(o *Options) { o.Authorizer = policy.NewAuthorizer(testKeyID, nil) })
}

// BenchmarkGetConnectionScoped: the caller is no root key but one whose
// policy has no conditions.
func BenchmarkGetConnectionScoped(b *testing.B) {
	benchmarkGetConnection(b, scopedTo(policy.Statement{Effect: policy.Allow, Actions: []string{"codeconnections:*"}, Resources: []string{"*"}}))
}

// BenchmarkGetConnectionTagScoped: the caller's policy allows
// GetConnection on the connections tagged team=bench, so the
// connection's tags are loaded.
func BenchmarkGetConnectionTagScoped(b *testing.B) {
	benchmarkGetConnection(b, scopedTo(
		policy.Statement{Effect: policy.Allow, Actions: []string{"codeconnections:CreateConnection", "codeconnections:TagResource"}, Resources: []string{"*"}},
		policy.Statement{Effect: policy.Allow, Actions: []string{"codeconnections:Get*"}, Resources: []string{"*"},
			Conditions: policy.Conditions{"StringEquals": {policy.KeyResourceTagPrefix + "team": {"bench"}}}},
	))
}

// scopedTo makes the fixture's key a non-root key with the policy.
func scopedTo(statements ...policy.Statement) func(*Options) {
	return func(o *Options) {
		o.Authorizer = policy.NewAuthorizer("", map[string]policy.Policy{testKeyID: {Statements: statements}})
	}
}

func benchmarkGetConnection(b *testing.B, configure ...func(*Options)) {
	f := newFixture(b, Limits{}, true, configure...)
	out, err := f.cc.CreateConnection(context.Background(), &codeconnections.CreateConnectionInput{
		ConnectionName: aws.String("bench"), ProviderType: cctypes.ProviderTypeGithub,
		Tags: []cctypes.Tag{{Key: aws.String("team"), Value: aws.String("bench")}},
	})
	if err != nil {
		b.Fatal(err)
	}
	req := signedRequest(b, f.srv.URL, "GetConnection", fmt.Sprintf(`{"ConnectionArn":%q}`, *out.ConnectionArn))
	runParallel(b, benchClient(), func(int) *http.Request { return req() })
}

func BenchmarkCreateConnection(b *testing.B) {
	f := newFixture(b, Limits{Connections: 1 << 30}, true)
	// Names must be unique, so each request is signed anew; the signing cost
	// is on the client side of the same process and included in the figure.
	creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
	signer := v4.NewSigner()
	runParallel(b, benchClient(), func(i int) *http.Request {
		body := fmt.Sprintf(`{"ConnectionName":"bench-%d","ProviderType":"GitHub"}`, i)
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/", bytes.NewBufferString(body))
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		req.Header.Set("X-Amz-Target", "CodeConnections_20231201.CreateConnection")
		sum := sha256.Sum256([]byte(body))
		if err := signer.SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "codeconnections", testRegion, time.Now()); err != nil {
			b.Error(err)
		}
		return req
	})
}
