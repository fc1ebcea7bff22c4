package github

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/forgelink/forgelink/providers"
)

// Every example payload GitHub documents parses, to the kind forgelink
// gives its event; the odd shapes go-github refused among them.
func TestParseDocumentedExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "examples", "*.json"))
	if err != nil || len(files) < 150 {
		t.Fatalf("examples: %d files, %v", len(files), err)
	}
	kinds := map[string]providers.Kind{
		"push": providers.KindPush, "pull_request": providers.KindPullRequest, "ping": providers.KindPing,
		"installation": providers.KindInstallation, "installation_repositories": providers.KindInstallation,
	}
	for _, f := range files {
		name := filepath.Base(f)
		event, _, _ := strings.Cut(name, ".")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := Webhooks{}.Parse(headers(event), body)
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			want := kinds[event]
			if want == "" {
				want = providers.KindOther
			}
			if ev.Kind != want || ev.RawKind != event {
				t.Errorf("Kind, RawKind = %s, %s; want %s, %s", ev.Kind, ev.RawKind, want, event)
			}
			switch want {
			case providers.KindPush:
				if len(ev.Pushes) != 1 || ev.Pushes[0].Ref == "" || ev.Repository.FullName == "" {
					t.Errorf("push without ref or repository: %+v", ev)
				}
			case providers.KindPullRequest:
				if pr := ev.PullRequest; pr == nil || pr.Number == 0 || pr.HeadSHA == "" || pr.DestinationBranch == "" {
					t.Errorf("pull request without number, head or base: %+v", pr)
				}
			case providers.KindInstallation:
				if ev.Installation == nil || ev.Installation.ID == 0 {
					t.Errorf("installation without id: %+v", ev.Installation)
				}
			}
		})
	}
}
