#!/usr/bin/python3
"""Records the Nova test rig's answers, and its Placement's, into cassettes
for a Nova collector's tests (collector/testdata/nova/). Python 3 standard
library only. record.sh runs it on a fresh rig:

    /usr/bin/python3 e2e/nova/record/record.py seeded|down|hung [--out DIR]

seeded: after `rigapi.py seed`, rig-cmp2 disabled and rig-cmp3 forced down;
        writes nova.json and placement.json
down:   after rig-cmp1's nova-compute was stopped and is reported down;
        writes nova-cmp1-down.json
hung:   right after rig-cmp2's nova-compute was frozen (SIGSTOP), while it
        still counts as up: os-hypervisors/detail at 2.88+ asks every up
        compute for its uptime over RPC and fails after
        rpc_response_timeout (60 s); 2.87 answers at once. Writes
        nova-cmp2-hung.json

The cassettes have the shape the collector's fixtureServer replays
(collector/fixture_test.go): method, path, query (encoded as Go's
url.Values.Encode), the microversion header sent, status, a few response
headers, the body exactly as received. The noauth token is not stored
(except the non-admin one of the 403, which is no credential).
"""

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
import rigapi  # noqa: E402

KEEP_HEADERS = ("Content-Type", "OpenStack-API-Version", "X-OpenStack-Nova-API-Version")
RECORDED_FROM_NOVA = ("Nova 26.2.2 (Zed; Debian bookworm python3-nova 2:26.2.2-1~deb12u4), e2e/nova rig "
                      "([api]auth_strategy=noauth2, eventlet nova-api, computes rig-cmp1..3 with "
                      "rig_driver.RigDriver and e2e/nova/computes.default.json) on 127.0.0.1")
RECORDED_FROM_PLACEMENT = ("Placement 8.0.0 (Debian bookworm python3-placement), the e2e/placement rig "
                           "(noauth2) that the e2e/nova rig's computes report to, on 127.0.0.1")


def encode(params):
    """The query as Go's url.Values.Encode writes it: keys sorted, QueryEscape."""
    return "&".join("%s=%s" % (urllib.parse.quote_plus(k, safe=""), urllib.parse.quote_plus(v, safe=""))
                    for k, v in sorted(params, key=lambda kv: kv[0]))


class Recorder:
    def __init__(self, base, token):
        self.base = base.rstrip("/")
        self.token = token
        self.interactions = []

    def get(self, path, params=(), headers=None, token=None):
        headers = dict(headers or {})
        query = encode(params)
        req = urllib.request.Request(self.base + path + ("?" + query if query else ""))
        tok = self.token if token is None else token
        if tok:
            req.add_header("X-Auth-Token", tok)
        for k, v in headers.items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                status, rh, body = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            status, rh, body = e.code, e.headers, e.read()
        sent = dict(headers)
        if token is not None and token != "":
            sent["X-Auth-Token"] = token
        self.interactions.append({
            "method": "GET", "path": path, "query": query, "headers": sent, "status": status,
            "response_headers": {k: rh[k] for k in KEEP_HEADERS if rh.get(k) is not None},
            "body": body.decode("utf-8"), "edited": False,
        })
        print("%3d %s%s %s" % (status, path, "?" + query if query else "", " ".join(headers.values())),
              file=sys.stderr)
        return status, (json.loads(body) if body and rh.get("Content-Type", "").startswith("application/json") else None)


def cv(v):
    return {"OpenStack-API-Version": "compute " + v}


def pv(v):
    return {"OpenStack-API-Version": "placement " + v}


def write(path, recorded_from, notes, interactions):
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump({"recorded_from": recorded_from, "notes": notes, "interactions": interactions}, f, indent=2)
        f.write("\n")
    os.replace(path + ".tmp", path)
    print("wrote %s (%d interactions)" % (path, len(interactions)), file=sys.stderr)


def record_nova_state(n, versions):
    """What a collector polls: services, hypervisors (several microversions)."""
    for v in versions:
        n.get("/v2.1/os-services", [("binary", "nova-compute")], cv(v))
    for v in versions:
        n.get("/v2.1/os-hypervisors/detail", [], cv(v))


def seeded(args, nova_url, placement_url):
    n = Recorder(nova_url, rigapi.TOKEN)
    n.get("/", [], {})
    n.get("/v2.1/", [], {})
    n.get("/v2.1/", [], cv("2.93"))
    record_nova_state(n, ["2.1", "2.53", "2.87", "2.88", "2.93"])
    n.get("/v2.1/os-services", [], cv("2.53"))
    _, page = n.get("/v2.1/os-hypervisors/detail", [("limit", "2")], cv("2.53"))
    marker = page["hypervisors"][-1]["id"]
    n.get("/v2.1/os-hypervisors/detail", [("limit", "2"), ("marker", marker)], cv("2.53"))
    n.get("/v2.1/os-hypervisors", [], cv("2.53"))
    n.get("/v2.1/os-hypervisors/detail", [("with_servers", "true")], cv("2.53"))
    n.get("/v2.1/os-hypervisors/statistics", [], cv("2.87"))
    n.get("/v2.1/os-hypervisors/statistics", [], cv("2.88"))
    for v in ("2.1", "2.41", "2.93"):
        n.get("/v2.1/os-aggregates", [], cv(v))
    n.get("/v2.1/os-availability-zone/detail", [], cv("2.1"))
    for v in ("2.1", "2.55", "2.61", "2.75", "2.93"):
        n.get("/v2.1/flavors/detail", [("is_public", "None")], cv(v))
    n.get("/v2.1/flavors/detail", [], cv("2.61"))
    for f in rigapi.FLAVORS:
        n.get("/v2.1/flavors/%s/os-extra_specs" % f[0], [], cv("2.1"))
    n.get("/v2.1/flavors/rig-private/os-flavor-access", [], cv("2.1"))
    # Errors.
    n.get("/v2.1/os-hypervisors/detail", [], cv("2.94"))
    n.get("/v2.1/os-hypervisors/detail", [], cv("2.x"))
    n.get("/v2.1/os-hypervisors/detail", [], cv("2.53"), token="demo:" + rigapi.PROJECT)
    n.get("/v2.1/os-hypervisors/detail", [], cv("2.53"), token="")
    write(os.path.join(args.out, "nova.json"), RECORDED_FROM_NOVA,
          "Recorded by e2e/nova/record/record.sh on a fresh rig after `rigapi.py seed` (aggregates, "
          "flavors, Placement allocations: see e2e/nova/rigapi.py), rig-cmp2 disabled (reason "
          "'rig: maintenance') and rig-cmp3 forced down. Hypervisor, service and aggregate uuids are "
          "random per rig; the compute node uuid is its resource provider's uuid in placement.json. "
          "Token: X-Auth-Token admin:%s (noauth2, admin), not stored; the 403 was sent 'demo:...', "
          "the 204 no token. See e2e/nova/README.md." % rigapi.PROJECT,
          n.interactions)

    p = Recorder(placement_url, rigapi.PLACEMENT_TOKEN)
    p.get("/", [], {})
    v = pv("1.39")
    _, rps = p.get("/resource_providers", [], v)
    for rp in rps["resource_providers"]:
        for sub in ("inventories", "usages", "traits", "aggregates", "allocations"):
            p.get("/resource_providers/%s/%s" % (rp["uuid"], sub), [], v)
    _, aggs = n_get_json(nova_url, "/v2.1/os-aggregates", "2.41")
    for agg in aggs["aggregates"]:
        p.get("/resource_providers", [("member_of", agg["uuid"])], v)
    p.get("/resource_providers", [("required", "!COMPUTE_STATUS_DISABLED")], v)
    p.get("/usages", [("project_id", rigapi.PROJECT)], v)
    # What Nova's scheduler asks Placement for each flavor: the queries
    # flavor_requests.py computed with Nova's own code, at the microversion
    # Nova 26's report client sends (1.36); then rig.small's without the
    # COMPUTE_STATUS_DISABLED pre-filter (the disabled host comes back).
    if args.flavor_requests:
        with open(args.flavor_requests) as f:
            queries = json.load(f)
        for fid in sorted(queries):
            p.get("/allocation_candidates", urllib.parse.parse_qsl(queries[fid]), pv("1.36"))
        params = [kv for kv in urllib.parse.parse_qsl(queries["rig-small"]) if kv[0] != "root_required"]
        p.get("/allocation_candidates", params, pv("1.36"))
    write(os.path.join(args.out, "placement.json"), RECORDED_FROM_PLACEMENT,
          "Recorded by e2e/nova/record/record.sh right after nova.json, same rig: the three compute "
          "nodes' providers as Nova made them (inventories from the computes file and each host's "
          "config, COMPUTE_* traits, COMPUTE_STATUS_DISABLED on rig-cmp2, aggregates mirrored from "
          "Nova's host aggregates with the same uuids), the allocations written by `rigapi.py seed`, "
          "and GET /allocation_candidates at 1.36 with the query Nova's scheduler code builds for each "
          "flavor (flavor-requests.json: resources, required traits, "
          "root_required=!COMPUTE_STATUS_DISABLED, limit=1000), then rig.small's without "
          "root_required. "
          "Token 'admin', not stored.",
          p.interactions)


def down(args, nova_url):
    n = Recorder(nova_url, rigapi.TOKEN)
    record_nova_state(n, ["2.53", "2.93"])
    write(os.path.join(args.out, "nova-cmp1-down.json"), RECORDED_FROM_NOVA,
          "Recorded by e2e/nova/record/record.sh after nova.json, same rig: rig-cmp1's nova-compute "
          "stopped (SIGTERM) and reported down (no heartbeat for service_down_time = 10 s); rig-cmp2 "
          "still disabled, rig-cmp3 still forced down. Token not stored.",
          n.interactions)


def hung(args, nova_url):
    n = Recorder(nova_url, rigapi.TOKEN)
    n.get("/v2.1/os-hypervisors/detail", [], cv("2.93"))
    n.get("/v2.1/os-hypervisors/detail", [], cv("2.87"))
    write(os.path.join(args.out, "nova-cmp2-hung.json"), RECORDED_FROM_NOVA,
          "Recorded by e2e/nova/record/record.sh after nova-cmp1-down.json, same rig: rig-cmp2's "
          "nova-compute frozen (SIGSTOP) just before, while still reported up. At 2.93 the detail "
          "view calls get_host_uptime over RPC on every up compute: 500 MessagingTimeout after "
          "rpc_response_timeout (60 s). At 2.87 (no uptime) it answers at once. Token not stored.",
          n.interactions)


def n_get_json(base, path, version):
    api = rigapi.API(base, rigapi.TOKEN, "compute", version)
    return 200, api.ok("GET", path)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["seeded", "down", "hung"])
    p.add_argument("--url", default="http://127.0.0.1:%s" % os.environ.get("NOVA_PORT", "18774"))
    p.add_argument("--placement", default="http://127.0.0.1:%s" % os.environ.get("NOVA_RIG_PLACEMENT_PORT", "18781"))
    p.add_argument("--flavor-requests", help="flavor id -> allocation candidates query (flavor_requests.py)")
    p.add_argument("--out", default=os.path.normpath(os.path.join(here, "..", "..", "..", "collector", "testdata", "nova")))
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.what == "seeded":
        seeded(args, args.url, args.placement)
    elif args.what == "down":
        down(args, args.url)
    else:
        hung(args, args.url)


if __name__ == "__main__":
    main()
