package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/config"
)

// integrityChecker is a store that can check its own integrity on demand.
type integrityChecker interface {
	Check(ctx context.Context) error
}

// errNoStore is a check asked of a data directory that holds no store:
// opening it would create one.
var errNoStore = errors.New("no store to check")

func (c *cli) storeCommand() *cobra.Command {
	f := &daemonFlags{}
	check := &cobra.Command{
		Use:   "check",
		Short: "run the store's integrity check, with the configuration serve would use",
		Args:  exactArgs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load()
			if err != nil {
				return err
			}
			if err := checkStore(cmd.Context(), cfg); err != nil {
				return err
			}
			_, err = fmt.Fprintf(c.stdout, "%s store: no integrity problems found\n", cfg.Store.Driver)
			return err
		},
	}
	f.register(check.Flags())
	return group("store", "check the daemon's store", check)
}

// checkStore opens the configured store and checks it, if it can be.
func checkStore(ctx context.Context, cfg *config.Config) error {
	if !storeExists(cfg) {
		return fmt.Errorf("%w: %s does not exist", errNoStore, filepath.Join(cfg.DataDir, dbFile))
	}
	st, err := openStore(ctx, cfg, zap.NewNop())
	if err != nil {
		return err
	}
	defer st.Close()
	checker, ok := st.(integrityChecker)
	if !ok {
		return fmt.Errorf("the %s store has no integrity check", cfg.Store.Driver)
	}
	return checker.Check(ctx)
}
