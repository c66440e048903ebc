// Package openstack holds everything the collectors need to talk to
// OpenStack: clouds.yaml and OS_* credentials, Keystone or token-less
// sessions, endpoint overrides, microversions and request accounting.
package openstack

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"
	"go.yaml.in/yaml/v3"
)

// Auth types that need no Keystone, as openstacksdk names them.
const (
	AuthTypeAdminToken = "admin_token"
	AuthTypeNone       = "none"
)

// Cloud is what the exporter needs to know about the cloud it watches.
type Cloud struct {
	// Name is the clouds.yaml entry, or "" when the OS_* environment was used.
	Name string
	// AuthType is the clouds.yaml auth_type ("" means Keystone password).
	AuthType string
	// StaticToken is sent as X-Auth-Token when AuthType is admin_token.
	StaticToken string
	// Keystone holds the credentials for every other auth type.
	Keystone gophercloud.AuthOptions
	// Endpoint selects endpoints from the Keystone catalog.
	Endpoint gophercloud.EndpointOpts
	// EndpointOverrides maps a service type written with underscores
	// ("placement", "shared_file_system") to a fixed endpoint URL.
	EndpointOverrides map[string]string
	// TLS is the client TLS configuration (cacert, insecure, client cert).
	TLS *tls.Config
}

// Keystoneless reports whether requests go straight to the endpoint
// overrides with a static token (or none) instead of through Keystone.
func (c *Cloud) Keystoneless() bool {
	return c.AuthType == AuthTypeAdminToken || c.AuthType == AuthTypeNone
}

// rawCloud is the part of a clouds.yaml entry gophercloud's parser does not
// keep: the auth type, endpoint overrides and TLS switches.
type rawCloud struct {
	AuthType     string         `yaml:"auth_type"`
	Auth         map[string]any `yaml:"auth"`
	RegionName   string         `yaml:"region_name"`
	Interface    string         `yaml:"interface"`
	EndpointType string         `yaml:"endpoint_type"`
	CACert       string         `yaml:"cacert"`
	Cert         string         `yaml:"cert"`
	Key          string         `yaml:"key"`
	Verify       *bool          `yaml:"verify"`
	Insecure     *bool          `yaml:"insecure"`
}

// cloudsYAMLLocations is the search order of openstackclient.
func cloudsYAMLLocations() []string {
	if p := os.Getenv("OS_CLIENT_CONFIG_FILE"); p != "" {
		return []string{p}
	}
	locations := []string{"clouds.yaml"}
	configHome := os.Getenv("XDG_CONFIG_HOME")
	if configHome == "" {
		if home, err := os.UserHomeDir(); err == nil {
			configHome = filepath.Join(home, ".config")
		}
	}
	if configHome != "" {
		locations = append(locations, filepath.Join(configHome, "openstack", "clouds.yaml"))
	}
	return append(locations, "/etc/openstack/clouds.yaml")
}

// LoadCloud reads the named clouds.yaml entry (merged with secure.yaml from
// the same folder), or, when name is empty, the OS_* environment variables.
func LoadCloud(name string) (*Cloud, error) {
	if name == "" {
		return cloudFromEnv()
	}
	var cloudsYAML, secureYAML []byte
	var path string
	for _, candidate := range cloudsYAMLLocations() {
		data, err := os.ReadFile(candidate)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			// A file there that cannot be read (a Secret mounted for
			// another uid, say) must not make a later location win.
			return nil, unreadable(err)
		}
		cloudsYAML, path = data, candidate
		secure := filepath.Join(filepath.Dir(candidate), "secure.yaml")
		if secureYAML, err = os.ReadFile(secure); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, unreadable(err)
		}
		break
	}
	if cloudsYAML == nil {
		return nil, fmt.Errorf("no clouds.yaml found (searched %s); set OS_CLIENT_CONFIG_FILE or put one there", strings.Join(cloudsYAMLLocations(), ", "))
	}
	entry, err := mergedEntry(cloudsYAML, secureYAML, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cloudFromEntry(name, entry, cloudsYAML, secureYAML)
}

// unreadable says which file could not be read and as whom.
func unreadable(err error) error {
	return fmt.Errorf("%w (the exporter runs as uid %d, gid %d: the file must be readable by it)", err, os.Getuid(), os.Getgid())
}

// mergedEntry returns cloud name from clouds.yaml with its secure.yaml entry
// laid over it, as openstackclient does.
func mergedEntry(cloudsYAML, secureYAML []byte, name string) (map[string]any, error) {
	var doc struct {
		Clouds map[string]map[string]any `yaml:"clouds"`
	}
	if err := yaml.Unmarshal(cloudsYAML, &doc); err != nil {
		return nil, fmt.Errorf("cannot parse: %w", err)
	}
	entry, ok := doc.Clouds[name]
	if !ok {
		known := make([]string, 0, len(doc.Clouds))
		for k := range doc.Clouds {
			known = append(known, k)
		}
		return nil, fmt.Errorf("cloud %q not found (clouds here: %s); fix --os-cloud or OS_CLOUD", name, strings.Join(known, ", "))
	}
	if entry == nil {
		entry = map[string]any{}
	}
	if len(secureYAML) > 0 {
		var secure struct {
			Clouds map[string]map[string]any `yaml:"clouds"`
		}
		if err := yaml.Unmarshal(secureYAML, &secure); err != nil {
			return nil, fmt.Errorf("cannot parse secure.yaml: %w", err)
		}
		deepMerge(entry, secure.Clouds[name])
	}
	return entry, nil
}

func deepMerge(dst, src map[string]any) {
	for k, v := range src {
		if sub, ok := v.(map[string]any); ok {
			if dsub, ok := dst[k].(map[string]any); ok {
				deepMerge(dsub, sub)
				continue
			}
		}
		dst[k] = v
	}
}

func cloudFromEntry(name string, entry map[string]any, cloudsYAML, secureYAML []byte) (*Cloud, error) {
	encoded, err := yaml.Marshal(entry)
	if err != nil {
		return nil, err
	}
	var raw rawCloud
	if err := yaml.Unmarshal(encoded, &raw); err != nil {
		return nil, fmt.Errorf("cloud %q: %w", name, err)
	}
	cloud := &Cloud{Name: name, AuthType: raw.AuthType, EndpointOverrides: map[string]string{}}
	for key, value := range entry {
		if service, ok := strings.CutSuffix(key, "_endpoint_override"); ok {
			url, isString := value.(string)
			if !isString || url == "" {
				return nil, fmt.Errorf("cloud %q: %s must be a URL string", name, key)
			}
			cloud.EndpointOverrides[strings.ReplaceAll(service, "-", "_")] = url
		}
	}
	insecure := (raw.Verify != nil && !*raw.Verify) || (raw.Insecure != nil && *raw.Insecure)
	if cloud.TLS, err = tlsConfig(raw.CACert, raw.Cert, raw.Key, insecure); err != nil {
		return nil, fmt.Errorf("cloud %q: %w", name, err)
	}
	cloud.Endpoint = gophercloud.EndpointOpts{
		Region:       firstNonEmpty(os.Getenv("OS_REGION_NAME"), raw.RegionName),
		Availability: availability(firstNonEmpty(os.Getenv("OS_INTERFACE"), raw.EndpointType, raw.Interface)),
	}

	switch raw.AuthType {
	case AuthTypeAdminToken:
		token, _ := raw.Auth["token"].(string)
		if token == "" {
			return nil, fmt.Errorf("cloud %q: auth_type admin_token needs auth.token", name)
		}
		cloud.StaticToken = token
		return cloud, cloud.requireOverrides()
	case AuthTypeNone:
		return cloud, cloud.requireOverrides()
	}
	if raw.Auth == nil {
		return nil, fmt.Errorf("cloud %q: no auth section; give Keystone credentials, or auth_type admin_token or none with <service>_endpoint_override", name)
	}
	opts := []clouds.ParseOption{clouds.WithCloudName(name), clouds.WithCloudsYAML(bytes.NewReader(cloudsYAML))}
	if len(secureYAML) > 0 {
		opts = append(opts, clouds.WithSecureYAML(bytes.NewReader(secureYAML)))
	}
	authOptions, endpointOptions, _, err := clouds.Parse(opts...)
	if err != nil {
		return nil, fmt.Errorf("cloud %q: %w", name, err)
	}
	authOptions.AllowReauth = true
	cloud.Keystone = authOptions
	cloud.Endpoint = endpointOptions
	if cloud.Keystone.IdentityEndpoint == "" {
		return nil, fmt.Errorf("cloud %q: auth.auth_url is missing", name)
	}
	return cloud, nil
}

// requireOverrides rejects a Keystone-less cloud that could reach nothing.
func (c *Cloud) requireOverrides() error {
	if len(c.EndpointOverrides) == 0 {
		return fmt.Errorf("cloud %q: auth_type %s has no catalog, so give the endpoints, e.g. placement_endpoint_override: http://127.0.0.1:8778", c.Name, c.AuthType)
	}
	return nil
}

// envAuthKeys maps OS_* variables to clouds.yaml auth keys, as openrc
// files and openstackclient use them.
var envAuthKeys = map[string]string{
	"OS_AUTH_URL": "auth_url", "OS_USERNAME": "username", "OS_USER_ID": "user_id", "OS_PASSWORD": "password",
	"OS_PROJECT_NAME": "project_name", "OS_PROJECT_ID": "project_id", "OS_TENANT_NAME": "project_name", "OS_TENANT_ID": "project_id",
	"OS_USER_DOMAIN_NAME": "user_domain_name", "OS_USER_DOMAIN_ID": "user_domain_id",
	"OS_PROJECT_DOMAIN_NAME": "project_domain_name", "OS_PROJECT_DOMAIN_ID": "project_domain_id",
	"OS_DOMAIN_NAME": "domain_name", "OS_DOMAIN_ID": "domain_id", "OS_SYSTEM_SCOPE": "system_scope",
	"OS_APPLICATION_CREDENTIAL_ID": "application_credential_id", "OS_APPLICATION_CREDENTIAL_NAME": "application_credential_name",
	"OS_APPLICATION_CREDENTIAL_SECRET": "application_credential_secret", "OS_TOKEN": "token",
}

// cloudFromEnv builds a clouds.yaml entry from the OS_* variables and reads
// it like any other, so both sources behave the same.
func cloudFromEnv() (*Cloud, error) {
	auth := map[string]any{}
	for env, key := range envAuthKeys {
		if v := os.Getenv(env); v != "" {
			auth[key] = v
		}
	}
	entry := map[string]any{"auth": auth}
	for env, key := range map[string]string{
		"OS_AUTH_TYPE": "auth_type", "OS_REGION_NAME": "region_name", "OS_INTERFACE": "interface",
		"OS_CACERT": "cacert", "OS_CERT": "cert", "OS_KEY": "key",
		"OS_PLACEMENT_ENDPOINT_OVERRIDE":          "placement_endpoint_override",
		"OS_SHARED_FILE_SYSTEM_ENDPOINT_OVERRIDE": "shared_file_system_endpoint_override",
		"OS_BLOCK_STORAGE_ENDPOINT_OVERRIDE":      "block_storage_endpoint_override",
		"OS_COMPUTE_ENDPOINT_OVERRIDE":            "compute_endpoint_override",
	} {
		if v := os.Getenv(env); v != "" {
			entry[key] = v
		}
	}
	if v := strings.ToLower(os.Getenv("OS_INSECURE")); v == "true" || v == "1" || v == "yes" {
		entry["insecure"] = true
	}
	authType, _ := entry["auth_type"].(string)
	if auth["auth_url"] == nil && authType != AuthTypeAdminToken && authType != AuthTypeNone {
		return nil, errors.New("no cloud selected: give --os-cloud (or OS_CLOUD) naming a clouds.yaml entry, or set the OS_AUTH_URL family of variables")
	}
	cloudsYAML, err := yaml.Marshal(map[string]any{"clouds": map[string]any{"envvars": entry}})
	if err != nil {
		return nil, err
	}
	cloud, err := cloudFromEntry("envvars", entry, cloudsYAML, nil)
	if err != nil {
		return nil, fmt.Errorf("OS_* environment: %w", err)
	}
	cloud.Name = ""
	return cloud, nil
}

func tlsConfig(caCert, cert, key string, insecure bool) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} //nolint:gosec // the operator asked for it in clouds.yaml
	if caCert != "" {
		pem, err := os.ReadFile(expandHome(caCert))
		if err != nil {
			return nil, fmt.Errorf("cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("cacert %s holds no PEM certificate", caCert)
		}
		cfg.RootCAs = pool
	}
	if cert != "" || key != "" {
		if cert == "" || key == "" {
			return nil, errors.New("cert and key must be given together")
		}
		pair, err := tls.LoadX509KeyPair(expandHome(cert), expandHome(key))
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

func availability(iface string) gophercloud.Availability {
	switch strings.TrimSuffix(strings.ToLower(iface), "url") {
	case "internal":
		return gophercloud.AvailabilityInternal
	case "admin":
		return gophercloud.AvailabilityAdmin
	default:
		return gophercloud.AvailabilityPublic
	}
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
