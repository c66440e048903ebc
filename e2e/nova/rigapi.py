#!/usr/bin/python3
"""Talks to the Nova test rig's API and its Placement (stdlib only), for
start.sh, ctl.sh and the recordings.

Subcommands:
  wait-computes SECONDS HOST... [--discover STATE_DIR]
        until nova-api answers, then until every HOST is an up (or forced
        down) nova-compute service, listed in os-hypervisors (2.53) and a resource
        provider of the same uuid with a VCPU inventory in Placement;
        --discover (with the rig's state directory) fails as soon as a
        compute's process has exited, and runs `nova-manage cell_v2 discover_hosts` until the hosts
        are mapped (compute nodes are created by the computes' first
        resource update, some seconds after they start)
  seed  the recordings' cloud, idempotent: aggregates rig-agg-az
        (availability zone rig-az1: rig-cmp1, rig-cmp2) and rig-agg-pinned
        (metadata pinned=true: rig-cmp2, rig-cmp3); the FLAVORS below; and
        the ALLOCATIONS below written straight into Placement (Nova cannot
        boot a server without Glance and Neutron)
  service HOST enable|disable [REASON]|down|up
        PUT /os-services/{id} (2.53): enable, disable with a reason,
        forced_down true/false; prints the service
  wait-down HOST SECONDS
        until os-services shows HOST's nova-compute down; prints the seconds
        waited and the service's last heartbeat (updated_at)
  nova METHOD PATH [BODY] [--version 2.x]   one request, prints the body
  placement METHOD PATH [BODY] [--version 1.x]
"""

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the work tree

# noauth2: the user part of the token says admin; the project part is the
# request's project (any string; Nova does not check it).
PROJECT = "0123456789abcdef0123456789abcdef"
TOKEN = "admin:" + PROJECT
NOVA_VERSION = "2.53"
# Placement's noauth2 accepts any token whose user part is admin.
PLACEMENT_TOKEN = "admin"
PLACEMENT_VERSION = "1.39"


class API:
    def __init__(self, url, token, service, version):
        self.url = url.rstrip("/")
        self.token = token
        self.service = service
        self.version = version

    def call(self, method, path, body=None, version=None, timeout=60, headers=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if self.token:
            req.add_header("X-Auth-Token", self.token)
        req.add_header("OpenStack-API-Version", "%s %s" % (self.service, version or self.version))
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw, status, hdrs = resp.read(), resp.status, resp.headers
        except urllib.error.HTTPError as e:
            raw, status, hdrs = e.read(), e.code, e.headers
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return status, parsed, hdrs

    def ok(self, method, path, body=None, version=None, expect=(200, 201, 202, 204)):
        status, parsed, _ = self.call(method, path, body, version)
        if status not in expect:
            raise SystemExit("%s %s%s: %s %s" % (method, self.url, path, status, parsed))
        return parsed


# Flavors of the recordings: (id, name, vcpus, ram MB, disk GB, swap MB,
# ephemeral GB, public, description, extra specs).
FLAVORS = [
    ("rig-small", "rig.small", 1, 2048, 20, 0, 0, True, None, {}),
    ("rig-large", "rig.large", 8, 32768, 200, 4096, 100, True, "swap and ephemeral", {}),
    ("rig-pinned", "rig.pinned", 2, 4096, 40, 0, 0, True, None,
     {"resources:VCPU": "0", "resources:PCPU": "2", "hw:cpu_policy": "dedicated",
      "trait:CUSTOM_X": "required"}),
    ("rig-dedicated", "rig.dedicated", 4, 8192, 40, 0, 0, True, None,
     {"hw:cpu_policy": "dedicated", "aggregate_instance_extra_specs:pinned": "true"}),
    ("rig-private", "rig.private", 4, 8192, 0, 0, 0, False, "private, no root disk", {}),
]
AGGREGATES = [
    ("rig-agg-az", "rig-az1", ["rig-cmp1", "rig-cmp2"], {}),
    ("rig-agg-pinned", None, ["rig-cmp2", "rig-cmp3"], {"pinned": "true"}),
]
# Consumers allocated in Placement: (consumer uuid, host, resources), the
# flavor each stands for in the comment.
ALLOCATIONS = [
    ("a0000000-0000-4000-8000-000000000001", "rig-cmp1", {"VCPU": 1, "MEMORY_MB": 2048, "DISK_GB": 20}),   # rig.small
    ("a0000000-0000-4000-8000-000000000002", "rig-cmp1", {"VCPU": 1, "MEMORY_MB": 2048, "DISK_GB": 20}),   # rig.small
    ("a0000000-0000-4000-8000-000000000003", "rig-cmp3", {"PCPU": 2, "MEMORY_MB": 4096, "DISK_GB": 40}),   # rig.pinned
]


def nova_api(args):
    return API(args.url, TOKEN, "compute", NOVA_VERSION)


def placement_api(args):
    return API(args.placement, PLACEMENT_TOKEN, "placement", PLACEMENT_VERSION)


def discover(state_dir):
    conf = os.path.join(state_dir, "nova.conf")
    subprocess.run(
        ["/usr/bin/python3", os.path.join(os.path.dirname(os.path.abspath(__file__)), "nova_cmd.py"),
         "manage", "--config-file", conf,
         "--config-file", os.path.join(state_dir, "nova-db.conf"),
         "--log-file", os.path.join(state_dir, "logs", "manage.log"),
         "cell_v2", "discover_hosts"],
        check=True, stdout=subprocess.DEVNULL)


def pid_alive(pidfile):
    try:
        with open(pidfile) as f:
            os.kill(int(f.read().strip()), 0)
        return True
    except (OSError, ValueError):
        return False


def compute_state(nova, placement, hosts):
    """Returns (ready hosts, what is missing) for HOSTS."""
    missing = []
    try:
        st, svcs, _ = nova.call("GET", "/v2.1/os-services?binary=nova-compute", timeout=10)
        st2, hyps, _ = nova.call("GET", "/v2.1/os-hypervisors/detail", timeout=10)
    except OSError as e:
        return [], ["nova-api: %s" % e]
    if st != 200 or st2 != 200:
        return [], ["nova-api: %s %s" % (st, st2)]
    # Disabled or forced down by a test (kept in a kept database) counts:
    # the process runs, which is what start.sh waits for.
    up = {s["host"] for s in svcs["services"] if s["state"] == "up" or s.get("forced_down")}
    hyp = {h["service"]["host"]: h for h in hyps["hypervisors"]}
    ready = []
    for h in hosts:
        if h not in up:
            missing.append("%s: service not up" % h)
            continue
        if h not in hyp:
            missing.append("%s: not in os-hypervisors (unmapped?)" % h)
            continue
        try:
            st, inv, _ = placement.call("GET", "/resource_providers/%s/inventories" % hyp[h]["id"], timeout=10)
        except OSError as e:
            missing.append("%s: placement: %s" % (h, e))
            continue
        if st != 200 or "VCPU" not in inv.get("inventories", {}):
            missing.append("%s: no VCPU inventory in placement (%s)" % (h, st))
            continue
        ready.append(h)
    return ready, missing


def wait_computes(args):
    nova, placement = nova_api(args), placement_api(args)
    deadline = time.monotonic() + args.seconds
    last_discover = 0.0
    missing = ["nothing checked yet"]
    while time.monotonic() < deadline:
        if args.discover:
            dead = [h for h in args.hosts if not pid_alive(os.path.join(args.discover, "run", "compute-%s.pid" % h))]
            if dead:
                raise SystemExit("nova-compute exited on %s (see %s)" % (
                    ", ".join(dead), os.path.join(args.discover, "logs")))
        ready, missing = compute_state(nova, placement, args.hosts)
        if not missing:
            return
        if args.discover and any("unmapped" in m for m in missing) and time.monotonic() - last_discover > 3:
            discover(args.discover)
            last_discover = time.monotonic()
        time.sleep(1)
    raise SystemExit("computes not ready in %d s: %s" % (args.seconds, "; ".join(missing)))


def hypervisor_ids(nova):
    """host -> compute node uuid (= resource provider uuid)."""
    hyps = nova.ok("GET", "/v2.1/os-hypervisors/detail", version="2.53")["hypervisors"]
    return {h["service"]["host"]: h["id"] for h in hyps}


def seed(nova, placement):
    have = {a["name"]: a for a in nova.ok("GET", "/v2.1/os-aggregates", version="2.41")["aggregates"]}
    for name, az, hosts, meta in AGGREGATES:
        agg = have.get(name)
        if agg is None:
            body = {"name": name}
            if az:
                body["availability_zone"] = az
            agg = nova.ok("POST", "/v2.1/os-aggregates", {"aggregate": body}, version="2.41")["aggregate"]
            agg["hosts"] = []
        for h in hosts:
            if h not in agg["hosts"]:
                nova.ok("POST", "/v2.1/os-aggregates/%s/action" % agg["id"], {"add_host": {"host": h}}, version="2.41")
        if meta:
            nova.ok("POST", "/v2.1/os-aggregates/%s/action" % agg["id"],
                    {"set_metadata": {"metadata": meta}}, version="2.41")
    have = {f["id"] for f in nova.ok("GET", "/v2.1/flavors?is_public=None", version="2.61")["flavors"]}
    for fid, name, vcpus, ram, disk, swap, eph, public, desc, specs in FLAVORS:
        if fid not in have:
            body = {"id": fid, "name": name, "vcpus": vcpus, "ram": ram, "disk": disk,
                    "swap": swap, "OS-FLV-EXT-DATA:ephemeral": eph,
                    "os-flavor-access:is_public": public}
            if desc:
                body["description"] = desc
            nova.ok("POST", "/v2.1/flavors", {"flavor": body}, version="2.55")
            if specs:
                nova.ok("POST", "/v2.1/flavors/%s/os-extra_specs" % fid, {"extra_specs": specs}, version="2.61")
    rp = hypervisor_ids(nova)
    for consumer, host, resources in ALLOCATIONS:
        cur = placement.ok("GET", "/allocations/%s" % consumer, version="1.38")
        body = {
            "allocations": {rp[host]: {"resources": resources}},
            "consumer_generation": cur.get("consumer_generation"),
            "project_id": PROJECT, "user_id": "admin", "consumer_type": "INSTANCE",
        }
        placement.ok("PUT", "/allocations/%s" % consumer, body, version="1.38")


def service(nova, host, action, reason=None):
    svcs = nova.ok("GET", "/v2.1/os-services?binary=nova-compute&host=%s" % host, version="2.53")["services"]
    if not svcs:
        raise SystemExit("no nova-compute service on %s" % host)
    body = {"enable": {"status": "enabled"},
            "disable": {"status": "disabled", "disabled_reason": reason or "rig"},
            "down": {"forced_down": True},
            "up": {"forced_down": False}}[action]
    return nova.ok("PUT", "/v2.1/os-services/%s" % svcs[0]["id"], body, version="2.53")["service"]


def wait_down(nova, host, seconds):
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        svcs = nova.ok("GET", "/v2.1/os-services?binary=nova-compute&host=%s" % host, version="2.53")["services"]
        if svcs and svcs[0]["state"] == "down":
            print("%s down after %.1f s (last heartbeat %s)" % (host, time.monotonic() - t0, svcs[0]["updated_at"]))
            return
        time.sleep(0.5)
    raise SystemExit("%s not down in %d s" % (host, seconds))


def one_request(api, args):
    body = json.loads(args.body) if args.body else None
    status, parsed, _ = api.call(args.method, args.path, body, args.version)
    json.dump(parsed, sys.stdout, indent=2, sort_keys=True)
    print()
    if status >= 400:
        print("HTTP %d" % status, file=sys.stderr)
        sys.exit(1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="http://127.0.0.1:%s" % os.environ.get("NOVA_PORT", "18774"))
    p.add_argument("--placement", default="http://127.0.0.1:%s" % os.environ.get("NOVA_RIG_PLACEMENT_PORT", "18781"))
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("wait-computes")
    w.add_argument("seconds", type=int)
    w.add_argument("hosts", nargs="+")
    w.add_argument("--discover", metavar="STATE_DIR")
    sub.add_parser("seed")
    wd = sub.add_parser("wait-down")
    wd.add_argument("host")
    wd.add_argument("seconds", type=int)
    sv = sub.add_parser("service")
    sv.add_argument("host")
    sv.add_argument("action", choices=["enable", "disable", "down", "up"])
    sv.add_argument("reason", nargs="?")
    for name in ("nova", "placement"):
        r = sub.add_parser(name)
        r.add_argument("method")
        r.add_argument("path")
        r.add_argument("body", nargs="?")
        r.add_argument("--version")
    args = p.parse_args()
    if args.cmd == "wait-computes":
        wait_computes(args)
    elif args.cmd == "wait-down":
        wait_down(nova_api(args), args.host, args.seconds)
    elif args.cmd == "seed":
        seed(nova_api(args), placement_api(args))
    elif args.cmd == "service":
        json.dump(service(nova_api(args), args.host, args.action, args.reason), sys.stdout, indent=2, sort_keys=True)
        print()
    elif args.cmd == "nova":
        one_request(nova_api(args), args)
    else:
        one_request(placement_api(args), args)


if __name__ == "__main__":
    main()
