package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log/level"
	"github.com/prometheus/exporter-toolkit/web"
)

// lockedBuffer lets a test read what the loggers write from other goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logfmtKeys returns the keys of a logfmt line in order.
func logfmtKeys(t *testing.T, line string) []string {
	t.Helper()
	var keys []string
	for line != "" {
		key, rest, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("not logfmt: %q", line)
		}
		keys = append(keys, key)
		if strings.HasPrefix(rest, `"`) {
			i := 1
			for ; i < len(rest) && rest[i] != '"'; i++ {
				if rest[i] == '\\' {
					i++
				}
			}
			rest = rest[i+1:]
		} else if i := strings.IndexByte(rest, ' '); i >= 0 {
			rest = rest[i:]
		} else {
			rest = ""
		}
		line = strings.TrimPrefix(rest, " ")
	}
	return keys
}

// jsonKeys returns the keys of a JSON log line, duplicates included (a map
// would hide them), and the values.
func jsonKeys(t *testing.T, line string) ([]string, map[string]any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %q", line)
	}
	var keys []string
	values := map[string]any{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		values[tok.(string)] = v
	}
	return keys, values
}

// Our own lines and exporter-toolkit's (through slog) have one shape: one
// ts, one caller (the real call site), one level, no second timestamp.
func TestLogLinesHaveOneShape(t *testing.T) {
	for _, format := range []string{"logfmt", "json"} {
		t.Run(format, func(t *testing.T) {
			var out lockedBuffer
			logger, slogger := newLoggers(&out, "info", format)
			level.Info(logger).Log("msg", "from go-kit", "answer", 42)

			// The real exporter-toolkit path: it logs "Listening on".
			server := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: time.Second}
			addrs, systemd, webConfig := []string{"127.0.0.1:0"}, false, ""
			served := make(chan error, 1)
			go func() {
				served <- web.ListenAndServe(server, &web.FlagConfig{WebListenAddresses: &addrs, WebSystemdSocket: &systemd, WebConfigFile: &webConfig}, slogger)
			}()
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(out.String(), "TLS is disabled") && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			_ = server.Shutdown(context.Background())
			<-served

			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if len(lines) < 3 {
				t.Fatalf("expected our line and exporter-toolkit's, got:\n%s", out.String())
			}
			callers := map[string]string{}
			for _, line := range lines {
				var keys []string
				var msg, caller string
				if format == "json" {
					var values map[string]any
					keys, values = jsonKeys(t, line)
					msg, _ = values["msg"].(string)
					caller, _ = values["caller"].(string)
				} else {
					keys = logfmtKeys(t, line)
					if want := []string{"level", "ts", "caller", "msg"}; len(keys) < 4 || !reflect.DeepEqual(keys[:4], want) {
						t.Errorf("keys %v, want them to start with %v: %s", keys, want, line)
					}
					_, after, _ := strings.Cut(line, " caller=")
					caller, _, _ = strings.Cut(after, " ")
					_, after, _ = strings.Cut(line, `msg="`)
					msg, _, _ = strings.Cut(after, `"`)
				}
				count := map[string]int{}
				for _, k := range keys {
					count[k]++
				}
				for _, k := range []string{"ts", "caller", "level", "msg"} {
					if count[k] != 1 {
						t.Errorf("%s %d times: %s", k, count[k], line)
					}
				}
				if count["time"] != 0 {
					t.Errorf("a second timestamp: %s", line)
				}
				callers[msg] = caller
			}
			if c := callers["Listening on"]; !strings.HasPrefix(c, "tls_config.go:") {
				t.Errorf(`"Listening on" from caller %q, want exporter-toolkit's tls_config.go`, c)
			}
			if c := callers["from go-kit"]; !strings.HasPrefix(c, "log_test.go:") {
				t.Errorf(`"from go-kit" from caller %q`, c)
			}
			if format == "json" && !strings.Contains(out.String(), `"http2":false`) {
				t.Errorf("slog's bool came out as a string:\n%s", out.String())
			}
		})
	}
}

// --log.level applies to exporter-toolkit's lines too.
func TestSlogFollowsLogLevel(t *testing.T) {
	for lvl, want := range map[string]string{"debug": "debug,info,warn,error", "info": "info,warn,error", "error": "error"} {
		var out lockedBuffer
		_, slogger := newLoggers(&out, lvl, "logfmt")
		slogger.Debug("debug")
		slogger.Info("info")
		slogger.Warn("warn")
		slogger.Error("error")
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			_, msg, _ := strings.Cut(line, " msg=")
			got = append(got, msg)
		}
		if strings.Join(got, ",") != want {
			t.Errorf("--log.level %s: logged %v, want %s", lvl, got, want)
		}
	}
}
