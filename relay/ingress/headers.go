package ingress

import (
	"encoding/json"
	"net/http"
)

// keptHeaders lists the request headers recorded with an event: what tells
// the event's kind, its delivery and its hook apart. Signatures and tokens
// are left out; X-Gitlab-Token is the secret itself.
var keptHeaderNames = []string{
	"Content-Type",
	"User-Agent",
	"X-GitHub-Event",
	"X-GitHub-Delivery",
	"X-GitHub-Hook-ID",
	"X-GitHub-Hook-Installation-Target-Type",
	"X-GitHub-Hook-Installation-Target-ID",
	"X-Gitlab-Event",
	"X-Gitlab-Event-UUID",
	"X-Gitlab-Webhook-UUID",
	"X-Gitlab-Instance",
	"Idempotency-Key",
	"X-Event-Key",
	"X-Request-UUID",
	"X-Hook-UUID",
	"X-Attempt-Number",
}

// keptHeaders encodes the kept headers present in h as a JSON object.
func keptHeaders(h http.Header) []byte {
	kept := make(map[string]string, len(keptHeaderNames))
	for _, name := range keptHeaderNames {
		if v := h.Get(name); v != "" {
			kept[name] = v
		}
	}
	out, _ := json.Marshal(kept) // a map of strings always encodes
	return out
}
