package setup

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/store"
)

// StateTTL is how long a set-up link (and the state it carries through the
// provider) stays valid.
const StateTTL = 10 * time.Minute

// What a state is for.
const (
	purposeConnection = "connection" // complete a connection (App install, OAuth)
	purposeHost       = "host"       // set up a host (manifest, OAuth application)
	purposeGitHubApp  = "github-app" // register forgelink's App on github.com
)

// maxState bounds an encoded state before anything is decoded; real ones
// are a few hundred bytes.
const maxState = 2048

// stateAD binds sealed states to their use: no other sealed value (a
// token sealed under a connection id) opens as a state.
var stateAD = []byte("forgelink/setup/state/v1")

// state travels through the browser and the provider as the OAuth/GitHub
// "state" parameter, sealed by the keyring: signed (a forged one does not
// open) and confidential (the PKCE verifier inside stays secret).
type state struct {
	Purpose  string `json:"p"`
	Resource string `json:"r"`           // connection id, host id, or the new App's record id
	Nonce    string `json:"n"`           // single use: consumed by the callback
	Expires  int64  `json:"x"`           // unix seconds
	Verifier string `json:"v,omitempty"` // PKCE code verifier
	Org      string `json:"o,omitempty"` // github.com App registration under an organization
	// Creator is the access key that made the link (policy.CallerOf);
	// empty on a daemon without access keys. The set-up completes only
	// if that key may complete it.
	Creator string `json:"c,omitempty"`
}

// errState is a state that is not valid: forged, damaged, expired, for
// another step, or already used. Its message is for the operator.
type errState struct{ msg string }

func (e *errState) Error() string { return e.msg }

var (
	errForged   = &errState{"this set-up link is not valid: it was altered, cut short, or made by another forgelink"}
	errExpired  = &errState{"this set-up link has expired (links are valid for 10 minutes)"}
	errReplayed = &errState{"this set-up link was already used"}
)

// newLink records a fresh nonce and returns the set-up link carrying st.
func (s *Service) newLink(ctx context.Context, st state) (string, error) {
	expires := s.opts.Now().Add(StateTTL)
	st.Nonce = rand.Text()
	st.Expires = expires.Unix()
	st.Creator, _ = policy.CallerOf(ctx)
	if err := s.opts.Store.CreateNonce(ctx, st.Nonce, st.Purpose, expires); err != nil {
		return "", fmt.Errorf("set-up link: %w", err)
	}
	return s.url("/setup/start?state=" + url.QueryEscape(s.sealState(st))), nil
}

func (s *Service) sealState(st state) string {
	plain, _ := json.Marshal(st) // plain strings and numbers: cannot fail
	return base64.RawURLEncoding.EncodeToString(s.opts.Keyring.Seal(plain, stateAD))
}

// openState decodes and opens a state and checks it is for one of
// purposes and unexpired. It does not consume the nonce.
func (s *Service) openState(raw string, purposes ...string) (state, error) {
	st, err := decodeState(s.opts.Keyring, raw)
	if err != nil {
		return state{}, errForged
	}
	for _, p := range purposes {
		if st.Purpose == p {
			if !s.opts.Now().Before(time.Unix(st.Expires, 0)) {
				return state{}, errExpired
			}
			return st, nil
		}
	}
	return state{}, &errState{"this set-up link is for another step of the set-up"}
}

// consume spends the state's nonce: a second callback with it fails.
func (s *Service) consume(ctx context.Context, st state) error {
	return s.consumeNonce(ctx, st.Nonce, st.Purpose)
}

func (s *Service) consumeNonce(ctx context.Context, nonce, purpose string) error {
	err := s.opts.Store.ConsumeNonce(ctx, nonce, purpose, s.opts.Now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errReplayed
	case err != nil:
		return fmt.Errorf("consume set-up state: %w", err)
	}
	return nil
}

// decodeState opens an encoded state. Every failure is the same to the
// caller: the state is not one forgelink made.
func decodeState(k Keyring, raw string) (state, error) {
	if raw == "" || len(raw) > maxState {
		return state{}, errors.New("state missing or too long")
	}
	sealed, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return state{}, fmt.Errorf("state encoding: %w", err)
	}
	plain, err := k.Open(sealed, stateAD)
	if err != nil {
		return state{}, err
	}
	return parseState(plain)
}

// parseState decodes an opened state and checks its shape.
func parseState(plain []byte) (state, error) {
	var st state
	if err := json.Unmarshal(plain, &st); err != nil {
		return state{}, fmt.Errorf("state payload: %w", err)
	}
	switch {
	case st.Purpose != purposeConnection && st.Purpose != purposeHost && st.Purpose != purposeGitHubApp:
		return state{}, fmt.Errorf("state purpose %q", st.Purpose)
	case st.Resource == "" || st.Nonce == "" || st.Expires <= 0:
		return state{}, errors.New("state incomplete")
	}
	return st, nil
}

// stateParam is the state of a request: a query parameter, or a form
// field for the forms forgelink serves.
func stateParam(r *http.Request) string {
	if r.Method == http.MethodPost {
		return r.PostFormValue("state")
	}
	return r.URL.Query().Get("state")
}
