package main

import (
	"runtime/debug"
	"strings"

	"github.com/prometheus/common/version"
)

// stampVersion fills what -ldflags did not set (a plain `go build` or `go
// install`) from the build info Go records: the module version for `go
// install …@vX.Y.Z`, the VCS revision and time for a build in a checkout, and
// "dev" otherwise, so that --version and _build_info never say version "".
func stampVersion(info *debug.BuildInfo, ok bool) {
	if version.Version == "" {
		version.Version = "dev"
		if ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
			version.Version = strings.TrimPrefix(info.Main.Version, "v")
		}
	}
	if !ok {
		return
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if version.Revision == "" && settings["vcs.revision"] != "" {
		version.Revision = settings["vcs.revision"]
		if settings["vcs.modified"] == "true" {
			version.Revision += "-modified"
		}
	}
	if version.BuildDate == "" {
		version.BuildDate = settings["vcs.time"]
	}
}

func init() {
	stampVersion(debug.ReadBuildInfo())
}
