// Package bitbucket verifies and parses Bitbucket Cloud webhook deliveries.
//
// github.com/ktrysmt/go-bitbucket has no webhook payload types: its
// Repository and branch types hold links, owners and targets as
// map[string]interface{} for mapstructure, which would turn every delivery
// into a tree of maps to walk. Only its event-key constants fit; the
// payloads decode into the small structs in payload.go, once per delivery.
package bitbucket

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	bb "github.com/ktrysmt/go-bitbucket"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/store"
)

// Provider is the provider name Parse puts on events.
const Provider = store.ProviderBitbucket

const (
	headerEventKey  = "X-Event-Key"
	headerRequestID = "X-Request-UUID"
	// Bitbucket Cloud signs with SHA-256 under GitHub's legacy SHA-1
	// header name.
	headerSignature = "X-Hub-Signature"

	pullRequestPrefix = "pullrequest:"
	// diagnosticsPing is Bitbucket Data Center's "Test connection" event.
	// Bitbucket Cloud sends no ping; recognising Data Center's costs one
	// comparison and keeps a test delivery from being recorded as other.
	diagnosticsPing = "diagnostics:ping"
)

// Webhooks verifies and parses Bitbucket Cloud webhook deliveries. The zero
// value is ready to use.
type Webhooks struct{}

// Verify checks the X-Hub-Signature header, "sha256=" and the hex
// HMAC-SHA256 of the raw body, against each secret; any match succeeds, so
// secrets can overlap during rotation. Hooks without a secret send no
// header, which is ErrMissingSignature. Any other value, a "sha1=" one
// included, is ErrBadSignature: Bitbucket Cloud never sends SHA-1, so such
// a header did not come from a Bitbucket hook with our secret.
func (Webhooks) Verify(h http.Header, body []byte, secrets [][]byte) error {
	return providers.VerifySHA256(headerSignature, h.Get(headerSignature), body, secrets)
}

// DeliveryID returns the X-Request-UUID header, "" when absent. Atlassian
// documents it only as the request's UUID; whether retries (counted by
// X-Attempt-Number) keep it is not documented.
func (Webhooks) DeliveryID(h http.Header) string {
	return h.Get(headerRequestID)
}

// Parse normalises a verified delivery. The event kind comes from the
// X-Event-Key header. Pushes and pull requests are decoded once into the
// lean structs of payload.go, which hold only the members forgelink uses;
// any other event is recorded with its repository read leniently, so a
// member forgelink does not read never refuses a genuine delivery.
func (w Webhooks) Parse(h http.Header, body []byte) (providers.Event, error) {
	key := h.Get(headerEventKey)
	if key == "" {
		return providers.Event{}, fmt.Errorf("%w: no %s header", providers.ErrMalformed, headerEventKey)
	}
	ev := providers.Event{
		Provider:   Provider,
		DeliveryID: w.DeliveryID(h),
		Kind:       kindOf(key),
		RawKind:    key,
	}
	if ev.Kind != providers.KindPush && ev.Kind != providers.KindPullRequest {
		return parseOther(ev, body)
	}
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		return providers.Event{}, malformed(ev.Kind, providers.DescribeJSON(err).Error())
	}
	ev.Repository = p.Repository.normalise()
	if ev.Kind == providers.KindPush {
		return parsePush(ev, p)
	}
	return parsePullRequest(ev, p)
}

// parseOther reads the repository of an event forgelink records without
// routing. A repository of an odd shape is left out rather than refusing
// the delivery; a body that is no JSON object is still malformed.
func parseOther(ev providers.Event, body []byte) (providers.Event, error) {
	var p struct {
		Repository repository `json:"repository"`
	}
	err := json.Unmarshal(body, &p)
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typ) && typ.Field != "": // a member, not the body
		return ev, nil
	case err != nil:
		return providers.Event{}, malformed(ev.Kind, providers.DescribeJSON(err).Error())
	}
	ev.Repository = p.Repository.normalise()
	return ev, nil
}

func kindOf(key string) providers.Kind {
	switch {
	case key == bb.RepoPushEvent:
		return providers.KindPush
	case strings.HasPrefix(key, pullRequestPrefix):
		return providers.KindPullRequest
	case key == diagnosticsPing:
		return providers.KindPing
	}
	return providers.KindOther
}

func parsePush(ev providers.Event, p payload) (providers.Event, error) {
	if err := requireRepository(ev); err != nil {
		return providers.Event{}, err
	}
	if p.Push == nil {
		return providers.Event{}, malformed(ev.Kind, "no push object")
	}
	// An empty changes list is a real delivery (Bitbucket sends one when
	// nothing it reports changed); it yields an event without pushes.
	for i, c := range p.Push.Changes {
		push, err := c.normalise()
		if err != nil {
			return providers.Event{}, malformed(ev.Kind, fmt.Sprintf("change %d: %v", i, err))
		}
		ev.Pushes = append(ev.Pushes, push)
	}
	return ev, nil
}

func parsePullRequest(ev providers.Event, p payload) (providers.Event, error) {
	if err := requireRepository(ev); err != nil {
		return providers.Event{}, err
	}
	if p.PullRequest == nil {
		return providers.Event{}, malformed(ev.Kind, "no pullrequest object")
	}
	pr := p.PullRequest.normalise(ev.RawKind, ev.Repository.FullName)
	ev.PullRequest = &pr
	return ev, nil
}

// requireRepository rejects push and pull request events that name no
// repository: they cannot be routed.
func requireRepository(ev providers.Event) error {
	if ev.Repository.FullName == "" {
		return malformed(ev.Kind, "no repository full_name")
	}
	return nil
}

// prAction maps a pullrequest:* event key to the normalised action.
// pullrequest:updated also fires for title or description edits; Bitbucket
// does not say which, so it is treated as new commits.
func prAction(key string) string {
	switch key {
	case bb.PullRequestCreatedEvent:
		return providers.PROpened
	case bb.PullRequestUpdatedEvent:
		return providers.PRUpdated
	case bb.PullRequestMergedEvent:
		return providers.PRMerged
	case bb.PullRequestDeclinedEvent:
		return providers.PRClosed
	}
	return providers.PROther
}

func malformed(kind providers.Kind, reason string) error {
	return fmt.Errorf("parse %s: %w: %s", kind, providers.ErrMalformed, reason)
}
