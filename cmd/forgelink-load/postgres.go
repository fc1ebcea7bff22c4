package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
)

// postgresEnv prepares a daemon run on PostgreSQL (--postgres DSN): a
// fresh schema for the run, dropped by the returned cleanup, and a master
// key in dir, as replicas share one. The environment selects both.
func postgresEnv(ctx context.Context, dsn, dir string) (env []string, cleanup func(), err error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(ctx)
	schema := "forgelink_load_" + strings.ToLower(rand.Text()[:10])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return nil, nil, fmt.Errorf("postgres: create schema: %w", err)
	}
	cleanup = func() {
		ctx := context.WithoutCancel(ctx)
		if conn, err := pgx.Connect(ctx, dsn); err == nil {
			conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
			conn.Close(ctx)
		}
	}
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		cleanup()
		return nil, nil, fmt.Errorf("postgres: want a postgres:// URL DSN")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	key := make([]byte, 32)
	rand.Read(key)
	keyFile := filepath.Join(dir, "master.key")
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(key)), 0o600); err != nil {
		cleanup()
		return nil, nil, err
	}
	return []string{"FORGELINK_STORE_DRIVER=postgres", "FORGELINK_STORE_DSN=" + u.String(), "FORGELINK_MASTER_KEY_FILE=" + keyFile}, cleanup, nil
}
