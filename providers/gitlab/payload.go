package gitlab

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"
)

// The payload types below are the library's event types with a few fields
// replaced. encoding/json stops at the first error an UnmarshalJSON method
// returns, so one odd value in a field we never route on (a commit date,
// merge_params) would otherwise reject a valid delivery. Fields declared
// here shadow the embedded ones of the same JSON name.

// pushPayload is a Push Hook body.
type pushPayload struct {
	gitlab.PushEvent
	Commits []pushCommit `json:"commits"`
}

// tagPayload is a Tag Push Hook body.
type tagPayload struct {
	gitlab.TagEvent
	Commits []pushCommit `json:"commits"`
}

// asPush returns the fields a tag push shares with a branch push, so that
// both are normalised by one function. The two project types have the same
// fields.
func (t *tagPayload) asPush() *pushPayload {
	return &pushPayload{
		PushEvent: gitlab.PushEvent{
			Before:            t.Before,
			After:             t.After,
			Ref:               t.Ref,
			CheckoutSHA:       t.CheckoutSHA,
			Project:           gitlab.PushEventProject(t.Project),
			TotalCommitsCount: t.TotalCommitsCount,
		},
		Commits: t.Commits,
	}
}

// pushCommit is one commit of a push or tag push.
type pushCommit struct {
	gitlab.PushEventCommit
	Timestamp timestamp `json:"timestamp"`
}

// mergePayload is a Merge Request Hook body. Its project is decoded with
// the push project type (the same fields bar ci_config_path) so that one
// function maps the project of every hook.
type mergePayload struct {
	gitlab.MergeEvent
	Project          gitlab.PushEventProject `json:"project"`
	ObjectAttributes mergeAttributes         `json:"object_attributes"`
}

// mergeAttributes is a merge request's object_attributes.
type mergeAttributes struct {
	gitlab.MergeEventObjectAttributes
	LastCommit lastCommit `json:"last_commit"`
	// The library parses force_remove_source_branch strings with
	// strconv.ParseBool, which rejects "" and the like.
	MergeParams ignored `json:"merge_params"`
	// Long-removed commit list whose dates are *time.Time.
	StCommits ignored `json:"st_commits"`
}

type lastCommit struct {
	gitlab.EventMergeRequestLastCommit
	Timestamp timestamp `json:"timestamp"`
}

// otherPayload is what forgelink reads of any other hook: the project
// object, which has the push project's fields wherever it appears.
type otherPayload struct {
	Project gitlab.PushEventProject `json:"project"`
}

// timeLayouts are the date forms seen in GitLab payloads: RFC 3339 in most,
// and Rails' default form ("2024-01-24 16:27:40 UTC") in others.
var timeLayouts = [...]string{
	time.RFC3339,
	"2006-01-02 15:04:05 UTC",
	"2006-01-02 15:04:05 -0700",
}

// timestamp is a commit date. A value in none of timeLayouts decodes to the
// zero time instead of failing: no routing decision depends on it.
type timestamp time.Time

func (t *timestamp) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return nil // null, or not a string
	}
	s := string(b[1 : len(b)-1])
	for _, layout := range timeLayouts {
		if v, err := time.Parse(layout, s); err == nil {
			*t = timestamp(v)
			return nil
		}
	}
	return nil
}

// ignored skips a JSON value of any type.
type ignored struct{}

func (*ignored) UnmarshalJSON([]byte) error { return nil }

// decode unmarshals body into v; see describe for its errors.
func decode(body []byte, v any) error {
	return describe(json.Unmarshal(body, v))
}

// describe rewords encoding/json errors, whose messages may quote the body
// ("invalid character 'x'", "cannot unmarshal number 5"), into ones that
// name only an offset or a field.
func describe(err error) error {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &syntaxErr):
		return fmt.Errorf("invalid JSON at offset %d", syntaxErr.Offset)
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return errors.New("not a JSON object")
	case errors.As(err, &typeErr):
		return fmt.Errorf("wrong type for %s", typeErr.Field)
	}
	return err
}
