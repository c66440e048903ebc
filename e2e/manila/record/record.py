#!/usr/bin/python3
"""Records the Manila test rig's answers into a cassette for the collector's
tests (collector/testdata/manila/rig.json). The rig must run with its
default pools (record.sh sees to that). Python 3 standard library only.

    /usr/bin/python3 e2e/manila/record/record.py [--url URL] [--out FILE]
"""

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

PROJECT = "0123456789abcdef0123456789abcdef"
TOKEN = "admin:" + PROJECT  # sent, never stored
BASE = "/v2/%s/scheduler-stats/pools" % PROJECT


def encode(params):
    """The query as Go's url.Values.Encode writes it: keys sorted, QueryEscape."""
    return "&".join("%s=%s" % (urllib.parse.quote_plus(k, safe=""), urllib.parse.quote_plus(v, safe=""))
                    for k, v in sorted(params))


def fetch(url, method, path, query, headers):
    full = url + path + ("?" + query if query else "")
    req = urllib.request.Request(full, method=method)
    req.add_header("X-Auth-Token", TOKEN)
    for k, v in headers.items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def share_type_id(url, name):
    status, _, body = fetch(url, "GET", "/v2/%s/types" % PROJECT, "",
                            {"X-OpenStack-Manila-API-Version": "2.73"})
    if status != 200:
        sys.exit("listing share types: %s" % status)
    for t in json.loads(body)["share_types"]:
        if t["name"] == name:
            return t["id"]
    sys.exit("no share type %s (was start.sh run?)" % name)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="http://127.0.0.1:%s" % os.environ.get("MANILA_PORT", "18786"))
    p.add_argument("--out", default=os.path.join(here, "..", "..", "..", "collector", "testdata", "manila", "rig.json"))
    a = p.parse_args()
    url = a.url.rstrip("/")
    alpha = share_type_id(url, "alpha")
    v273 = {"X-OpenStack-Manila-API-Version": "2.73"}
    v222 = {"X-OpenStack-Manila-API-Version": "2.22"}
    plan = [
        ("/", [], {}),
        (BASE + "/detail", [], v273),
        (BASE, [], v273),
        (BASE, [("host", "rig-node1")], v273),
        (BASE, [("host", "rig-node1$")], v273),
        (BASE, [("backend", "alpha")], v273),
        (BASE, [("pool", "a0")], v273),
        (BASE, [("name", "rig-node1@alpha#a1")], v273),
        (BASE, [("share_type", "alpha")], v273),
        (BASE, [("share_type", alpha)], v273),
        (BASE, [("host", "rig-node1$"), ("backend", "beta")], v273),
        (BASE, [("share_type", "nope")], v273),
        (BASE, [("Host", "x")], v273),
        (BASE + "/detail", [("share_type", "alpha")], v222),
    ]
    interactions = []
    for path, params, headers in plan:
        query = encode(params)
        status, resp_headers, body = fetch(url, "GET", path, query, headers)
        interactions.append({
            "method": "GET",
            "path": path,
            "query": query,
            "headers": headers,
            "status": status,
            "response_headers": {"Content-Type": resp_headers.get("Content-Type", "")},
            "body": body.decode("utf-8"),
            "edited": False,
        })
        print("%3d %s%s" % (status, path, "?" + query if query else ""), file=sys.stderr)
    cassette = {
        "recorded_from": "Manila 15.1.0 (Debian bookworm python3-manila 1:15.1.0-2), e2e/manila rig "
                         "(auth_strategy=noauth, RigDriver with e2e/manila/pools.default.json) at %s" % url,
        "notes": "Recorded by e2e/manila/record/record.sh. Hosts rig-node1 (back ends alpha, beta) and "
                 "rig-node10 (alpha). The share type alpha has id %s in this recording (ids are random "
                 "per rig). Pools are listed in the scheduler's order (not sorted). The noauth "
                 "token sent is not stored." % alpha,
        "interactions": interactions,
    }
    out = os.path.normpath(a.out)
    with open(out + ".tmp", "w", encoding="utf-8") as f:
        json.dump(cassette, f, indent=2)
        f.write("\n")
    os.replace(out + ".tmp", out)
    print("wrote %s (%d interactions)" % (out, len(interactions)), file=sys.stderr)


if __name__ == "__main__":
    main()
