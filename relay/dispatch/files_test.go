package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/notify"
	"github.com/forgelink/forgelink/relay/route"
	"github.com/forgelink/forgelink/store"
)

// fakeFiles is a Files that answers with script (call counts from 0) and
// records the deliveries it was asked about.
type fakeFiles struct {
	script func(call int) (providers.ChangedFiles, error)

	mu    sync.Mutex
	asked []string // delivery ids
}

func (f *fakeFiles) ChangedFiles(_ context.Context, d store.Delivery, m *notify.Message) (providers.ChangedFiles, error) {
	f.mu.Lock()
	n := len(f.asked)
	f.asked = append(f.asked, d.ID)
	f.mu.Unlock()
	if m.Push == nil && m.PullRequest == nil || !m.FilesIncomplete {
		return providers.ChangedFiles{}, fmt.Errorf("asked about a message with a complete list: %+v", m)
	}
	return f.script(n)
}

func (f *fakeFiles) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.asked)
}

// answer scripts the first calls; later calls repeat the last answer.
func answer(answers ...func() (providers.ChangedFiles, error)) func(int) (providers.ChangedFiles, error) {
	return func(call int) (providers.ChangedFiles, error) {
		return answers[min(call, len(answers)-1)]()
	}
}

func listing(added ...string) func() (providers.ChangedFiles, error) {
	return func() (providers.ChangedFiles, error) { return providers.ChangedFiles{Added: added}, nil }
}

func failing(err error) func() (providers.ChangedFiles, error) {
	return func() (providers.ChangedFiles, error) { return providers.ChangedFiles{}, err }
}

var (
	errUnavailable  = fmt.Errorf("github compare: %w: HTTP 502 Bad Gateway", providers.ErrProviderUnavailable)
	errNoCredential = fmt.Errorf("get credential: %w", store.ErrNotFound)
)

// docsPipeline is pipe p triggered by pushes to main that change docs/**,
// on v's connection.
func (v *env) docsPipeline(p pipe) config.Pipeline {
	return config.Pipeline{
		Name: p.name, ConnectionArn: "arn:aws:codeconnections:us-east-1:123456789012:connection/" + v.conn,
		Repository: "octo/api", ExecutionMode: p.mode, Target: p.target,
		Triggers: config.Triggers{Push: []config.PushFilter{{
			Branches:  &config.Criteria{Includes: []string{"main"}},
			FilePaths: &config.Criteria{Includes: []string{"docs/**"}},
		}}},
	}
}

// router returns a Router func for pipelines.
func router(t *testing.T, pipelines ...config.Pipeline) func() *route.Router {
	t.Helper()
	r, err := route.New(pipelines)
	if err != nil {
		t.Fatal(err)
	}
	return func() *route.Router { return r }
}

// truncatedPush records a push to main whose payload lists src/main.go
// but was cut short, routed by the router of cfg as the ingress routes
// it, and returns its one delivery.
func (v *env) truncatedPush(cfg config.Pipeline) store.Delivery {
	v.t.Helper()
	ev := pushEvent("main")
	ev.Pushes[0].Files = providers.ChangedFiles{Modified: []string{"src/main.go"}}
	ev.Pushes[0].FilesIncomplete, ev.Pushes[0].CommitsTruncated = true, true
	matches := router(v.t, cfg)().Route(v.conn, ev)
	if len(matches) != 1 || !matches[0].FilesIncomplete {
		v.t.Fatalf("routing the truncated push = %+v; want one match on incomplete files", matches)
	}
	id := uuid.Must(uuid.NewV7()).String()
	at := time.Now()
	ds := Plan(Recorded{EventID: id, ConnectionID: v.conn, ConnectionARN: cfg.ConnectionArn, ReceivedAt: at, Event: ev}, matches)
	v.record(ev, id, at, false, ds)
	return ds[0]
}

func TestFilesCompletedMatch(t *testing.T) {
	v := newEnv(t)
	cfg := v.docsPipeline(build)
	d := v.truncatedPush(cfg)
	files := &fakeFiles{script: answer(listing("docs/guide.md", "src/new.go"))}
	f := &fake{}
	run(t, v.engine(Options{Files: files, Router: router(t, cfg)}, target("ci", f, 1)), time.Second)

	got, attempts := v.waitState(d.ID, store.DeliverySucceeded)
	ms := f.messages()
	if len(ms) != 1 {
		t.Fatalf("notifier got %d messages, want 1", len(ms))
	}
	m := ms[0]
	if m.FilesIncomplete || m.Push == nil || m.Push.FilesIncomplete ||
		!slices.Equal(m.Push.Files.Added, []string{"docs/guide.md", "src/new.go"}) || len(m.Push.Files.Modified) != 0 {
		t.Errorf("message files %+v, incomplete %v; want the complete list", m.Push, m.FilesIncomplete)
	}
	if m.Attempt != 1 || m.Push.After != messageOf(t, d).Push.After {
		t.Errorf("message = %+v; want attempt 1 of the push", m)
	}
	if o := outcomes(attempts); !slices.Equal(o, []string{"succeeded"}) {
		t.Errorf("outcomes = %v, want [succeeded]", o)
	}
	// The completed list is recorded with the delivery.
	if got.FilesIncomplete {
		t.Error("the delivery is still files-incomplete")
	}
	stored := messageOf(t, got)
	if stored.FilesIncomplete || stored.Attempt != 0 || !slices.Equal(stored.Push.Files.Added, m.Push.Files.Added) {
		t.Errorf("stored message %+v; want the completed list, without an attempt number", stored)
	}
	if n := files.calls(); n != 1 {
		t.Errorf("Files asked %d times, want 1", n)
	}
}

func TestFilesCompletedNoMatch(t *testing.T) {
	v := newEnv(t)
	cfg := v.docsPipeline(build)
	d := v.truncatedPush(cfg)
	files := &fakeFiles{script: answer(listing("src/a.go", "src/b.go", "README.md"))}
	f := &fake{}
	run(t, v.engine(Options{Files: files, Router: router(t, cfg)}, target("ci", f, 1)), time.Second)

	got, attempts := v.waitState(d.ID, store.DeliveryFiltered)
	if n := f.calls(); n != 0 {
		t.Errorf("notifier called %d times, want never", n)
	}
	const reason = "no changed file matched filePaths (full list of 3 files from the compare API)"
	if len(attempts) != 1 || attempts[0].Outcome != "filtered" || attempts[0].Error != reason || attempts[0].N != 1 {
		t.Errorf("attempts = %+v; want one, filtered: %s", attempts, reason)
	}
	if got.LastError != reason || got.FilesIncomplete {
		t.Errorf("delivery = %+v; want last error %q, files complete", got, reason)
	}

	// An operator who redelivers it gets the complete list delivered,
	// without another look at the provider.
	if err := v.st.Redeliver(t.Context(), d.ID); err != nil {
		t.Fatal(err)
	}
	v.waitState(d.ID, store.DeliverySucceeded)
	ms := f.messages()
	if len(ms) != 1 || ms[0].FilesIncomplete || len(ms[0].Push.Files.Added) != 3 {
		t.Errorf("redelivered messages %+v; want one with the complete list", ms)
	}
	if n := files.calls(); n != 1 {
		t.Errorf("Files asked %d times, want 1", n)
	}
}

func TestFilesCannotComplete(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"no credential", errNoCredential},
		{"too many files", fmt.Errorf("github: %w: 300 files", providers.ErrNoFileList)},
		{"created branch", providers.CheckCompare(providers.ZeroSHA, "2222222222222222222222222222222222222222")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t)
			cfg := v.docsPipeline(build)
			d := v.truncatedPush(cfg)
			files := &fakeFiles{script: answer(failing(tc.err))}
			f := &fake{}
			run(t, v.engine(Options{Files: files, Router: router(t, cfg)}, target("ci", f, 1)), time.Second)

			got, attempts := v.waitState(d.ID, store.DeliverySucceeded)
			ms := f.messages()
			if len(ms) != 1 || !ms[0].FilesIncomplete || !ms[0].Push.FilesIncomplete ||
				!slices.Equal(ms[0].Push.Files.Modified, []string{"src/main.go"}) {
				t.Fatalf("messages %+v; want one with the payload's incomplete list", ms)
			}
			if o := outcomes(attempts); !slices.Equal(o, []string{"succeeded"}) || !got.FilesIncomplete {
				t.Errorf("outcomes %v, files incomplete %v; want [succeeded], still incomplete", o, got.FilesIncomplete)
			}
		})
	}
}

func TestFilesProviderUnavailable(t *testing.T) {
	v := newEnv(t)
	cfg := v.docsPipeline(build)
	d := v.truncatedPush(cfg)
	files := &fakeFiles{script: answer(failing(errUnavailable), failing(context.DeadlineExceeded), listing("docs/a.md"))}
	f := &fake{}
	tg := target("ci", f, 1)
	// Were the provider's failures the target's, the breaker would hold the
	// delivery for an hour.
	tg.Breaker = Breaker{FailureThreshold: 1, Cooldown: time.Hour}
	run(t, v.engine(Options{Files: files, Router: router(t, cfg)}, tg), time.Second)

	got, attempts := v.waitState(d.ID, store.DeliverySucceeded)
	if o := outcomes(attempts); !slices.Equal(o, []string{"retry", "retry", "succeeded"}) {
		t.Fatalf("outcomes = %v, want [retry retry succeeded]", o)
	}
	if a := attempts[0]; a.Error != "list the changed files: "+errUnavailable.Error() {
		t.Errorf("first attempt error %q; want the provider's", a.Error)
	}
	ms := f.messages()
	if len(ms) != 1 || ms[0].Attempt != 3 || ms[0].FilesIncomplete {
		t.Errorf("notifier got %+v; want attempt 3 only, files complete", ms)
	}
	if got.Attempts != 3 || got.FilesIncomplete {
		t.Errorf("delivery = %+v; want 3 attempts, files complete", got)
	}
}

// TestFilesUnavailableToTheLast checks that a provider that cannot be
// asked does not cost the build, nor delay it for long: after
// FilesAttempts attempts, or at the target's last, the delivery goes out
// with the files incomplete.
func TestFilesUnavailableToTheLast(t *testing.T) {
	for _, tc := range []struct {
		name                       string
		maxAttempts, filesAttempts int
		want                       int // the attempt that delivers
	}{
		{"default files attempts", 100, 0, DefaultFilesAttempts},
		{"files attempts", 100, 2, 2},
		{"the target's last attempt", 2, 5, 2},
		{"the target's only attempt", 1, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t)
			cfg := v.docsPipeline(build)
			d := v.truncatedPush(cfg)
			files := &fakeFiles{script: answer(failing(errUnavailable))}
			f := &fake{}
			tg := target("ci", f, 1)
			tg.Retry.MaxAttempts = tc.maxAttempts
			run(t, v.engine(Options{Files: files, Router: router(t, cfg), FilesAttempts: tc.filesAttempts}, tg), time.Second)

			_, attempts := v.waitState(d.ID, store.DeliverySucceeded)
			want := append(slices.Repeat([]string{"retry"}, tc.want-1), "succeeded")
			if o := outcomes(attempts); !slices.Equal(o, want) {
				t.Fatalf("outcomes = %v, want %v", o, want)
			}
			if ms := f.messages(); len(ms) != 1 || !ms[0].FilesIncomplete || ms[0].Attempt != tc.want {
				t.Errorf("notifier got %+v; want attempt %d, files incomplete", ms, tc.want)
			}
			if n := files.calls(); n != tc.want {
				t.Errorf("Files asked %d times, want %d", n, tc.want)
			}
		})
	}
}

func TestFilesPipelineGone(t *testing.T) {
	v := newEnv(t)
	cfg := v.docsPipeline(build)
	d := v.truncatedPush(cfg)
	renamed := cfg
	renamed.Name = "build-v2"
	files := &fakeFiles{script: answer(listing("src/a.go"))}
	f := &fake{}
	run(t, v.engine(Options{Files: files, Router: router(t, renamed)}, target("ci", f, 1)), time.Second)

	v.waitState(d.ID, store.DeliverySucceeded)
	if ms := f.messages(); len(ms) != 1 || !ms[0].FilesIncomplete {
		t.Errorf("notifier got %+v; want the message as it was", ms)
	}
}

// TestFilesOnlyWhenIncomplete checks that deliveries that did not rely on
// an incomplete list never wait for the provider.
func TestFilesOnlyWhenIncomplete(t *testing.T) {
	v := newEnv(t)
	files := &fakeFiles{script: answer(failing(errUnavailable))}
	f := &fake{}
	d := v.push(build, "main")
	run(t, v.engine(Options{Files: files, Router: router(t, v.docsPipeline(build))}, target("ci", f, 1)), time.Second)

	v.waitState(d.ID, store.DeliverySucceeded)
	if n := files.calls(); n != 0 {
		t.Errorf("Files asked %d times, want never", n)
	}
}

// TestFilesLease checks that a claimed delivery's lease (a shared
// store's) leaves room for the ChangedFiles call.
func TestFilesLease(t *testing.T) {
	v := newEnv(t)
	cfg := v.docsPipeline(build)
	d := v.truncatedPush(cfg)
	release := make(chan struct{})
	defer close(release)
	files := &fakeFiles{script: answer(listing("docs/a.md"))}
	f := &fake{script: func(ctx context.Context, _ *notify.Message, _ int) notify.Result { return hold(ctx, release) }}
	run(t, v.engine(Options{Source: NewClaimer(v.st), Files: files, Router: router(t, cfg), FilesTimeout: 7 * time.Second}, target("ci", f, 1)), time.Second)

	waitFor(t, "the attempt to start", func() bool { return f.inFlight() == 1 })
	got, _ := v.get(d.ID)
	// The target's lease is a minute.
	if lease := got.LeaseUntil.Sub(got.UpdatedAt); lease < time.Minute+7*time.Second-time.Second {
		t.Errorf("leased for about %v, want a minute and 7 s", lease)
	}
}

// messageOf decodes a delivery's stored message.
func messageOf(t *testing.T, d store.Delivery) notify.Message {
	t.Helper()
	var m notify.Message
	if err := json.Unmarshal(d.Message, &m); err != nil {
		t.Fatalf("stored message: %v", err)
	}
	return m
}
