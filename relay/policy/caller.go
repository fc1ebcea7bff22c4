package policy

import "context"

type callerKey struct{}

// WithCaller returns a context that carries the access key id a request
// was authenticated as. Whatever acts later on the request's behalf (a
// set-up link, a console link) reads it with CallerOf and is bound to that
// key's permissions, never to more.
func WithCaller(ctx context.Context, accessKeyID string) context.Context {
	return context.WithValue(ctx, callerKey{}, accessKeyID)
}

// CallerOf returns the access key id WithCaller stored; ok is false when
// the request was not authenticated (a loopback daemon without root
// credentials).
func CallerOf(ctx context.Context) (accessKeyID string, ok bool) {
	accessKeyID, ok = ctx.Value(callerKey{}).(string)
	return accessKeyID, ok
}
