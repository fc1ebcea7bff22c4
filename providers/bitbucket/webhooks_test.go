package bitbucket

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/forgelink/forgelink/providers"
)

const (
	deliveryID = "6f2c1d0e-8b7a-4c3e-9d21-5a4b3c2d1e0f"

	hashBase  = "1405df66cbe219b0bf6355bc3d60361a8376b6b4"
	hashC1    = "2f22765d04931a078909145ca628d2264c852d7d"
	hashC2    = "6b1f53303a732ccc8c6aae6640399827c15250e3"
	hashC3    = "a625406f6977d45c1391b078f4d3656e0b75bfcb"
	commitURL = "https://bitbucket.org/acme-platform/payments-api/commits/"
)

// payloads maps each testdata file to the X-Event-Key it is delivered with.
var payloads = map[string]string{
	"push_branch.json":         "repo:push",
	"push_tag.json":            "repo:push",
	"push_branch_created.json": "repo:push",
	"push_branch_deleted.json": "repo:push",
	"push_forced.json":         "repo:push",
	"push_truncated.json":      "repo:push",
	"push_multi.json":          "repo:push",
	"pr_created.json":          "pullrequest:created",
	"pr_updated_fork.json":     "pullrequest:updated",
	"pr_fulfilled.json":        "pullrequest:fulfilled",
	"pr_rejected.json":         "pullrequest:rejected",
	"pr_approved.json":         "pullrequest:approved",
	"diagnostics_ping.json":    "diagnostics:ping",
	"repo_fork.json":           "repo:fork",
}

var payments = providers.Repository{
	FullName:      "acme-platform/payments-api",
	CloneURLHTTP:  "https://bitbucket.org/acme-platform/payments-api.git",
	CloneURLSSH:   "git@bitbucket.org:acme-platform/payments-api.git",
	HTMLURL:       "https://bitbucket.org/acme-platform/payments-api",
	DefaultBranch: "main",
}

const signaturePrefix = "sha256="

func readPayload(tb testing.TB, name string) []byte {
	tb.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

func eventHeader(key string) http.Header {
	h := http.Header{}
	h.Set("X-Event-Key", key)
	h.Set("X-Request-UUID", deliveryID)
	h.Set("X-Hook-UUID", "0302255c-f4f0-4232-916b-bef521fbdd08")
	h.Set("X-Attempt-Number", "1")
	return h
}

func sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return signaturePrefix + hex.EncodeToString(m.Sum(nil))
}

func TestVerify(t *testing.T) {
	body := readPayload(t, "push_branch.json")
	current, previous := []byte("s3cr3t-current"), []byte("s3cr3t-previous")
	good := sign(current, body)
	tests := []struct {
		name      string
		signature string // "" leaves the header out
		body      []byte
		secrets   [][]byte
		want      error
	}{
		{"right secret", good, body, [][]byte{current}, nil},
		{"second of two secrets", sign(previous, body), body, [][]byte{current, previous}, nil},
		{"upper-case hex", signaturePrefix + strings.ToUpper(strings.TrimPrefix(good, signaturePrefix)), body, [][]byte{current}, nil},
		{"wrong secret", sign([]byte("other"), body), body, [][]byte{current, previous}, providers.ErrBadSignature},
		{"missing header", "", body, [][]byte{current}, providers.ErrMissingSignature},
		{"not hex", signaturePrefix + strings.Repeat("zz", sha256.Size), body, [][]byte{current}, providers.ErrBadSignature},
		{"short digest", good[:len(good)-2], body, [][]byte{current}, providers.ErrBadSignature},
		{"no prefix", strings.TrimPrefix(good, signaturePrefix), body, [][]byte{current}, providers.ErrBadSignature},
		{"sha1 prefix", "sha1=" + strings.TrimPrefix(good, signaturePrefix), body, [][]byte{current}, providers.ErrBadSignature},
		{"truncated body", good, body[:len(body)/2], [][]byte{current}, providers.ErrBadSignature},
		{"no secrets", good, body, nil, providers.ErrBadSignature},
		{"empty secret", sign(nil, body), body, [][]byte{{}}, providers.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := eventHeader("repo:push")
			if tt.signature != "" {
				h.Set("X-Hub-Signature", tt.signature)
			}
			err := Webhooks{}.Verify(h, tt.body, tt.secrets)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			msg := err.Error()
			for _, secret := range tt.secrets {
				if len(secret) > 0 && strings.Contains(msg, string(secret)) {
					t.Errorf("error %q reveals a secret", msg)
				}
			}
			if tt.signature != "" && strings.Contains(msg, strings.TrimPrefix(tt.signature, signaturePrefix)) {
				t.Errorf("error %q reveals the signature", msg)
			}
		})
	}
}

func TestDeliveryID(t *testing.T) {
	if got := (Webhooks{}).DeliveryID(eventHeader("repo:push")); got != deliveryID {
		t.Errorf("DeliveryID = %q, want %q", got, deliveryID)
	}
	if got := (Webhooks{}).DeliveryID(http.Header{}); got != "" {
		t.Errorf("DeliveryID without header = %q, want empty", got)
	}
}

// pushView is a push with its commits reduced to their ids, so the table
// stays readable; TestParseCommits checks commit contents.
type pushView struct {
	providers.Push
	CommitIDs []string
	HeadID    string
}

func view(p providers.Push) pushView {
	v := pushView{Push: p}
	for _, c := range p.Commits {
		v.CommitIDs = append(v.CommitIDs, c.ID)
	}
	if p.HeadCommit != nil {
		v.HeadID = p.HeadCommit.ID
	}
	v.Commits, v.HeadCommit = nil, nil
	return v
}

func TestParsePush(t *testing.T) {
	withClones := payments
	withClones.CloneURLHTTP = "https://mkowalczyk@bitbucket.org/acme-platform/payments-api.git"
	withClones.DefaultBranch = ""

	tests := []struct {
		file string
		repo providers.Repository
		want []pushView
	}{
		{"push_branch.json", payments, []pushView{{
			Push: providers.Push{
				Ref: "refs/heads/main", RefType: providers.RefBranch, RefName: "main",
				Before: hashBase, After: hashC3,
				TotalCommits: 3, FilesIncomplete: true,
			},
			CommitIDs: []string{hashC1, hashC2, hashC3}, HeadID: hashC3,
		}}},
		{"push_tag.json", payments, []pushView{{
			Push: providers.Push{
				Ref: "refs/tags/v4.7.1", RefType: providers.RefTag, RefName: "v4.7.1",
				After: hashC3, Created: true,
			},
			HeadID: hashC3,
		}}},
		{"push_branch_created.json", payments, []pushView{{
			Push: providers.Push{
				Ref: "refs/heads/feature/PAY-1502-refund-retries", RefType: providers.RefBranch,
				RefName: "feature/PAY-1502-refund-retries",
				After:   "0e1a07a7a20f75d7616884a3d938b31eba2283f7", Created: true,
				TotalCommits: 1, FilesIncomplete: true,
			},
			CommitIDs: []string{"0e1a07a7a20f75d7616884a3d938b31eba2283f7"},
			HeadID:    "0e1a07a7a20f75d7616884a3d938b31eba2283f7",
		}}},
		{"push_branch_deleted.json", payments, []pushView{{
			Push: providers.Push{
				Ref: "refs/heads/feature/PAY-1423", RefType: providers.RefBranch, RefName: "feature/PAY-1423",
				Before: "269358b3d34616633881b05c6b05fcdd64c6f330", Deleted: true,
			},
		}}},
		{"push_forced.json", payments, []pushView{{
			Push: providers.Push{
				Ref: "refs/heads/release/4.7", RefType: providers.RefBranch, RefName: "release/4.7",
				Before: "36053fb9bbcace79c21b73b7eaa9478eea62aa8d", After: "36d6e3b89ce55a2f87bca8b48f18bf6b47e8acbc",
				Forced: true, TotalCommits: 1, FilesIncomplete: true,
			},
			CommitIDs: []string{"36d6e3b89ce55a2f87bca8b48f18bf6b47e8acbc"},
			HeadID:    "36d6e3b89ce55a2f87bca8b48f18bf6b47e8acbc",
		}}},
		{"push_truncated.json", payments, []pushView{{
			Push: providers.Push{
				Ref: "refs/heads/develop", RefType: providers.RefBranch, RefName: "develop",
				Before: hashBase, After: "f7249fe78ded02dcb4caaeb34b10462fa9144968",
				TotalCommits: 5, CommitsTruncated: true, FilesIncomplete: true,
			},
			CommitIDs: []string{
				"7ff8b5e8d30dc1fc9e66106b9e39be7639ce8d0f",
				"dc1092e1b36baad6158bd767a9bb4cbf4e801e8e",
				"8e75450625e027b0d1a87ff4c1686aeac55a321a",
				"991b6d7a7329c1380d1691cbaa34804fe91b4ff4",
				"f7249fe78ded02dcb4caaeb34b10462fa9144968",
			},
			HeadID: "f7249fe78ded02dcb4caaeb34b10462fa9144968",
		}}},
		{"push_multi.json", withClones, []pushView{
			{
				Push: providers.Push{
					Ref: "refs/heads/main", RefType: providers.RefBranch, RefName: "main",
					Before: hashC2, After: hashC3, TotalCommits: 1, FilesIncomplete: true,
				},
				CommitIDs: []string{hashC3}, HeadID: hashC3,
			},
			{
				Push: providers.Push{
					Ref: "refs/tags/v4.7.0", RefType: providers.RefTag, RefName: "v4.7.0",
					After: hashC3, Created: true,
				},
				HeadID: hashC3,
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			ev, err := Webhooks{}.Parse(eventHeader("repo:push"), readPayload(t, tt.file))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			checkEnvelope(t, ev, providers.KindPush, "repo:push", tt.repo)
			if len(ev.Pushes) != len(tt.want) {
				t.Fatalf("got %d pushes, want %d", len(ev.Pushes), len(tt.want))
			}
			for i, p := range ev.Pushes {
				if got := view(p); !reflect.DeepEqual(got, tt.want[i]) {
					t.Errorf("push %d:\n got %+v\nwant %+v", i, got, tt.want[i])
				}
			}
		})
	}
}

func checkEnvelope(t *testing.T, ev providers.Event, kind providers.Kind, rawKind string, repo providers.Repository) {
	t.Helper()
	if ev.Provider != "Bitbucket" || ev.DeliveryID != deliveryID || ev.Kind != kind || ev.RawKind != rawKind {
		t.Errorf("envelope = %q %q %q %q, want Bitbucket %q %q %q",
			ev.Provider, ev.DeliveryID, ev.Kind, ev.RawKind, deliveryID, kind, rawKind)
	}
	if ev.Repository != repo {
		t.Errorf("repository:\n got %+v\nwant %+v", ev.Repository, repo)
	}
}

func TestParseCommits(t *testing.T) {
	ev, err := Webhooks{}.Parse(eventHeader("repo:push"), readPayload(t, "push_branch.json"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	p := ev.Pushes[0]
	want := []providers.Commit{
		{
			ID:          hashC1,
			Message:     "Escape <script> tags & ampersands in receipt templates\n\nRenders \"Total > 0\" correctly.\n",
			AuthorName:  "Marta Kowalczyk",
			AuthorEmail: "mkowalczyk@acme.example",
			Timestamp:   time.Date(2025, 3, 14, 9, 12, 45, 0, time.UTC),
			URL:         commitURL + hashC1,
		},
		{
			ID:          hashC2,
			Message:     "Ajoute la devise « złoty » au résumé des paiements ✓\n",
			AuthorName:  "João Gonçalves",
			AuthorEmail: "joao.goncalves@acme.example",
			Timestamp:   time.Date(2025, 3, 14, 9, 1, 7, 0, time.UTC), // sent as 10:01:07+01:00
			URL:         commitURL + hashC2,
		},
		{
			ID:          hashC3,
			Message:     "Merge branch 'feature/PAY-1423' into main\n",
			AuthorName:  "Marta Kowalczyk",
			AuthorEmail: "mkowalczyk@acme.example",
			Timestamp:   time.Date(2025, 3, 14, 10, 30, 59, 0, time.UTC),
			URL:         commitURL + hashC3,
		},
	}
	if !reflect.DeepEqual(p.Commits, want) {
		t.Errorf("commits:\n got %+v\nwant %+v", p.Commits, want)
	}
	if p.HeadCommit == nil || !reflect.DeepEqual(*p.HeadCommit, want[2]) {
		t.Errorf("head commit = %+v, want %+v", p.HeadCommit, want[2])
	}
	if !reflect.DeepEqual(p.Files, providers.ChangedFiles{}) {
		t.Errorf("files = %+v, want none: Bitbucket sends no file lists", p.Files)
	}
}

func TestSplitAuthor(t *testing.T) {
	tests := []struct{ raw, name, email string }{
		{"Marta Kowalczyk <mkowalczyk@acme.example>", "Marta Kowalczyk", "mkowalczyk@acme.example"},
		{"  João Gonçalves   < joao@acme.example > ", "João Gonçalves", "joao@acme.example"},
		{"build-bot", "build-bot", ""},
		{"<ci@acme.example>", "", "ci@acme.example"},
		{"Odd <name> <odd@acme.example>", "Odd <name>", "odd@acme.example"},
		{"", "", ""},
	}
	for _, tt := range tests {
		if name, email := splitAuthor(tt.raw); name != tt.name || email != tt.email {
			t.Errorf("splitAuthor(%q) = %q, %q; want %q, %q", tt.raw, name, email, tt.name, tt.email)
		}
	}
}

func TestParsePullRequest(t *testing.T) {
	base := providers.PullRequest{
		Number:            87,
		Title:             "PAY-1423: support złoty & forint <currency> codes",
		URL:               "https://bitbucket.org/acme-platform/payments-api/pull-requests/87",
		SourceBranch:      "feature/PAY-1423",
		DestinationBranch: "main",
		HeadSHA:           "e84cc64499f5",
	}
	with := func(action, raw, source string) providers.PullRequest {
		pr := base
		pr.Action, pr.RawAction, pr.SourceRepository = action, raw, source
		return pr
	}
	tests := []struct {
		file string
		want providers.PullRequest
	}{
		{"pr_created.json", with(providers.PROpened, "created", "")},
		{"pr_updated_fork.json", with(providers.PRUpdated, "updated", "jgoncalves/payments-api")},
		{"pr_fulfilled.json", with(providers.PRMerged, "fulfilled", "")},
		{"pr_rejected.json", with(providers.PRClosed, "rejected", "")},
		{"pr_approved.json", with(providers.PROther, "approved", "")},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			key := payloads[tt.file]
			ev, err := Webhooks{}.Parse(eventHeader(key), readPayload(t, tt.file))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			checkEnvelope(t, ev, providers.KindPullRequest, key, payments)
			if ev.PullRequest == nil || *ev.PullRequest != tt.want {
				t.Errorf("pull request:\n got %+v\nwant %+v", ev.PullRequest, tt.want)
			}
			if ev.Pushes != nil {
				t.Errorf("pushes = %+v, want none", ev.Pushes)
			}
		})
	}
}

func TestParseOther(t *testing.T) {
	tests := []struct {
		name string
		key  string
		body []byte
		kind providers.Kind
		repo providers.Repository
	}{
		{"data center ping", "diagnostics:ping", readPayload(t, "diagnostics_ping.json"), providers.KindPing, providers.Repository{}},
		{"fork", "repo:fork", readPayload(t, "repo_fork.json"), providers.KindOther, payments},
		{"unknown key, foreign shape", "issue:created", []byte(`{"ref": 5}`), providers.KindOther, providers.Repository{}},
		{"push without changes", "repo:push", []byte(`{"repository":{"full_name":"acme-platform/payments-api","links":{"html":{"href":"https://bitbucket.org/acme-platform/payments-api"}},"mainbranch":{"name":"main"}},"push":{"changes":[]}}`), providers.KindPush, payments},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Webhooks{}.Parse(eventHeader(tt.key), tt.body)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			checkEnvelope(t, ev, tt.kind, tt.key, tt.repo)
			if ev.Pushes != nil || ev.PullRequest != nil || ev.Installation != nil {
				t.Errorf("event carries routing fields: %+v", ev)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const repo = `"repository":{"full_name":"acme-platform/payments-api"}`
	branch := `{"type":"branch","name":"main","target":{"hash":"` + hashC3 + `"}}`
	tests := []struct {
		name string
		key  string
		body string
	}{
		{"truncated JSON", "repo:push", string(readPayload(t, "push_branch.json")[:4000])},
		{"empty body", "repo:push", ""},
		{"array", "repo:push", `[]`},
		{"string", "pullrequest:created", `"x"`},
		{"array for other event", "repo:fork", `[1, 2]`},
		{"foreign object for push", "repo:push", `{"ref": 5}`},
		{"foreign object for pull request", "pullrequest:created", `{"ref": 5}`},
		{"null", "repo:push", `null`},
		{"push without repository", "repo:push", `{"push":{"changes":[{"new":` + branch + `}]}}`},
		{"pull request without repository", "pullrequest:fulfilled", `{"pullrequest":{"id":7}}`},
		{"changes not a list", "repo:push", `{` + repo + `,"push":{"changes":"x"}}`},
		{"change without refs", "repo:push", `{` + repo + `,"push":{"changes":[{"created":true}]}}`},
		{"unknown ref type", "repo:push", `{` + repo + `,"push":{"changes":[{"new":{"type":"bookmark","name":"main"}}]}}`},
		{"ref without name", "repo:push", `{` + repo + `,"push":{"changes":[{"new":{"type":"branch","target":{"hash":"` + hashC3 + `"}}}]}}`},
		{"wrong flag type", "repo:push", `{` + repo + `,"push":{"changes":[{"new":` + branch + `,"truncated":"yes"}]}}`},
		{"number as string", "pullrequest:created", `{` + repo + `,"pullrequest":{"id":"87"}}`},
		{"number for object", "repo:push", `{"repository":31337}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Webhooks{}.Parse(eventHeader(tt.key), []byte(tt.body))
			if !errors.Is(err, providers.ErrMalformed) {
				t.Fatalf("Parse = %v, want ErrMalformed", err)
			}
			if strings.Contains(err.Error(), "31337") || strings.Contains(err.Error(), "bookmark") {
				t.Errorf("error %q quotes the body", err)
			}
		})
	}
	// A commit date decides nothing: one that cannot be read is zero.
	for _, date := range []string{`"yesterday"`, `1741943565`, `null`, `{}`} {
		body := `{` + repo + `,"push":{"changes":[{"new":{"type":"branch","name":"main","target":{"hash":"` + hashC3 + `","date":` + date + `}}}]}}`
		ev, err := Webhooks{}.Parse(eventHeader("repo:push"), []byte(body))
		if err != nil || len(ev.Pushes) != 1 || ev.Pushes[0].HeadCommit == nil {
			t.Fatalf("Parse(date %s) = %+v, %v", date, ev, err)
		}
		if readable := date == `1741943565`; readable == ev.Pushes[0].HeadCommit.Timestamp.IsZero() {
			t.Errorf("date %s read as %v", date, ev.Pushes[0].HeadCommit.Timestamp)
		}
	}
	// Members of other events decide nothing: an odd repository is left out.
	for _, body := range []string{`{"repository": 31337}`, `{"repository": {"full_name": 5}}`, `{"fork": [], "repository": {"links": "x"}}`} {
		ev, err := Webhooks{}.Parse(eventHeader("repo:fork"), []byte(body))
		if err != nil || ev.Kind != providers.KindOther || ev.Repository != (providers.Repository{}) {
			t.Errorf("Parse(repo:fork %s) = %+v, %v; want other without repository", body, ev, err)
		}
	}
	t.Run("no event key", func(t *testing.T) {
		h := eventHeader("")
		h.Del("X-Event-Key")
		if _, err := (Webhooks{}).Parse(h, readPayload(t, "push_branch.json")); !errors.Is(err, providers.ErrMalformed) {
			t.Fatalf("Parse = %v, want ErrMalformed", err)
		}
	})
}

func BenchmarkParsePush(b *testing.B) {
	for _, file := range []string{"push_branch_created.json", "push_branch.json"} {
		body := readPayload(b, file)
		h := eventHeader("repo:push")
		b.Run(file, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := (Webhooks{}).Parse(h, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
