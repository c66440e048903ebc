package openstack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
)

// SplitEndpoint splits a project-scoped service endpoint (Manila's
// .../v2/<project>, Cinder's .../v3/<project>) into the server root, which
// holds the version document, and the versioned base the resources live
// under, ending in "/". The catalog gives the full form; an override may
// give the bare server or .../<version>, and then project (the token's, or
// "" to leave it out) completes the base.
func SplitEndpoint(endpoint, version, project string) (root, base string, err error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", "", fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	path := strings.TrimSuffix(u.Path, "/")
	prefix, rest, found := strings.Cut(path+"/", "/"+version+"/")
	if !found {
		prefix, rest = path, ""
	}
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" {
		rest = project
	}
	rootURL := *u
	rootURL.Path = prefix + "/"
	baseURL := *u
	baseURL.Path = prefix + "/" + version + "/"
	if rest != "" {
		baseURL.Path += rest + "/"
	}
	return rootURL.String(), baseURL.String(), nil
}

// ErrNoSuchVersion: the version document lists no API of the wanted major
// version (the endpoint is most likely some other service's).
var ErrNoSuchVersion = errors.New("the server root lists no such API version")

// DiscoverVersions reads the version document at root (GET /, which Manila
// and Cinder answer with 300 Multiple Choices) and returns the microversion
// range of the API whose id starts with idPrefix ("v2", "v3").
func DiscoverVersions(ctx context.Context, sc *gophercloud.ServiceClient, op Operation, root, idPrefix string) (VersionRange, error) {
	var body struct {
		Versions []struct {
			ID      string `json:"id"`
			Min     string `json:"min_version"`
			Version string `json:"version"`
		} `json:"versions"`
	}
	if err := Get(ctx, sc, op, root, nil, &body, http.StatusOK, http.StatusMultipleChoices); err != nil {
		return VersionRange{}, errors.New(Describe(err))
	}
	for _, v := range body.Versions {
		if !strings.HasPrefix(v.ID, idPrefix) {
			continue
		}
		min, err1 := ParseMicroversion(v.Min)
		max, err2 := ParseMicroversion(v.Version)
		if err1 != nil || err2 != nil {
			return VersionRange{}, fmt.Errorf("%s gives min_version %q, version %q", idPrefix, Truncate(v.Min, 40), Truncate(v.Version, 40))
		}
		return VersionRange{Min: min, Max: max}, nil
	}
	return VersionRange{}, ErrNoSuchVersion
}
