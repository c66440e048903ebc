#!/usr/bin/env python3
"""Waits until the demo's exporter or Prometheus shows that it works.

  wait.py exporter URL SECONDS METRIC...   each METRIC (a sample without
                                           labels) reads 1 on URL/metrics
  wait.py prometheus URL SECONDS JOB       Prometheus is ready, has scraped
                                           JOB's target successfully and
                                           has loaded rules

Exits 0 when it does, 1 (saying what was last seen) when SECONDS pass.
"""
import json
import sys
import time
import urllib.request


def get(url):
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.read().decode()


def exporter(url, metrics):
    text = get(url + "/metrics")
    values = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in metrics:
            values[name] = value
    wrong = [f"{m} = {values.get(m, 'absent')}" for m in metrics if values.get(m) != "1"]
    return "; ".join(wrong)


def prometheus(url, job):
    get(url + "/-/ready")
    targets = json.loads(get(url + "/api/v1/targets?state=active"))["data"]["activeTargets"]
    ours = [t for t in targets if t["labels"].get("job") == job]
    if not ours:
        return f"no active target of job {job}"
    bad = [f"{t['scrapeUrl']}: {t['health']} {t.get('lastError', '')}" for t in ours if t["health"] != "up"]
    if bad:
        return "; ".join(bad)
    groups = json.loads(get(url + "/api/v1/rules"))["data"]["groups"]
    if not groups:
        return "no rules loaded"
    return ""


def main():
    kind, url, seconds = sys.argv[1], sys.argv[2].rstrip("/"), float(sys.argv[3])
    args = sys.argv[4:]
    check = {"exporter": lambda: exporter(url, args), "prometheus": lambda: prometheus(url, args[0])}[kind]
    deadline = time.monotonic() + seconds
    last = ""
    while True:
        try:
            last = check()
        except Exception as e:  # not listening yet, or an answer not yet complete
            last = str(e)
        if not last:
            return 0
        if time.monotonic() > deadline:
            print(f"{kind} at {url}: not within {seconds:g} s: {last}", file=sys.stderr)
            return 1
        time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())
