#!/usr/bin/python3
"""Talks to the Cinder test rig's API for start.sh and ctl.sh (stdlib only).

Subcommands:
  wait-api SECONDS          until GET / answers 300
  ensure-types              create the volume types gold, silver, tiny
  wait-pools SECONDS HOSTS  until get_pools?detail=true shows exactly the
                            pools of the running HOSTS (comma-separated)
                            with the values the driver reports for them
                            (the pools file adjusted by the ledger)
  pools                     print the get_pools?detail=true body
  create-volume TYPE SIZE   create a volume, wait until it is available or
                            in error; prints "<id> <status> <host>"
  fill TYPE SIZE [MAX]      create volumes of TYPE until the scheduler
                            refuses one (status error: NoValidHost) or MAX
                            (100) were created; prints how many fitted and
                            leaves the refused one in error
  delete-volumes            delete every volume, wait until they are gone
  wait-pool NAME SECONDS    until get_pools lists the pool NAME
  disable HOST@BACKEND      disable that cinder-volume service (os-services)
  enable HOST@BACKEND       enable it again
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rig_pools  # noqa: E402

PROJECT = "0123456789abcdef0123456789abcdef"
TOKEN = "admin:" + PROJECT
VERSION = "volume 3.70"
BACKENDS = {"rig-vol1": ["alpha", "beta"], "rig-vol10": ["alpha"]}

TYPES = {
    "gold": {"volume_backend_name": "alpha"},
    "silver": {"volume_backend_name": "beta"},
    # Only rig-vol1@beta#b2 (10 GB, thick): fills up after ten 1 GB volumes.
    "tiny": {"volume_backend_name": "beta", "pool_name": "b2"},
}


class API:
    def __init__(self, url):
        self.url = url.rstrip("/")

    def call(self, method, path, body=None, timeout=90):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("X-Auth-Token", TOKEN)
        req.add_header("OpenStack-API-Version", VERSION)
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

    def v3(self, method, path, body=None, timeout=90):
        return self.call(method, "/v3/" + PROJECT + path, body, timeout)


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
            sys.exit("cinder rig: the API did not answer in %ss" % seconds)
        time.sleep(0.5)


def ensure_types(api):
    status, body = api.v3("GET", "/types?is_public=None")
    if status != 200:
        sys.exit("cinder rig: listing volume types: %s %s" % (status, body))
    have = {t["name"]: t["id"] for t in body["volume_types"]}
    for name, specs in TYPES.items():
        if name in have:
            continue
        status, body = api.v3("POST", "/types", {"volume_type": {
            "name": name, "extra_specs": specs, "os-volume-type-access:is_public": True}})
        if status != 200:
            sys.exit("cinder rig: creating volume type %s: %s %s" % (name, status, body))
        have[name] = body["volume_type"]["id"]
    for name in TYPES:
        print("%s %s" % (name, have[name]))


def expected_pools(pools_file, ledger_dir, hosts):
    with open(pools_file, encoding="utf-8") as f:
        everything = json.load(f)
    want = {}
    for host in hosts:
        for backend in BACKENDS.get(host, []):
            used = rig_pools.used_by_pool(rig_pools.read_ledger(ledger_dir, host, backend))
            for pool in everything.get(host, {}).get(backend, []):
                reported = rig_pools.adjust(pool, used)
                # The volume manager's own count: the same volumes.
                reported["allocated_capacity_gb"] = used.get(pool["pool_name"], 0)
                want["%s@%s#%s" % (host, backend, pool["pool_name"])] = reported
    return want


def same(a, b):
    if a == b:
        return True
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return False


# The API shows the first of the protocol's variants the scheduler holds.
_NOT_COMPARED = {"storage_protocol"}


def mismatch(api, want):
    """Why the pools API does not show `want` yet; "" when it does."""
    status, body = api.v3("GET", "/scheduler-stats/get_pools?detail=true")
    if status != 200:
        return "get_pools answered %s" % status
    got = {p["name"]: p.get("capabilities") or {} for p in body["pools"]}
    if set(got) != set(want):
        return "pools %s, want %s" % (sorted(got), sorted(want))
    for name, pool in want.items():
        for key, value in pool.items():
            if key in _NOT_COMPARED:
                continue
            if not same(got[name].get(key), value):
                return "%s: %s is %r, want %r" % (name, key, got[name].get(key), value)
    return ""


def wait_pools(api, pools_file, ledger_dir, seconds, hosts):
    want = expected_pools(pools_file, ledger_dir, [h for h in hosts.split(",") if h])
    start = time.monotonic()
    while True:
        try:
            why = mismatch(api, want)
        except OSError as e:
            why = str(e)
        if not why:
            print("cinder rig: %d pools listed after %.1fs" % (len(want), time.monotonic() - start),
                  file=sys.stderr)
            return
        if time.monotonic() - start > seconds:
            sys.exit("cinder rig: pools not as expected after %ss: %s" % (seconds, why))
        time.sleep(0.5)


def create_volume(api, vtype, size, timeout=60):
    status, body = api.v3("POST", "/volumes", {"volume": {
        "size": int(size), "volume_type": vtype, "name": "rig-%s" % vtype}})
    if status != 202:
        sys.exit("cinder rig: creating a %s GB %s volume: %s %s" % (size, vtype, status, body))
    vol_id = body["volume"]["id"]
    deadline = time.monotonic() + timeout
    while True:
        status, body = api.v3("GET", "/volumes/" + vol_id)
        if status == 200 and body["volume"]["status"] not in ("creating",):
            vol = body["volume"]
            return vol_id, vol["status"], vol.get("os-vol-host-attr:host") or "-"
        if time.monotonic() > deadline:
            sys.exit("cinder rig: volume %s still creating after %ss" % (vol_id, timeout))
        time.sleep(0.3)


def fill(api, vtype, size, most):
    n = 0
    while n < most:
        vol_id, status, host = create_volume(api, vtype, size)
        print("%s %s %s" % (vol_id, status, host), file=sys.stderr)
        if status != "available":
            break
        n += 1
    print(n)


def delete_volumes(api, timeout=60):
    status, body = api.v3("GET", "/volumes/detail?all_tenants=1")
    if status != 200:
        sys.exit("cinder rig: listing volumes: %s %s" % (status, body))
    ids = [v["id"] for v in body["volumes"]]
    for vol_id in ids:
        status, body = api.v3("DELETE", "/volumes/" + vol_id)
        if status not in (202, 404):
            sys.exit("cinder rig: deleting %s: %s %s" % (vol_id, status, body))
    deadline = time.monotonic() + timeout
    while ids:
        status, body = api.v3("GET", "/volumes/detail?all_tenants=1")
        left = {v["id"]: v["status"] for v in body["volumes"]} if status == 200 else {}
        ids = [i for i in ids if i in left]
        if not ids:
            break
        if time.monotonic() > deadline:
            sys.exit("cinder rig: volumes left after %ss: %s" % (timeout, left))
        time.sleep(0.3)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--pools-file", required=True)
    p.add_argument("--ledger-dir", default=os.environ.get("CINDER_RIG_LEDGER_DIR", ""))
    p.add_argument("cmd")
    p.add_argument("args", nargs="*")
    a = p.parse_args()
    api = API(a.url)
    if a.cmd == "wait-api":
        wait_api(api, float(a.args[0]) if a.args else 60)
    elif a.cmd == "ensure-types":
        ensure_types(api)
    elif a.cmd == "wait-pools":
        wait_pools(api, a.pools_file, a.ledger_dir, float(a.args[0]), a.args[1] if len(a.args) > 1 else "")
    elif a.cmd == "pools":
        status, body = api.v3("GET", "/scheduler-stats/get_pools?detail=true")
        print(json.dumps(body, indent=2))
        if status != 200:
            sys.exit(status)
    elif a.cmd == "create-volume":
        print("%s %s %s" % create_volume(api, a.args[0], a.args[1]))
    elif a.cmd == "fill":
        fill(api, a.args[0], a.args[1], int(a.args[2]) if len(a.args) > 2 else 100)
    elif a.cmd == "delete-volumes":
        delete_volumes(api)
    elif a.cmd == "wait-pool":
        deadline = time.monotonic() + float(a.args[1])
        while True:
            status, body = api.v3("GET", "/scheduler-stats/get_pools")
            if status == 200 and a.args[0] in [p["name"] for p in body["pools"]]:
                break
            if time.monotonic() > deadline:
                sys.exit("cinder rig: no pool %s after %ss" % (a.args[0], a.args[1]))
            time.sleep(0.5)
    elif a.cmd in ("disable", "enable"):
        status, body = api.v3("PUT", "/os-services/" + a.cmd, {"host": a.args[0], "binary": "cinder-volume"})
        if status != 200:
            sys.exit("cinder rig: %s %s: %s %s" % (a.cmd, a.args[0], status, body))
    else:
        sys.exit("unknown command %s" % a.cmd)


if __name__ == "__main__":
    main()
