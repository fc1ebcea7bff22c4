package changes

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/notify"
	"github.com/forgelink/forgelink/store"
)

// prCall is one PullRequestFunc call.
type prCall struct {
	apiURL string
	tok    providers.Token
	repo   string
	number int
}

// fakePullRequests records its calls.
type fakePullRequests struct {
	mu    sync.Mutex
	calls []prCall
}

func (f *fakePullRequests) list(_ context.Context, _ *http.Client, apiURL string, tok providers.Token, repo string, number int) (providers.ChangedFiles, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, prCall{apiURL, tok, repo, number})
	return providers.ChangedFiles{Modified: []string{"api/pr.go"}}, nil
}

func prMessage(conn, head string, number int) (store.Delivery, *notify.Message) {
	return store.Delivery{ID: "d-" + conn, ConnectionID: conn, Pipeline: "build"},
		&notify.Message{
			Repository:      providers.Repository{FullName: "Octo/API"},
			PullRequest:     &providers.PullRequest{Action: providers.PROpened, Number: number, SourceBranch: "f", DestinationBranch: "main", HeadSHA: head},
			FilesIncomplete: true,
		}
}

func TestPullRequestFiles(t *testing.T) {
	f := newFixture(t)
	prs := &fakePullRequests{}
	f.opts.PullRequestFiles = map[string]PullRequestFunc{store.ProviderGitHub: prs.list, store.ProviderGitHubEnterpriseServer: prs.list}
	r := New(f.opts)

	// Asked once per head commit, by number, never through compare.
	for range 2 {
		d, m := prMessage("gh", after, 7)
		files, err := r.ChangedFiles(t.Context(), d, m)
		if err != nil || !slices.Equal(files.Modified, []string{"api/pr.go"}) {
			t.Fatalf("ChangedFiles = %+v, %v", files, err)
		}
	}
	d, m := prMessage("ghes", "", 7) // no head commit: not kept
	for range 2 {
		if _, err := r.ChangedFiles(t.Context(), d, m); err != nil {
			t.Fatal(err)
		}
	}
	pat := providers.Token{Value: token}
	want := []prCall{
		{"https://github.test/api/", pat, "Octo/API", 7},
		{"https://ghes.example.com/api/v3/", pat, "Octo/API", 7},
		{"https://ghes.example.com/api/v3/", pat, "Octo/API", 7},
	}
	if !slices.Equal(prs.calls, want) {
		t.Errorf("pull request calls %+v, want %+v", prs.calls, want)
	}
	if got := f.compare.made(); len(got) != 0 {
		t.Errorf("compare calls %+v, want none", got)
	}

	// No number, or no pull request API for the provider: no list.
	for _, tc := range []struct {
		conn   string
		number int
	}{{"gh", 0}, {"bb", 7}} {
		d, m := prMessage(tc.conn, after, tc.number)
		if _, err := r.ChangedFiles(t.Context(), d, m); !errors.Is(err, providers.ErrNoFileList) {
			t.Errorf("ChangedFiles(%s, #%d) = %v, want ErrNoFileList", tc.conn, tc.number, err)
		}
	}
}
