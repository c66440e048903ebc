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
        the ALLOCATIONS below written straight into Placement (consumers
        that are no Nova instance; `boot` makes real ones)
  service HOST enable|disable [REASON]|down|up
        PUT /os-services/{id} (2.53): enable, disable with a reason,
        forced_down true/false; prints the service
  wait-down HOST SECONDS
        until os-services shows HOST's nova-compute down; prints the seconds
        waited and the service's last heartbeat (updated_at)
  wait-up HOST SECONDS
        the same, until HOST's nova-compute is up
  ensure-image [ID_FILE]
        the image rig-image in the rig's Glance (4 KiB of zeros, raw, bare),
        uploaded unless an active one is there; prints its id and
        writes it to ID_FILE
  image-id  prints the id of the active image rig-image
  boot FLAVOR_NAME [--az AZ] [--count N] [--timeout SECONDS]
        POST /servers (2.37, "networks": "none", rig-image,
        min_count = max_count = N), then waits until every server of the
        request is ACTIVE or ERROR; prints a JSON summary (active, error,
        faults, hosts, seconds). Exits 1 if some are still building after
        SECONDS (default 120).
  delete-servers [--timeout SECONDS]
        deletes every server (all projects), waits until none is listed and
        Placement has no allocation left for any of them; prints a JSON
        summary
  nova METHOD PATH [BODY] [--version 2.x]   one request, prints the body
  placement METHOD PATH [BODY] [--version 1.x]
  glance METHOD PATH [BODY]
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
        if self.version:
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


# The rig's Glance: no Keystone, so no token; Glance takes its version
# from the path.
IMAGE_NAME = "rig-image"
IMAGE_BYTES = 4096
# POST /servers with "networks": "none" takes 2.37.
BOOT_VERSION = "2.37"


def nova_api(args):
    return API(args.url, TOKEN, "compute", NOVA_VERSION)


def placement_api(args):
    return API(args.placement, PLACEMENT_TOKEN, "placement", PLACEMENT_VERSION)


def glance_api(args):
    return API(args.glance, None, "image", None)


def active_image(glance):
    imgs = glance.ok("GET", "/v2/images?name=%s&status=active" % IMAGE_NAME)["images"]
    return imgs[0]["id"] if imgs else None


def ensure_image(glance, id_file=None):
    """Uploads rig-image unless an active one is there; returns its id."""
    image_id = active_image(glance)
    if image_id is None:
        # An image left queued by an interrupted upload is replaced.
        for img in glance.ok("GET", "/v2/images?name=%s" % IMAGE_NAME)["images"]:
            glance.ok("DELETE", "/v2/images/%s" % img["id"])
        # Not public: Zed's policy gives publicize_image to role:admin only,
        # and the unauthenticated context has no roles (403). Its context
        # is admin, so every request sees the image anyway.
        img = glance.ok("POST", "/v2/images", {
            "name": IMAGE_NAME, "disk_format": "raw", "container_format": "bare"})
        req = urllib.request.Request(glance.url + "/v2/images/%s/file" % img["id"],
                                     data=bytes(IMAGE_BYTES), method="PUT")
        req.add_header("Content-Type", "application/octet-stream")
        with urllib.request.urlopen(req, timeout=60) as resp:
            if resp.status != 204:
                raise SystemExit("upload of %s: %s" % (img["id"], resp.status))
        image_id = active_image(glance)
        if image_id != img["id"]:
            raise SystemExit("image %s not active after its upload" % img["id"])
    if id_file:
        with open(id_file + ".tmp", "w") as f:
            print(image_id, file=f)
        os.replace(id_file + ".tmp", id_file)
    return image_id


def flavor_id(nova, name):
    for f in nova.ok("GET", "/v2.1/flavors?is_public=None")["flavors"]:
        if f["name"] == name or f["id"] == name:
            return f["id"]
    raise SystemExit("no flavor %s" % name)


def boot(nova, glance, flavor, count=1, az=None, timeout=120):
    """Boots COUNT servers of FLAVOR in one request and waits until each is
    ACTIVE or ERROR. Nova's multi-create is all or nothing: when the
    scheduler cannot place all COUNT, all of them go to ERROR (NoValidHost,
    in cell0)."""
    t0 = time.monotonic()
    name = "rig-%s-%d" % (flavor.replace(".", "-"), int(time.time() * 1000))
    server = {"name": name, "flavorRef": flavor_id(nova, flavor), "imageRef": ensure_image(glance),
              "networks": "none", "min_count": count, "max_count": count,
              "return_reservation_id": True}
    if az:
        server["availability_zone"] = az
    rid = nova.ok("POST", "/v2.1/servers", {"server": server}, version=BOOT_VERSION)["reservation_id"]
    servers = []
    while True:
        servers = nova.ok("GET", "/v2.1/servers/detail?all_tenants=1&reservation_id=%s" % rid,
                          version=BOOT_VERSION)["servers"]
        building = [s for s in servers if s["status"] not in ("ACTIVE", "ERROR")]
        if len(servers) == count and not building:
            break
        if time.monotonic() - t0 > timeout:
            break
        time.sleep(0.2)
    faults, hosts = {}, {}
    for s in servers:
        # The conductor writes a server's fault just after its ERROR state.
        t1 = time.monotonic()
        while s["status"] == "ERROR" and not s.get("fault") and time.monotonic() - t1 < 5:
            time.sleep(0.2)
            s.update(nova.ok("GET", "/v2.1/servers/%s" % s["id"], version=BOOT_VERSION)["server"])
        if s["status"] == "ERROR":
            msg = (s.get("fault") or {}).get("message", "no fault")
            faults[msg] = faults.get(msg, 0) + 1
        elif s["status"] == "ACTIVE":
            h = s.get("OS-EXT-SRV-ATTR:host")
            hosts[h] = hosts.get(h, 0) + 1
    summary = {
        "flavor": flavor, "requested": count, "reservation_id": rid,
        "active": sum(s["status"] == "ACTIVE" for s in servers),
        "error": sum(s["status"] == "ERROR" for s in servers),
        "building": count - sum(s["status"] in ("ACTIVE", "ERROR") for s in servers),
        "faults": faults, "hosts": hosts, "seconds": round(time.monotonic() - t0, 2),
        "servers": sorted(s["id"] for s in servers),
    }
    return summary


def delete_servers(nova, placement, timeout=120):
    """Deletes every server, then waits until none is listed and none has an
    allocation left in Placement."""
    t0 = time.monotonic()
    servers = nova.ok("GET", "/v2.1/servers?all_tenants=1&limit=1000")["servers"]
    ids = [s["id"] for s in servers]
    for i in ids:
        nova.ok("DELETE", "/v2.1/servers/%s" % i, expect=(204, 404))
    gone = left = None
    while time.monotonic() - t0 < timeout:
        if gone is None and not nova.ok("GET", "/v2.1/servers?all_tenants=1&limit=1000")["servers"]:
            gone = round(time.monotonic() - t0, 2)
        if gone is not None:
            left = [i for i in ids if placement.ok("GET", "/allocations/%s" % i)["allocations"]]
            if not left:
                break
        time.sleep(0.2)
    summary = {"deleted": len(ids), "servers_gone_s": gone,
               "allocations_gone_s": round(time.monotonic() - t0, 2) if gone is not None and not left else None,
               "allocations_left": left if left is not None else ids}
    return summary


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


def wait_down(nova, host, seconds, state="down"):
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        svcs = nova.ok("GET", "/v2.1/os-services?binary=nova-compute&host=%s" % host, version="2.53")["services"]
        if svcs and svcs[0]["state"] == state:
            print("%s %s after %.1f s (last heartbeat %s)" % (host, state, time.monotonic() - t0, svcs[0]["updated_at"]))
            return
        time.sleep(0.5)
    raise SystemExit("%s not %s in %d s" % (host, state, seconds))


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
    p.add_argument("--glance", default="http://127.0.0.1:%s" % os.environ.get("NOVA_RIG_GLANCE_PORT", "19292"))
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("wait-computes")
    w.add_argument("seconds", type=int)
    w.add_argument("hosts", nargs="+")
    w.add_argument("--discover", metavar="STATE_DIR")
    sub.add_parser("seed")
    wd = sub.add_parser("wait-down")
    wd.add_argument("host")
    wd.add_argument("seconds", type=int)
    wu = sub.add_parser("wait-up")
    wu.add_argument("host")
    wu.add_argument("seconds", type=int)
    sv = sub.add_parser("service")
    sv.add_argument("host")
    sv.add_argument("action", choices=["enable", "disable", "down", "up"])
    sv.add_argument("reason", nargs="?")
    ei = sub.add_parser("ensure-image")
    ei.add_argument("id_file", nargs="?")
    sub.add_parser("image-id")
    b = sub.add_parser("boot")
    b.add_argument("flavor")
    b.add_argument("--az")
    b.add_argument("--count", type=int, default=1)
    b.add_argument("--timeout", type=int, default=120)
    ds = sub.add_parser("delete-servers")
    ds.add_argument("--timeout", type=int, default=120)
    for name in ("nova", "placement", "glance"):
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
    elif args.cmd == "wait-up":
        wait_down(nova_api(args), args.host, args.seconds, state="up")
    elif args.cmd == "seed":
        seed(nova_api(args), placement_api(args))
    elif args.cmd == "service":
        json.dump(service(nova_api(args), args.host, args.action, args.reason), sys.stdout, indent=2, sort_keys=True)
        print()
    elif args.cmd == "ensure-image":
        print(ensure_image(glance_api(args), args.id_file))
    elif args.cmd == "image-id":
        image_id = active_image(glance_api(args))
        if image_id is None:
            raise SystemExit("no active image %s" % IMAGE_NAME)
        print(image_id)
    elif args.cmd == "boot":
        summary = boot(nova_api(args), glance_api(args), args.flavor, args.count, args.az, args.timeout)
        json.dump(summary, sys.stdout, indent=2, sort_keys=True)
        print()
        if summary["building"]:
            sys.exit(1)
    elif args.cmd == "delete-servers":
        summary = delete_servers(nova_api(args), placement_api(args), args.timeout)
        json.dump(summary, sys.stdout, indent=2, sort_keys=True)
        print()
        if summary["allocations_gone_s"] is None:
            sys.exit(1)
    elif args.cmd == "nova":
        one_request(nova_api(args), args)
    elif args.cmd == "glance":
        one_request(glance_api(args), args)
    else:
        one_request(placement_api(args), args)


if __name__ == "__main__":
    main()
