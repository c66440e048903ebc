#!/usr/bin/python3
"""Records the Cinder test rig's answers for the collector's tests: one file
per answer (the body exactly as received) under collector/testdata/cinder/,
and index.json naming, per file, the request (method, path, query, headers)
and the answer's status and headers. The rig must run with its default pools
and no volumes (record.sh sees to that). Python 3 standard library only.

    /usr/bin/python3 e2e/cinder/record/record.py [--url URL] [--out DIR] [--only NAME...]

--only re-records just the named answers and keeps the others in index.json
(ctl.sh-driven recordings such as the stopped scheduler use it).
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

PROJECT = "0123456789abcdef0123456789abcdef"
TOKEN = "admin:" + PROJECT  # sent, never stored
POOLS = "/v3/%s/scheduler-stats/get_pools" % PROJECT


def v(x):
    return {"OpenStack-API-Version": "volume " + x}


# name -> (path, query params, request headers, send the token)
PLAN = {
    "versions": ("/", [], {}, True),
    "v3-versions": ("/v3/", [], {}, True),
    "pools": (POOLS, [], v("3.70"), True),
    "pools-detail": (POOLS, [("detail", "true")], v("3.70"), True),
    "pools-detail-3.0": (POOLS, [("detail", "true")], {}, True),
    "pools-detail-name-filter": (POOLS, [("detail", "true"), ("name", "rig-vol1@alpha#a1")], v("3.70"), True),
    "pools-name-host-only": (POOLS, [("name", "rig-vol1")], v("3.70"), True),
    "pools-name-regex": (POOLS, [("name", "rig-vol1@alpha#a.*")], v("3.70"), True),
    "pools-name-filter-3.27": (POOLS, [("name", "rig-vol1@alpha#a1")], v("3.27"), True),
    "pools-detail-volume-type-gold": (POOLS, [("detail", "true"), ("volume_type", "gold")], v("3.70"), True),
    # volume_type works when every pool left after name has free "infinite"/"unknown"
    "pools-volume-type-silver-name-b0": (POOLS, [("name", "rig-vol1@beta#b0"), ("volume_type", "silver")], v("3.70"), True),
    "pools-volume-type-gold-name-b0": (POOLS, [("name", "rig-vol1@beta#b0"), ("volume_type", "gold")], v("3.70"), True),
    "pools-volume-type-gold-3.34": (POOLS, [("volume_type", "gold")], v("3.34"), True),
    "pools-volume-type-nope": (POOLS, [("volume_type", "nope")], v("3.70"), True),
    "pools-backend-filter-3.30": (POOLS, [("volume_backend_name", "alpha")], v("3.30"), True),
    "error-invalid-filter": (POOLS, [("volume_backend_name", "alpha")], v("3.70"), True),
    "error-detail-not-boolean": (POOLS, [("detail", "maybe")], v("3.70"), True),
    "error-version-too-high": (POOLS, [], v("3.71"), True),
    "error-version-malformed": (POOLS, [], v("x"), True),
    "error-project-mismatch": (POOLS, [], v("3.70"), "admin:another"),
    "no-token": (POOLS, [], v("3.70"), False),
    # the services' state (up/down by service_down_time, enabled/disabled)
    "os-services-volume": ("/v3/%s/os-services" % PROJECT, [("binary", "cinder-volume")], v("3.70"), True),
}

# Recorded by hand-driven steps (record.sh runs them with ctl.sh).
EXTRA = {
    # after ctl.sh stop-scheduler: hangs rpc_response_timeout, then 500
    "error-scheduler-stopped": (POOLS, [("detail", "true")], v("3.70"), True),
    # after ctl.sh stop-volume rig-vol10 and service_down_time
    "pools-detail-vol10-stopped": (POOLS, [("detail", "true")], v("3.70"), True),
    # after volumes of type tiny filled rig-vol1@beta#b2 and one gold volume
    "pools-detail-with-volumes": (POOLS, [("detail", "true")], v("3.70"), True),
    # while rig-vol1@beta reports "pools": [], its volume service having
    # counted volumes since it started: no pool of rig-vol1@beta
    "pools-detail-backend-empty-list-after-volumes": (POOLS, [("detail", "true")], v("3.70"), True),
    # the same, the volume service freshly started with no volumes: one pool
    # named after the back end, without capacities
    "pools-detail-backend-without-pools": (POOLS, [("detail", "true")], v("3.70"), True),
}


def encode(params):
    """The query as Go's url.Values.Encode writes it: keys sorted, QueryEscape."""
    return "&".join("%s=%s" % (urllib.parse.quote_plus(k, safe=""), urllib.parse.quote_plus(val, safe=""))
                    for k, val in sorted(params))


def fetch(url, path, query, headers, token):
    full = url + path + ("?" + query if query else "")
    req = urllib.request.Request(full, method="GET")
    if token:
        req.add_header("X-Auth-Token", TOKEN if token is True else token)
    for k, val in headers.items():
        req.add_header(k, val)
    start = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=300) as resp:
            return resp.status, resp.headers, resp.read(), time.monotonic() - start
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read(), time.monotonic() - start


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="http://127.0.0.1:%s" % os.environ.get("CINDER_PORT", "18776"))
    p.add_argument("--out", default=os.path.join(here, "..", "..", "..", "collector", "testdata", "cinder"))
    p.add_argument("--only", nargs="*")
    a = p.parse_args()
    url = a.url.rstrip("/")
    out = os.path.normpath(a.out)
    os.makedirs(out, exist_ok=True)
    index_path = os.path.join(out, "index.json")
    index = {}
    if a.only and os.path.exists(index_path):
        with open(index_path, encoding="utf-8") as f:
            index = {e["file"][:-len(".json")]: e for e in json.load(f)["answers"]}
    plan = dict(PLAN, **EXTRA)
    names = a.only or list(PLAN)
    for name in names:
        path, params, headers, token = plan[name]
        query = encode(params)
        status, resp_headers, body, took = fetch(url, path, query, headers, token)
        with open(os.path.join(out, name + ".json"), "wb") as f:
            f.write(body)
        index[name] = {
            "file": name + ".json",
            "method": "GET",
            "path": path,
            "query": query,
            "headers": dict(headers, **({"X-Auth-Token": "<noauth admin:%s>" % ("another" if token == "admin:another" else PROJECT)} if token else {})),
            "status": status,
            "response_headers": {k: resp_headers.get(k, "") for k in ("Content-Type", "OpenStack-API-Version") if resp_headers.get(k)},
            "seconds": round(took, 1) if took >= 1 else None,
        }
        if index[name]["seconds"] is None:
            del index[name]["seconds"]
        print("%3d %s%s (%s, %.2fs)" % (status, path, "?" + query if query else "", name, took), file=sys.stderr)
    order = [n for n in list(PLAN) + list(EXTRA) if n in index]
    doc = {
        "recorded_from": "Cinder 21.3.1 (Zed; Debian bookworm python3-cinder 2:21.3.1-1~deb12u1), e2e/cinder rig "
                         "(auth_strategy=noauth, rig_driver.RigDriver with e2e/cinder/pools.default.json) on 127.0.0.1",
        "notes": "Recorded by e2e/cinder/record/record.sh. Volume hosts rig-vol1 (back ends alpha, beta) and "
                 "rig-vol10 (alpha); volume types gold (volume_backend_name=alpha), silver (beta), tiny "
                 "(beta, pool_name=b2). Bodies are stored exactly as received; pools come in the scheduler's "
                 "order (not sorted). Queries are encoded as Go's url.Values.Encode does. The noauth token "
                 "sent is described, not stored. See e2e/cinder/README.md for what each answer shows.",
        "answers": [index[n] for n in order],
    }
    with open(index_path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(index_path + ".tmp", index_path)
    print("wrote %s (%d answers)" % (out, len(order)), file=sys.stderr)


if __name__ == "__main__":
    main()
