package main

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// buildVersion says which build this is, from what the Go toolchain
// stamped into the binary: the module version (vX.Y.Z for `go install
// module@vX.Y.Z`, a pseudo-version or "(devel)" for a checkout) and, for a
// build from a git checkout, the revision, whether the tree was modified,
// and the commit time.
func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "forgelink (unknown version: built without module support)\n" + runtime.Version()
	}
	return formatVersion(info)
}

func formatVersion(info *debug.BuildInfo) string {
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	var b strings.Builder
	b.WriteString("forgelink " + version)
	if rev := settings["vcs.revision"]; rev != "" {
		b.WriteString("\nrevision " + rev)
		if settings["vcs.modified"] == "true" {
			b.WriteString("+dirty")
		}
		if t := settings["vcs.time"]; t != "" {
			b.WriteString(" (" + t + ")")
		}
	}
	b.WriteString("\n" + info.GoVersion + " " + runtime.GOOS + "/" + runtime.GOARCH)
	return b.String()
}

// shortVersion is the version on one word, for the log and User-Agent:
// the module version, else the revision of a checkout build.
func shortVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "devel-" + s.Value[:12]
		}
	}
	return "devel"
}
