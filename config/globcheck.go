package config

import "github.com/forgelink/forgelink/relay/glob"

// checkGlob validates a trigger pattern in the router's own dialect.
func checkGlob(pattern string) error {
	_, err := glob.Compile(pattern)
	return err
}
