package main

import (
	"runtime/debug"
	"testing"

	"github.com/prometheus/common/version"
)

func TestStampVersion(t *testing.T) {
	saved := [3]string{version.Version, version.Revision, version.BuildDate}
	t.Cleanup(func() { version.Version, version.Revision, version.BuildDate = saved[0], saved[1], saved[2] })
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abc"}, {Key: "vcs.time", Value: "2026-12-02T07:00:00Z"}, {Key: "vcs.modified", Value: "true"}}
	for _, c := range []struct {
		name                   string
		ldflags                [3]string // what -ldflags set
		info                   *debug.BuildInfo
		ok                     bool
		version, revision, day string
	}{
		{"go install of a tag", [3]string{}, &debug.BuildInfo{Main: debug.Module{Version: "v0.2.0"}}, true, "0.2.0", "", ""},
		{"go build in a checkout", [3]string{}, &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs}, true, "dev", "0123abc-modified", "2026-12-02T07:00:00Z"},
		{"no build info", [3]string{}, nil, false, "dev", "", ""},
		{"make build stamps everything", [3]string{"1.0.0", "feed", "20261202-07:00:00"}, &debug.BuildInfo{Main: debug.Module{Version: "v0.2.0"}, Settings: vcs}, true, "1.0.0", "feed", "20261202-07:00:00"},
	} {
		version.Version, version.Revision, version.BuildDate = c.ldflags[0], c.ldflags[1], c.ldflags[2]
		stampVersion(c.info, c.ok)
		if version.Version != c.version || version.Revision != c.revision || version.BuildDate != c.day {
			t.Errorf("%s: version %q revision %q date %q; want %q %q %q", c.name, version.Version, version.Revision, version.BuildDate, c.version, c.revision, c.day)
		}
	}
}
