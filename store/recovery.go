package store

import "time"

// SynthesizedDeliveryPrefix starts the delivery id of every push that
// recovery synthesised from a polled head (relay/recovery.SynthesizedID):
// the mark that tells them from webhooks.
const SynthesizedDeliveryPrefix = "forgelink-synthesized:"

// RecoveryHook is how far recovery of missed webhooks (relay/recovery)
// has read one hook's delivery log at the provider.
type RecoveryHook struct {
	Key string // "app:<host>:<app id>" or "repo:<connection>:<repository key>"
	// CheckedUntil: deliveries up to this time were compared with what
	// forgelink recorded (the start of the round that read them).
	CheckedUntil time.Time
	// Unrecoverable: the provider refused the log (403/404); the hook's
	// pipelines are polled instead. Reason says why, without secrets.
	Unrecoverable bool
	Reason        string
	UpdatedAt     time.Time
}

// Redelivery is forgelink's request that a provider deliver an event
// (GUID, the delivery id forgelink de-duplicates on) again.
type Redelivery struct {
	HookKey string
	GUID    string
	Count   int // redeliveries asked for so far
	At      time.Time
}

// RecoveryHead is the last head polling saw of one ref of a repository
// on a connection.
type RecoveryHead struct {
	ConnectionID string
	Repository   string // RepositoryKey form
	Ref          string // full ref: refs/heads/main, refs/tags/v1
	SHA          string
	CheckedAt    time.Time
}
