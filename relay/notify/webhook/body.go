package webhook

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/relay/notify"
)

// Body formats (config.HTTPTarget.Format).
const (
	formatForgelink             = "forgelink"
	formatCloudEventsBinary     = "cloudevents-binary"
	formatCloudEventsStructured = "cloudevents-structured"
)

const (
	contentTypeJSON = "application/json"
	// eventTypePrefix and the message kind make the CloudEvent type:
	// dev.forgelink.push, dev.forgelink.pull_request.
	eventTypePrefix = "dev.forgelink."
	// extProviderDeliveryID is the CloudEvents extension attribute with
	// the provider's delivery id (extension names are lowercase letters
	// and digits): ce-providerdeliveryid in binary mode.
	extProviderDeliveryID = "providerdeliveryid"
)

// payload is one attempt's body and the headers that describe it:
// Content-Type and, for binary CloudEvents, the ce- attributes.
type payload struct {
	header http.Header
	body   []byte
}

// encoder turns a message into a payload. Its errors are the message's:
// another attempt would fail the same way.
type encoder func(ctx context.Context, m *notify.Message) (payload, error)

func newEncoder(cfg config.HTTPTarget) (encoder, error) {
	if cfg.BodyTemplate != "" {
		if cfg.Format != "" && cfg.Format != formatForgelink {
			return nil, fmt.Errorf("a body template replaces the %s format; use one or the other", cfg.Format)
		}
		return templateEncoder(cfg.BodyTemplate, cmp.Or(cfg.ContentType, contentTypeJSON))
	}
	switch cfg.Format {
	case "", formatForgelink:
		return encodeForgelink, nil
	case formatCloudEventsBinary:
		return cloudEventEncoder(binding.WithForceBinary), nil
	case formatCloudEventsStructured:
		return cloudEventEncoder(binding.WithForceStructured), nil
	}
	return nil, fmt.Errorf("format %q: want forgelink, cloudevents-binary or cloudevents-structured", cfg.Format)
}

func encodeForgelink(_ context.Context, m *notify.Message) (payload, error) {
	return payload{header: http.Header{"Content-Type": {contentTypeJSON}}, body: m.JSON()}, nil
}

// templateEncoder compiles the body template once. It runs over the
// message itself, so {{.Variables.CommitId}} and {{.Push.RefName}} work;
// a missing variable is an error, and {{index .Variables "TagName"}} is
// the way to ask for one that may be absent.
func templateEncoder(text, contentType string) (encoder, error) {
	t, err := notify.ParseTemplate(text)
	if err != nil {
		return nil, fmt.Errorf("body template: %w", err)
	}
	return func(_ context.Context, m *notify.Message) (payload, error) {
		var b bytes.Buffer
		if err := t.Execute(&b, m); err != nil {
			return payload{}, err
		}
		return payload{header: http.Header{"Content-Type": {contentType}}, body: b.Bytes()}, nil
	}, nil
}

// cloudEventEncoder encodes with the SDK's HTTP binding in the mode that
// withMode forces.
func cloudEventEncoder(withMode func(context.Context) context.Context) encoder {
	return func(ctx context.Context, m *notify.Message) (payload, error) {
		e, err := cloudEvent(m)
		if err != nil {
			return payload{}, err
		}
		// This request only collects what the binding writes: the body
		// must be known to be signed, and the real request is the
		// notifier's to build.
		r := &http.Request{Header: http.Header{}}
		if err := cehttp.WriteRequest(withMode(ctx), binding.ToMessage(&e), r); err != nil {
			return payload{}, fmt.Errorf("cloudevent: %w", err)
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return payload{}, fmt.Errorf("cloudevent: %w", err)
		}
		return payload{header: r.Header, body: body}, nil
	}
}

// cloudEvent is the message as a CloudEvents 1.0 event: the delivery id is
// unique per source, the source names the connection's repository, the
// providerdeliveryid extension carries the provider's delivery id, and
// the data is the message's forgelink JSON.
func cloudEvent(m *notify.Message) (event.Event, error) {
	e := event.New(event.CloudEventsVersionV1)
	e.SetID(m.DeliveryID)
	// An ARN is an absolute URI ("arn:" scheme), so this stays a valid
	// URI-reference.
	e.SetSource(m.ConnectionARN + "/" + m.Repository.FullName)
	e.SetType(eventTypePrefix + string(m.Kind))
	if s := subject(m); s != "" {
		e.SetSubject(s)
	}
	e.SetTime(m.CreatedAt)
	if m.ProviderDeliveryID != "" {
		e.SetExtension(extProviderDeliveryID, m.ProviderDeliveryID)
	}
	// json.RawMessage, unlike []byte, is kept as JSON data rather than
	// data_base64 in structured mode.
	if err := e.SetData(event.ApplicationJSON, json.RawMessage(m.JSON())); err != nil {
		return e, fmt.Errorf("cloudevent data: %w", err)
	}
	if err := e.Validate(); err != nil {
		return e, fmt.Errorf("cloudevent: %w", err)
	}
	return e, nil
}

// subject is what the event is about within the repository: the ref name
// of a push, pull/<number> of a pull request.
func subject(m *notify.Message) string {
	switch {
	case m.Push != nil:
		return m.Push.RefName
	case m.PullRequest != nil:
		return "pull/" + strconv.Itoa(m.PullRequest.Number)
	}
	return ""
}
