package config

// checkGlob validates a trigger pattern. Until relay/glob lands, every
// pattern is accepted here and checked when the router compiles it.
func checkGlob(string) error { return nil }
