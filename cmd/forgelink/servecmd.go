package main

import (
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/forgelink/forgelink/config"
)

// daemonFlags are serve's flags, which override the environment, which
// overrides the configuration file.
type daemonFlags struct {
	fs          *pflag.FlagSet
	configFile  string
	listen      string
	dataDir     string
	logLevel    string
	insecureKey bool
}

func (c *cli) serveCommand() *cobra.Command {
	f := &daemonFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "run the forgelink daemon",
		Long: "Runs the daemon: the control plane, webhook ingress, deliveries to pipeline targets and the console,\n" +
			"on one listener. Settings come from the configuration file, the FORGELINK_* environment and these\n" +
			"flags, each overriding the one before. SIGHUP reloads targets and pipelines; SIGTERM stops.",
		Args: exactArgs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd.Context(), f, c.stderr) },
	}
	f.register(cmd.Flags())
	cmd.Flags().StringVar(&f.listen, "listen", "", "listen `address` host:port (env FORGELINK_LISTEN, default "+config.DefaultListen+")")
	cmd.Flags().StringVar(&f.logLevel, "log-level", "", "log `level`: debug, info, warn, error (env FORGELINK_LOG_LEVEL, default info)")
	cmd.Flags().BoolVar(&f.insecureKey, "allow-insecure-key-file", false,
		"accept a master key file that group or others can access, with a warning (env FORGELINK_ALLOW_INSECURE_KEY_FILE)")
	return cmd
}

// register adds the flags that locate the configuration and the data,
// which serve and store check share.
func (f *daemonFlags) register(fs *pflag.FlagSet) {
	f.fs = fs
	fs.StringVar(&f.configFile, "config", "", "YAML configuration `file` (env FORGELINK_CONFIG)")
	fs.StringVar(&f.dataDir, "data-dir", "", "data `directory` (env FORGELINK_DATA_DIR, default ./"+config.DefaultDataDir+")")
}

// load reads the configuration as serve does at start and on SIGHUP: a
// value a flag set is reported under the flag's name when it is invalid.
func (f *daemonFlags) load() (*config.Config, error) {
	file := f.configFile
	if !f.fs.Changed("config") {
		file = os.Getenv("FORGELINK_CONFIG")
	}
	cfg, err := config.Load(file, os.Environ())
	if err != nil {
		return nil, err
	}
	for _, o := range []struct {
		flag, field string
		apply       func()
	}{
		{"listen", "listen", func() { cfg.Listen = f.listen }},
		{"data-dir", "dataDir", func() { cfg.DataDir = f.dataDir }},
		{"log-level", "log.level", func() { cfg.Log.Level = f.logLevel }},
		{"allow-insecure-key-file", "allowInsecureKeyFile", func() { cfg.AllowInsecureKeyFile = f.insecureKey }},
	} {
		if f.fs.Lookup(o.flag) != nil && f.fs.Changed(o.flag) {
			o.apply()
			cfg.SetByFlag(o.field, "--"+o.flag)
		}
	}
	return cfg, cfg.Validate()
}
