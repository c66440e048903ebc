#!/usr/bin/python3
"""Talks to the Manila test rig's API for start.sh and ctl.sh (stdlib only).

Subcommands:
  wait-api SECONDS          until GET / answers 300
  ensure-types              create share types alpha, beta, rig-refresh
  refresh SECONDS HOSTS     make the scheduler rebuild its host map until the
                            pools API shows exactly the pools of the running
                            HOSTS (comma-separated) as the pools file lists
                            them (names and values)
  pools                     print the pools/detail body
"""

import argparse
import json
import sys
import time
import urllib.error
import urllib.request

PROJECT = "0123456789abcdef0123456789abcdef"
TOKEN = "admin:" + PROJECT
VERSION = "2.73"
BACKENDS = {"rig-node1": ["alpha", "beta"], "rig-node10": ["alpha"]}
REFRESH_TYPE = "rig-refresh"  # matches no back end: a share of it only makes the scheduler run

TYPES = {
    "alpha": {"driver_handles_share_servers": "False", "share_backend_name": "alpha"},
    "beta": {"driver_handles_share_servers": "False", "share_backend_name": "beta"},
    REFRESH_TYPE: {"driver_handles_share_servers": "False", "share_backend_name": "rig-nowhere"},
}


class API:
    def __init__(self, url):
        self.url = url.rstrip("/")

    def call(self, method, path, body=None, timeout=90):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("X-Auth-Token", TOKEN)
        req.add_header("X-OpenStack-Manila-API-Version", VERSION)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw = resp.read()
                status = resp.status
        except urllib.error.HTTPError as e:
            raw, status = e.read(), e.code
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return status, parsed

    def v2(self, method, path, body=None, timeout=90):
        return self.call(method, "/v2/" + PROJECT + path, body, timeout)


def wait_api(api, seconds):
    deadline = time.monotonic() + seconds
    while True:
        try:
            status, _ = api.call("GET", "/", timeout=5)
            if status == 300:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.exit("manila rig: the API did not answer in %ss" % seconds)
        time.sleep(0.5)


def ensure_types(api):
    status, body = api.v2("GET", "/types?is_public=all")
    if status != 200:
        sys.exit("manila rig: listing share types: %s %s" % (status, body))
    have = {t["name"]: t["id"] for t in body["share_types"]}
    for name, specs in TYPES.items():
        if name in have:
            continue
        status, body = api.v2("POST", "/types", {"share_type": {
            "name": name, "extra_specs": specs, "share_type_access:is_public": True}})
        if status != 200:
            sys.exit("manila rig: creating share type %s: %s %s" % (name, status, body))
        have[name] = body["share_type"]["id"]
    for name in TYPES:
        print("%s %s" % (name, have[name]))


def expected_pools(pools_file, hosts):
    with open(pools_file, encoding="utf-8") as f:
        everything = json.load(f)
    want = {}
    for host in hosts:
        for backend in BACKENDS.get(host, []):
            for pool in everything.get(host, {}).get(backend, []):
                want["%s@%s#%s" % (host, backend, pool["pool_name"])] = pool
    return want


def same(a, b):
    if a == b:
        return True
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return False


def mismatch(api, want):
    """Why the pools API does not show `want` yet; "" when it does."""
    status, body = api.v2("GET", "/scheduler-stats/pools/detail")
    if status != 200:
        return "pools/detail answered %s" % status
    got = {p["name"]: p.get("capabilities", {}) for p in body["pools"]}
    if set(got) != set(want):
        return "pools %s, want %s" % (sorted(got), sorted(want))
    for name, pool in want.items():
        for key, value in pool.items():
            if not same(got[name].get(key), value):
                return "%s: %s is %r, want %r" % (name, key, got[name].get(key), value)
    return ""


def schedule_once(api):
    """Creates a share nothing can hold (the scheduler rebuilds its host map
    while looking for a place for it), waits until it failed, deletes it."""
    status, body = api.v2("POST", "/shares", {"share": {
        "share_proto": "NFS", "size": 1, "name": "rig-refresh", "share_type": REFRESH_TYPE}})
    if status not in (200, 202):
        sys.exit("manila rig: creating the refresh share: %s %s" % (status, body))
    share_id = body["share"]["id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, body = api.v2("GET", "/shares/" + share_id)
        if status != 200 or body["share"]["status"] != "creating":
            break
        time.sleep(0.2)
    api.v2("DELETE", "/shares/" + share_id)


def refresh(api, pools_file, seconds, hosts):
    want = expected_pools(pools_file, [h for h in hosts.split(",") if h])
    start = time.monotonic()
    rounds = 0
    while True:
        why = mismatch(api, want)
        if not why:
            print("manila rig: pools up to date (%d pools, %d scheduling rounds, %.1fs)"
                  % (len(want), rounds, time.monotonic() - start), file=sys.stderr)
            return
        if time.monotonic() - start > seconds:
            sys.exit("manila rig: pools not up to date after %ss: %s" % (seconds, why))
        schedule_once(api)
        rounds += 1
        time.sleep(1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--pools-file")
    p.add_argument("cmd")
    p.add_argument("args", nargs="*")
    a = p.parse_args()
    api = API(a.url)
    if a.cmd == "wait-api":
        wait_api(api, float(a.args[0]))
    elif a.cmd == "ensure-types":
        ensure_types(api)
    elif a.cmd == "refresh":
        refresh(api, a.pools_file, float(a.args[0]), a.args[1] if len(a.args) > 1 else "")
    elif a.cmd == "pools":
        status, body = api.v2("GET", "/scheduler-stats/pools/detail")
        print(json.dumps(body, indent=1))
        if status != 200:
            sys.exit(status)
    else:
        sys.exit("unknown subcommand " + a.cmd)


if __name__ == "__main__":
    main()
