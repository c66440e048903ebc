package main

import (
	"io"
	"log/slog"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	sloggokit "github.com/tjhop/slog-gokit"
)

// newLoggers returns the exporter's go-kit logger and, for exporter-toolkit,
// an slog logger writing through the same filter and writer, so that both
// give lines of one shape: level, ts, caller, msg, the rest.
func newLoggers(w io.Writer, lvl, format string) (log.Logger, *slog.Logger) {
	var base log.Logger
	if format == "json" {
		base = log.NewJSONLogger(log.NewSyncWriter(w))
	} else {
		base = log.NewLogfmtLogger(log.NewSyncWriter(w))
	}
	base = level.NewFilter(base, level.Allow(level.ParseDefault(lvl, level.InfoValue())))
	logger := log.With(base, "ts", log.DefaultTimestampUTC, "caller", log.DefaultCaller)
	slogLevel := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[lvl]
	return logger, slog.New(sloggokit.NewGoKitHandler(fromSlog(base), slogLevel))
}

// fromSlog reshapes what slog-gokit logs (level, caller, time, msg, attrs)
// into the go-kit lines' shape. go-kit's own caller would name slog-gokit's
// handler, and its ts would duplicate slog's time: slog's caller (the real
// call site) and time are kept instead, under go-kit's keys. slog values
// become plain Go values, so that JSON shows false, not "false".
func fromSlog(next log.Logger) log.Logger {
	return log.LoggerFunc(func(keyvals ...any) error {
		var lvl, caller, ts any
		rest := make([]any, 0, len(keyvals))
		for i := 0; i+1 < len(keyvals); i += 2 {
			k, v := keyvals[i], keyvals[i+1]
			if sv, ok := v.(slog.Value); ok {
				v = sv.Any()
			}
			switch {
			case k == level.Key() && lvl == nil:
				lvl = v
			case k == "caller" && caller == nil:
				caller = v
			case k == slog.TimeKey && ts == nil:
				if t, ok := v.(time.Time); ok {
					ts = t.UTC().Format(time.RFC3339Nano)
				} else {
					rest = append(rest, k, v)
				}
			default:
				rest = append(rest, k, v)
			}
		}
		if ts == nil {
			ts = time.Now().UTC().Format(time.RFC3339Nano)
		}
		out := []any{level.Key(), lvl, "ts", ts}
		if caller != nil {
			out = append(out, "caller", caller)
		}
		return next.Log(append(out, rest...)...)
	})
}
