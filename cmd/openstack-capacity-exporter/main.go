// Command openstack-capacity-exporter polls OpenStack Placement, Manila and Cinder
// in the background and serves what their schedulers see as Prometheus
// metrics.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/alecthomas/units"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	promcollectors "github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector"
	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/openstack"
)

const exporterName = "openstack-capacity-exporter"

// defaultListenAddress avoids openstack-exporter's 9180 and the ports of
// the common exporters.
const defaultListenAddress = ":9863"

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	app := kingpin.New(exporterName, "Prometheus exporter for OpenStack Placement resource providers and Manila and Cinder storage pools.")
	app.ErrorWriter(stderr)
	var (
		metricsPath    = app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
		webConfig      = kingpinflag.AddFlags(app, defaultListenAddress)
		lifecycle      = app.Flag("web.enable-lifecycle", "Enable reloading the configuration by POST /-/reload (SIGHUP always works).").Bool()
		pprof          = app.Flag("web.enable-pprof", "Serve Go's profiling endpoints under /debug/pprof/.").Bool()
		maxRequests    = app.Flag("web.max-requests", "Maximum number of parallel scrape requests. Use 0 to disable.").Default("40").Int()
		configFile     = app.Flag("config.file", "Configuration file (YAML): poll intervals, scopes and filter queries. Without it the defaults apply.").String()
		configCheck    = app.Flag("config.check", "Validate --config.file and exit: 0 if valid, 1 if not, 2 without --config.file.").Bool()
		osCloud        = app.Flag("os-cloud", "Cloud entry of clouds.yaml to use; without it the OS_* environment variables are used.").Envar("OS_CLOUD").String()
		requestTimeout = app.Flag("openstack.request-timeout", "Timeout of every single HTTP request to OpenStack, body included.").Default("30s").Duration()
		maxResponse    = app.Flag(openstack.MaxResponseSizeFlag, "Largest response body accepted from OpenStack (e.g. 64MiB); a larger one fails that request. The default fits about a million resource providers.").Default(units.Base2Bytes(openstack.DefaultMaxResponseBytes).String()).Bytes()
		logLevel       = app.Flag("log.level", "Only log messages with the given severity or above. One of: [debug, info, warn, error]").Default("info").Enum("debug", "info", "warn", "error")
		logFormat      = app.Flag("log.format", "Output format of log messages. One of: [logfmt, json]").Default("logfmt").Enum("logfmt", "json")
		healthCheck    = app.Flag("healthcheck", "Probe a running exporter's /-/healthy and exit: 0 if it answers, 1 if not (the container's HEALTHCHECK: distroless has no shell).").Bool()
		healthCheckURL = app.Flag("healthcheck.url", "URL --healthcheck probes (default: /-/healthy on the first --web.listen-address, on 127.0.0.1 when that listens on every interface).").Envar("HEALTHCHECK_URL").String()
	)
	enabled := map[string]*bool{}
	for _, name := range collector.Names() {
		def := "false"
		if collector.EnabledByDefault(name) {
			def = "true"
		}
		enabled[name] = app.Flag("collector."+name, fmt.Sprintf("Enable the %s collector (default: %s; --no-collector.%s disables it).", name, map[string]string{"true": "enabled", "false": "disabled"}[def], name)).Default(def).Bool()
	}
	app.Version(version.Print(exporterName))
	app.HelpFlag.Short('h')
	if _, err := app.Parse(args); err != nil {
		app.Errorf("%s, try --help", err)
		return 2
	}
	if *healthCheck {
		url := *healthCheckURL
		if url == "" {
			var err error
			if url, err = healthURL(*webConfig.WebListenAddresses, *webConfig.WebConfigFile); err != nil {
				app.Errorf("%s", err)
				return 2
			}
		}
		return healthcheck(url, stderr)
	}
	if *configCheck && *configFile == "" {
		app.Errorf("nothing to check: --config.check needs --config.file")
		return 2
	}
	logger, slogger := newLoggers(stderr, *logLevel, *logFormat)

	cfg := collector.DefaultConfig()
	if *configFile != "" {
		loaded, err := collector.LoadConfig(*configFile)
		if err != nil {
			level.Error(logger).Log("msg", "invalid configuration file", "err", err)
			return 1
		}
		cfg = loaded
	}
	if *configCheck {
		level.Info(logger).Log("msg", "configuration file is valid", "file", *configFile)
		return 0
	}
	level.Info(logger).Log("msg", "starting "+exporterName, "version", version.Info(), "build_context", version.BuildContext())

	var names []string
	for _, name := range collector.Names() {
		if *enabled[name] {
			names = append(names, name)
		}
	}
	limits := openstack.Limits{RequestTimeout: *requestTimeout, MaxResponseBytes: int64(*maxResponse)}
	registry := prometheus.NewRegistry()
	var clouds []*cloud
	if len(cfg.Clouds.List) == 0 {
		c, err := newCloud(logger, "", *osCloud, cfg, names, limits, registry)
		if err != nil {
			level.Error(logger).Log("msg", "cannot poll the cloud", "err", err)
			return 1
		}
		clouds = append(clouds, c)
	} else {
		if *osCloud != "" {
			level.Warn(logger).Log("msg", "--os-cloud (or OS_CLOUD) is ignored: the configuration file's clouds section names the clouds", "os_cloud", *osCloud)
		}
		for _, entry := range cfg.Clouds.List {
			c, err := newCloud(logger, entry.Name, entry.Name, entry.Config, names, limits, registry)
			if err != nil {
				level.Error(logger).Log("msg", "cannot poll the cloud", "cloud", entry.Name, "err", err)
				return 1
			}
			clouds = append(clouds, c)
		}
		level.Info(logger).Log("msg", "polling several clouds", "clouds", strings.Join(cloudNames(clouds), ","))
	}

	reloader := newReloader(logger, *configFile, clouds)
	registerOwn(registry, reloader)
	registry.MustRegister(
		promcollectors.NewProcessCollector(promcollectors.ProcessCollectorOpts{}),
		promcollectors.NewGoCollector(),
	)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, c := range clouds {
		go c.poller.Run(ctx)
	}
	go reloader.watchSIGHUP(ctx)

	mux, err := newMux(webOptions{metricsPath: *metricsPath, enableLifecycle: *lifecycle, enablePprof: *pprof, maxRequests: *maxRequests}, logger, clouds, reloader, registry)
	if err != nil {
		level.Error(logger).Log("msg", "cannot build the web endpoints", "err", err)
		return 1
	}

	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- web.ListenAndServe(server, webConfig, slogger) }()
	select {
	case err := <-serveErr:
		level.Error(logger).Log("msg", "HTTP server stopped", "err", err)
		return 1
	case <-ctx.Done():
	}
	level.Info(logger).Log("msg", "shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		level.Warn(logger).Log("msg", "HTTP server shutdown", "err", err)
	}
	return 0
}

// registerOwn adds the metrics of the process itself, beside the clouds'
// (registered by newCloud): the build and the configuration file.
func registerOwn(registry prometheus.Registerer, reloader *reloader) {
	registry.MustRegister(versioncollector.NewCollector("openstack_capacity_exporter"))
	reloader.mustRegister(registry)
}
