package openstack

import (
	"fmt"
	"strconv"
	"strings"
)

// Microversion is an OpenStack API microversion such as 1.39.
type Microversion struct{ Major, Minor int }

// ParseMicroversion reads "1.39" (a leading "v" is tolerated).
func ParseMicroversion(s string) (Microversion, error) {
	major, minor, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(s), "v"), ".")
	if !ok {
		return Microversion{}, fmt.Errorf("microversion %q is not of the form X.Y", s)
	}
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(minor)
	if err1 != nil || err2 != nil || ma < 0 || mi < 0 {
		return Microversion{}, fmt.Errorf("microversion %q is not of the form X.Y", s)
	}
	return Microversion{ma, mi}, nil
}

// MustMicroversion is ParseMicroversion for constants.
func MustMicroversion(s string) Microversion {
	v, err := ParseMicroversion(s)
	if err != nil {
		panic(err)
	}
	return v
}

func (v Microversion) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Less reports whether v is older than w.
func (v Microversion) Less(w Microversion) bool {
	return v.Major < w.Major || (v.Major == w.Major && v.Minor < w.Minor)
}

// VersionRange is what a server says it supports.
type VersionRange struct{ Min, Max Microversion }

// Negotiate picks the highest version both the server and the exporter
// (up to ours) support, or an error naming both ranges.
func (r VersionRange) Negotiate(oldest, newest Microversion) (Microversion, error) {
	chosen := newest
	if r.Max.Less(chosen) {
		chosen = r.Max
	}
	if chosen.Less(oldest) || chosen.Less(r.Min) {
		return Microversion{}, fmt.Errorf("server supports microversions %s-%s, the exporter needs %s-%s", r.Min, r.Max, oldest, newest)
	}
	return chosen, nil
}
