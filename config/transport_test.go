package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/forgelink/forgelink/relay/tlstest"
)

func TestTransport(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	tlstest.WritePair(t, cert, key, 1)
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		file      string // "DIR" stands for dir
		env       []string
		check     func(*Config) bool
		wantField string // the field a refusal names; empty: valid
		wantLine  int
	}{
		{name: "defaults", check: func(c *Config) bool { return !c.TLS.Enabled() && c.Metrics.Listen == "" && !c.AllowInsecureKeyFile }},
		{
			name:  "tls paths relative to the file",
			file:  "tls:\n  certFile: cert.pem\n  keyFile: key.pem\n",
			check: func(c *Config) bool { return c.TLS.Enabled() && c.TLS.CertFile == cert && c.TLS.KeyFile == key },
		},
		{
			name:  "tls from the environment",
			env:   []string{"FORGELINK_TLS_CERT_FILE=" + cert, "FORGELINK_TLS_KEY_FILE=" + key},
			check: func(c *Config) bool { return c.TLS.Enabled() },
		},
		{name: "certificate without key", file: "listen: 127.0.0.1:1\ntls:\n  certFile: cert.pem\n", wantField: "tls", wantLine: 2},
		{name: "key without certificate", env: []string{"FORGELINK_TLS_KEY_FILE=" + key}, wantField: "tls"},
		{name: "missing certificate", file: "tls:\n  certFile: nope.pem\n  keyFile: key.pem\n", wantField: "tls.certFile", wantLine: 2},
		{name: "certificate is not PEM", file: "tls:\n  certFile: garbage.pem\n  keyFile: key.pem\n", wantField: "tls.certFile", wantLine: 2},
		{name: "key is not the certificate's", file: "tls:\n  certFile: cert.pem\n  keyFile: garbage.pem\n", wantField: "tls.certFile", wantLine: 2},
		{
			name:  "metrics listener",
			file:  "metrics:\n  listen: 127.0.0.1:9464\n",
			check: func(c *Config) bool { return c.Metrics.Listen == "127.0.0.1:9464" },
		},
		{name: "metrics listener from the environment", env: []string{"FORGELINK_METRICS_LISTEN=127.0.0.1:9464"}, check: func(c *Config) bool { return c.Metrics.Listen == "127.0.0.1:9464" }},
		{name: "metrics listener without port", file: "metrics:\n  listen: 127.0.0.1\n", wantField: "metrics.listen", wantLine: 2},
		{name: "metrics listener on the main one", file: "metrics:\n  listen: " + DefaultListen + "\n", wantField: "metrics.listen", wantLine: 2},
		{name: "insecure key file allowed", file: "allowInsecureKeyFile: true\n", check: func(c *Config) bool { return c.AllowInsecureKeyFile }},
		{name: "insecure key file from the environment", env: []string{"FORGELINK_ALLOW_INSECURE_KEY_FILE=true"}, check: func(c *Config) bool { return c.AllowInsecureKeyFile }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml")
				if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg, err := Load(path, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate()
			if tc.wantField == "" {
				if err != nil || !tc.check(cfg) {
					t.Fatalf("Validate = %v; config %+v %+v", err, cfg.TLS, cfg.Metrics)
				}
				return
			}
			var verr ValidationError
			if !errors.As(err, &verr) || len(verr) != 1 || verr[0].Field != tc.wantField || verr[0].Line != tc.wantLine {
				t.Fatalf("Validate = %v, want one refusal of %s at line %d", err, tc.wantField, tc.wantLine)
			}
		})
	}
	cfg, err := Load("", []string{"FORGELINK_ALLOW_INSECURE_KEY_FILE=maybe"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), `FORGELINK_ALLOW_INSECURE_KEY_FILE: want true or false, got "maybe"`) {
		t.Errorf("Validate = %v, want FORGELINK_ALLOW_INSECURE_KEY_FILE=maybe refused", err)
	}
}
