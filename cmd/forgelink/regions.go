package main

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/relay/controlplane"
	"github.com/forgelink/forgelink/store"
)

// connectionReader is what connectionARNs needs from the store.
type connectionReader interface {
	GetConnection(ctx context.Context, id string) (store.Connection, error)
}

// arnLookupTimeout bounds the one store read per connection of
// connectionARNs.
const arnLookupTimeout = 5 * time.Second

// connectionARNs names connections by id for logs and deliveries: each
// its own ARN, in its home region and with the service prefix it was
// created with. Neither ever changes, so each connection is read once. A
// connection that cannot be read is named in the codeconnections form of
// the default region, as before regions were kept.
func connectionARNs(cfg *config.Config, st connectionReader, log *zap.Logger) func(id string) string {
	var known sync.Map
	fallback := "arn:aws:" + store.ServiceCodeConnections + ":" + cfg.Region + ":" + cfg.AccountID + ":connection/"
	return func(id string) string {
		if arn, ok := known.Load(id); ok {
			return arn.(string)
		}
		// The callers (routing, ingress log lines) carry no context.
		ctx, cancel := context.WithTimeout(context.Background(), arnLookupTimeout)
		defer cancel()
		c, err := st.GetConnection(ctx, id)
		if err != nil {
			log.Debug("connection ARN in the default form", zap.String("connection_id", id), zap.Error(err))
			return fallback + id
		}
		arn := c.ARN(cfg.AccountID)
		known.Store(id, arn)
		return arn
	}
}

// unsignedRegion makes next send the region the user chose in the header
// a daemon without credentials reads it from (controlplane.RegionHeader),
// when requests go unsigned: no credential scope carries it then. Signed
// requests, and a region left to the default, are sent as they are.
func unsignedRegion(cfg aws.Config, chosen string, next http.RoundTripper) http.RoundTripper {
	if _, anonymous := cfg.Credentials.(aws.AnonymousCredentials); !anonymous || chosen == "" {
		return next
	}
	return regionHeader{next: next, region: chosen}
}

type regionHeader struct {
	next   http.RoundTripper
	region string
}

func (t regionHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context()) // a RoundTripper must not change its request
	r.Header.Set(controlplane.RegionHeader, t.region)
	return t.next.RoundTrip(r)
}

// githubAppRegions are the configured GitHub Apps that serve some regions
// only, with those regions.
func githubAppRegions(cfg *config.Config) map[int64][]string {
	m := map[int64][]string{}
	for _, app := range cfg.GitHubApps {
		if len(app.Regions) > 0 {
			m[app.AppID] = app.Regions
		}
	}
	return m
}
