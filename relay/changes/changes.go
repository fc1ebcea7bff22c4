// Package changes completes the changed-file lists that providers truncate
// in push webhooks. The delivery engine (relay/dispatch) asks it before a
// delivery whose pipeline matched only on a truncated list goes out; it
// asks the provider's compare API (providers/github, providers/gitlab,
// providers/bitbucket CompareFiles) with the connection's token, as the
// set-up service (relay/setup) vends it for any kind of credential.
package changes

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/notify"
	"github.com/forgelink/forgelink/store"
)

// Store is what the resolver needs from persistence.
type Store interface {
	GetConnection(ctx context.Context, id string) (store.Connection, error)
}

// Credentials vends what calls to a connection's provider need (the
// set-up service, relay/setup).
type Credentials interface {
	// Token returns a usable token for conn: an error wrapping
	// store.ErrNotFound when conn has no credential (yet).
	Token(ctx context.Context, conn store.Connection) (providers.Token, error)
	// API returns the API base URL of conn's provider.
	API(ctx context.Context, conn store.Connection) (string, error)
}

// CompareFunc lists the files a push from before to after changed in
// repository repo, through the provider API at apiBaseURL with tok: the
// providers' CompareFiles.
type CompareFunc func(ctx context.Context, client *http.Client, apiBaseURL string, tok providers.Token, repo, before, after string) (providers.ChangedFiles, error)

// PullRequestFunc lists the files pull request number of repository repo
// changes, through the provider API at apiBaseURL with tok: the
// providers' PullRequestFiles.
type PullRequestFunc func(ctx context.Context, client *http.Client, apiBaseURL string, tok providers.Token, repo string, number int) (providers.ChangedFiles, error)

// reasonRejected is the ERROR reason of a connection whose token the
// provider refused.
const reasonRejected = "the provider refused the connection's token (HTTP 401) when asked for changed files; " +
	"update its credential or set up the connection again"

// Options configure a Resolver.
type Options struct {
	Store       Store
	Credentials Credentials
	// Rejected is told of a connection whose token the provider refused
	// (setup.Service.Rejected puts it in ERROR). Optional.
	Rejected func(ctx context.Context, connID, reason string)
	// Compare maps a connection provider type (store.Provider*) to the
	// compare function of its provider package.
	Compare map[string]CompareFunc
	// PullRequestFiles maps a connection provider type to the pull request
	// files function of its provider package.
	PullRequestFiles map[string]PullRequestFunc
	// Client calls the providers. It should not follow redirects: one
	// could carry the token to another host.
	Client *http.Client
	Now    func() time.Time // time.Now if nil
}

// Resolver fetches complete changed-file lists (dispatch.Files). It keeps
// recent answers: the deliveries of one push to several pipelines ask for
// the same comparison, often at once, and ask the provider once.
type Resolver struct {
	opts Options

	mu      sync.Mutex
	entries map[cacheKey]*entry
	order   []cacheKey // oldest first
	paths   int        // paths held by finished entries
}

// Bounds of the cache of answers.
const (
	cacheEntries = 64
	cachePaths   = 20000
	cacheTTL     = 10 * time.Minute
)

type cacheKey struct{ conn, repo, before, after string }

// entry is an answer, or one being fetched until done is closed.
type entry struct {
	done  chan struct{}
	files providers.ChangedFiles
	err   error
	at    time.Time
}

// New returns a Resolver.
func New(opts Options) *Resolver {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Resolver{opts: opts, entries: map[cacheKey]*entry{}}
}

// ChangedFiles returns every file the push of m changed, asking the
// provider of d's connection. Errors follow dispatch.Files: no credential
// is store.ErrNotFound, a list that cannot be had providers.ErrNoFileList
// (a token the provider refuses included: it is told to Rejected), a
// provider that could not be asked providers.ErrProviderUnavailable.
//
// For a pull request (m.PullRequest), it returns the files the pull
// request changes, through the provider's pull request API.
func (r *Resolver) ChangedFiles(ctx context.Context, d store.Delivery, m *notify.Message) (providers.ChangedFiles, error) {
	if m.PullRequest != nil {
		return r.pullRequestFiles(ctx, d, m)
	}
	if m.Push == nil {
		return providers.ChangedFiles{}, fmt.Errorf("%w: not a push", providers.ErrNoFileList)
	}
	if err := providers.CheckCompare(m.Push.Before, m.Push.After); err != nil {
		return providers.ChangedFiles{}, err
	}
	k := cacheKey{d.ConnectionID, strings.ToLower(m.Repository.FullName), m.Push.Before, m.Push.After}
	before, after := m.Push.Before, m.Push.After
	return r.cached(ctx, k, func() (providers.ChangedFiles, error) {
		return r.fetch(ctx, d.ConnectionID, func(conn store.Connection) (askFunc, error) {
			compare, ok := r.opts.Compare[conn.ProviderType]
			if !ok {
				return nil, fmt.Errorf("%w: no compare API for provider type %q", providers.ErrNoFileList, conn.ProviderType)
			}
			return func(apiURL string, tok providers.Token) (providers.ChangedFiles, error) {
				return compare(ctx, r.opts.Client, apiURL, tok, m.Repository.FullName, before, after)
			}, nil
		})
	})
}

// pullRequestFiles returns the files of the pull request of m. Answers
// are kept per head commit; a pull request without one is asked each time.
func (r *Resolver) pullRequestFiles(ctx context.Context, d store.Delivery, m *notify.Message) (providers.ChangedFiles, error) {
	pr := m.PullRequest
	if pr.Number <= 0 {
		return providers.ChangedFiles{}, fmt.Errorf("%w: the pull request has no number", providers.ErrNoFileList)
	}
	get := func() (providers.ChangedFiles, error) {
		return r.fetch(ctx, d.ConnectionID, func(conn store.Connection) (askFunc, error) {
			list, ok := r.opts.PullRequestFiles[conn.ProviderType]
			if !ok {
				return nil, fmt.Errorf("%w: no pull request files API for provider type %q", providers.ErrNoFileList, conn.ProviderType)
			}
			return func(apiURL string, tok providers.Token) (providers.ChangedFiles, error) {
				return list(ctx, r.opts.Client, apiURL, tok, m.Repository.FullName, pr.Number)
			}, nil
		})
	}
	if pr.HeadSHA == "" {
		return get()
	}
	// "#n" cannot be a commit id: pushes and pull requests never share keys.
	k := cacheKey{d.ConnectionID, strings.ToLower(m.Repository.FullName), fmt.Sprintf("#%d", pr.Number), pr.HeadSHA}
	return r.cached(ctx, k, get)
}

// cached returns the answer of k, fetching it with get unless it is kept
// or being fetched.
func (r *Resolver) cached(ctx context.Context, k cacheKey, get func() (providers.ChangedFiles, error)) (providers.ChangedFiles, error) {
	e, fetch := r.lookup(k)
	if fetch {
		e.files, e.err = get()
		r.finish(k, e)
	}
	select {
	case <-e.done:
		return e.files, e.err
	case <-ctx.Done():
		return providers.ChangedFiles{}, fmt.Errorf("%w: %w", providers.ErrProviderUnavailable, ctx.Err())
	}
}

// lookup returns the entry of k; fetch: the caller fetches it and calls
// finish.
func (r *Resolver) lookup(k cacheKey) (e *entry, fetch bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.entries[k]; ok {
		select {
		case <-e.done:
			if r.opts.Now().Sub(e.at) < cacheTTL {
				return e, false
			}
			r.drop(k)
		default:
			return e, false // being fetched: wait for it
		}
	}
	e = &entry{done: make(chan struct{})}
	r.entries[k] = e
	return e, true
}

// finish publishes a fetched entry. Complete lists and lists that cannot
// be had are kept, within the cache's bounds; other failures (no
// credential yet, the provider unavailable) are not.
func (r *Resolver) finish(k cacheKey, e *entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.at = r.opts.Now()
	close(e.done)
	if e.err != nil && !errors.Is(e.err, providers.ErrNoFileList) {
		delete(r.entries, k)
		return
	}
	r.order = append(r.order, k)
	r.paths += e.files.Len()
	for len(r.order) > cacheEntries || r.paths > cachePaths {
		r.drop(r.order[0])
	}
}

// drop forgets k. r.mu held.
func (r *Resolver) drop(k cacheKey) {
	if e, ok := r.entries[k]; ok {
		r.paths -= e.files.Len()
		delete(r.entries, k)
	}
	if i := indexOf(r.order, k); i >= 0 {
		r.order = append(r.order[:i], r.order[i+1:]...)
	}
}

func indexOf(keys []cacheKey, k cacheKey) int {
	for i, x := range keys {
		if x == k {
			return i
		}
	}
	return -1
}

// askFunc asks a provider's API at apiURL with tok.
type askFunc func(apiURL string, tok providers.Token) (providers.ChangedFiles, error)

// fetch asks the provider of connection connID, through the function
// choose returns for its provider type.
func (r *Resolver) fetch(ctx context.Context, connID string, choose func(store.Connection) (askFunc, error)) (providers.ChangedFiles, error) {
	conn, err := r.opts.Store.GetConnection(ctx, connID)
	if err != nil {
		return providers.ChangedFiles{}, fmt.Errorf("connection %s: %w", connID, err)
	}
	ask, err := choose(conn)
	if err != nil {
		return providers.ChangedFiles{}, err
	}
	apiURL, err := r.opts.Credentials.API(ctx, conn)
	if err != nil {
		return providers.ChangedFiles{}, err
	}
	tok, err := r.opts.Credentials.Token(ctx, conn)
	if errors.Is(err, providers.ErrTokenRejected) {
		// Refused before the provider is asked (relay/setup puts the
		// connection in ERROR for a refused refresh): no list, and kept.
		return providers.ChangedFiles{}, fmt.Errorf("%w: %w", providers.ErrNoFileList, err)
	}
	if err != nil {
		return providers.ChangedFiles{}, err
	}
	files, err := ask(apiURL, tok)
	if errors.Is(err, providers.ErrTokenRejected) {
		return providers.ChangedFiles{}, r.rejected(ctx, connID, err)
	}
	return files, err
}

// rejected reports a token the provider refused, and returns err as a
// list that cannot be had: the delivery goes on without it.
func (r *Resolver) rejected(ctx context.Context, connID string, err error) error {
	if r.opts.Rejected != nil {
		r.opts.Rejected(ctx, connID, reasonRejected)
	}
	if errors.Is(err, providers.ErrNoFileList) {
		return err
	}
	return fmt.Errorf("%w: %w", providers.ErrNoFileList, err)
}
