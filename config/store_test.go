package config

import (
	"errors"
	"testing"
)

func TestStoreSelection(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		env       []string
		want      Store
		wantField string // the field a refusal names; empty: valid
	}{
		{name: "default is the embedded store", want: Store{Driver: StoreSQLite}},
		{
			name: "postgres from the file",
			file: "masterKeyFile: /etc/forgelink/master.key\nstore:\n  driver: postgres\n  dsn: postgres://forgelink@db/forgelink\n",
			want: Store{Driver: StorePostgres, DSN: "postgres://forgelink@db/forgelink"},
		},
		{
			name: "the environment supplies the DSN with its password",
			file: "store:\n  driver: postgres\n",
			env:  []string{"FORGELINK_STORE_DSN=postgres://forgelink:pw@db/forgelink", "FORGELINK_MASTER_KEY_FILE=/k"},
			want: Store{Driver: StorePostgres, DSN: "postgres://forgelink:pw@db/forgelink"},
		},
		{name: "postgres without a DSN", file: "masterKeyFile: /k\nstore:\n  driver: postgres\n", wantField: "store.dsn"},
		{
			name:      "postgres replicas without a shared key",
			file:      "store:\n  driver: postgres\n  dsn: postgres://db/x\n",
			wantField: "masterKeyFile",
		},
		{name: "a DSN for sqlite", file: "store:\n  dsn: postgres://db/x\n", wantField: "store.dsn"},
		{name: "unknown driver", env: []string{"FORGELINK_STORE_DRIVER=mysql"}, wantField: "FORGELINK_STORE_DRIVER"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = writeFile(t, tc.file)
			}
			cfg, err := Load(path, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate()
			if tc.wantField == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				if cfg.Store != tc.want {
					t.Fatalf("Store = %+v, want %+v", cfg.Store, tc.want)
				}
				return
			}
			var verr ValidationError
			if !errors.As(err, &verr) || len(verr) != 1 || verr[0].Field != tc.wantField {
				t.Fatalf("Validate = %v, want one refusal of %s", err, tc.wantField)
			}
		})
	}
}
