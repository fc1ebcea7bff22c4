package config

// Store drivers.
const (
	StoreSQLite   = "sqlite"   // embedded, <dataDir>/forgelink.db: one daemon
	StorePostgres = "postgres" // shared: several replicas on one database
)

// Store selects where forgelink keeps its records.
type Store struct {
	Driver string `yaml:"driver"`
	// DSN is the PostgreSQL connection string (URL or key=value form). A
	// password belongs in FORGELINK_STORE_DSN or in PGPASSFILE, not in a
	// file that may be committed.
	DSN string `yaml:"dsn"`
}

func (c *Config) validateStore(bad func(field, format string, args ...any)) {
	switch c.Store.Driver {
	case StoreSQLite:
		if c.Store.DSN != "" {
			bad("store.dsn", "is for the postgres driver; the sqlite store lives in dataDir")
		}
	case StorePostgres:
		if c.Store.DSN == "" {
			bad("store.dsn", "the postgres driver needs a connection string (or set FORGELINK_STORE_DSN)")
		}
	default:
		bad("store.driver", "want sqlite or postgres, got %q", c.Store.Driver)
	}
}
