"""Registers what the exporter's end-to-end tests need in a fresh Keystone.

Called by start.sh once Keystone answers. Stdlib only, one REST call at a
time (the openstack CLI takes about a second per call to start). Reads its
inputs from the environment and writes the rig description as JSON to the
path given as the only argument.
"""
import json
import os
import sys
import urllib.error
import urllib.request

KS = os.environ["KS_URL"]  # http://127.0.0.1:15000/v3
PLACEMENT = os.environ["PLACEMENT_URL"]  # http://127.0.0.1:18779


def call(method, path, token=None, body=None, want=(200, 201, 204)):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(KS + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read()
            status, headers = resp.status, resp.headers
    except urllib.error.HTTPError as err:
        raise SystemExit("%s %s: HTTP %d: %s" % (method, path, err.code, err.read()[:300]))
    if status not in want:
        raise SystemExit("%s %s: unexpected HTTP %d" % (method, path, status))
    return (json.loads(text) if text else {}), headers


def password_token(user, password, project):
    body = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}},
    }}
    _, headers = call("POST", "/auth/tokens", body=body)
    return headers["X-Subject-Token"]


def find(token, collection, name):
    found, _ = call("GET", "/%s?name=%s" % (collection, name), token)
    return found[collection][0]["id"] if found[collection] else None


def ensure(token, collection, name, extra):
    existing = find(token, collection, name)
    if existing:
        return existing
    singular = collection[:-1]
    created, _ = call("POST", "/" + collection, token, {singular: dict(name=name, **extra)})
    return created[singular]["id"]


def main(out):
    admin = password_token("admin", os.environ["ADMIN_PASSWORD"], "admin")
    admin_role = find(admin, "roles", "admin")
    service = ensure(admin, "projects", "service", {"domain_id": "default"})
    monitoring = ensure(admin, "projects", "monitoring", {"domain_id": "default"})
    users = {}
    for name, password, project in (
        ("placement", os.environ["PLACEMENT_PASSWORD"], service),
        ("capacity-exporter", os.environ["EXPORTER_PASSWORD"], monitoring),
    ):
        uid = ensure(admin, "users", name, {"domain_id": "default", "password": password, "default_project_id": project})
        call("PUT", "/projects/%s/users/%s/roles/%s" % (project, uid, admin_role), admin)
        users[name] = uid

    # The catalog: the interface and the region decide which path the
    # exporter ends up on. Only "/internal" in RegionOne and "/" (public)
    # reach Placement's API; the other two answer 404 from Placement.
    svc = ensure(admin, "services", "placement", {"type": "placement", "enabled": True})
    existing, _ = call("GET", "/endpoints?service_id=" + svc, admin)
    for ep in existing["endpoints"]:
        call("DELETE", "/endpoints/" + ep["id"], admin)
    if not region_exists(admin, "RegionTwo"):
        call("POST", "/regions", admin, {"region": {"id": "RegionTwo"}})
    for region, interface, path in (
        ("RegionOne", "public", ""),
        ("RegionOne", "internal", "/internal"),
        ("RegionOne", "admin", "/wrong-interface-admin"),
        ("RegionTwo", "internal", "/wrong-region"),
    ):
        call("POST", "/endpoints", admin, {"endpoint": {
            "service_id": svc, "interface": interface, "region_id": region, "url": PLACEMENT + path}})

    # Application credentials can only be created by their owner.
    exporter = password_token("capacity-exporter", os.environ["EXPORTER_PASSWORD"], "monitoring")
    created, _ = call("POST", "/users/%s/application_credentials" % users["capacity-exporter"], exporter,
                      {"application_credential": {"name": "capacity-exporter-%d" % os.getpid(),
                                                  "description": "e2e test rig"}})
    cred = created["application_credential"]

    rig = {
        "auth_url": KS,
        "admin_password": os.environ["ADMIN_PASSWORD"],
        "exporter_user": "capacity-exporter",
        "exporter_user_id": users["capacity-exporter"],
        "exporter_password": os.environ["EXPORTER_PASSWORD"],
        "exporter_project": "monitoring",
        "application_credential_id": cred["id"],
        "application_credential_secret": cred["secret"],
        "placement_internal": PLACEMENT + "/internal",
        "placement_public": PLACEMENT,
        "token_expiration": int(os.environ["TOKEN_EXPIRATION"]),
    }
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(rig, f, indent=1)


def region_exists(token, region):
    req = urllib.request.Request(KS + "/regions/" + region, method="GET")
    req.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=30):
            return True
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return False
        raise


if __name__ == "__main__":
    main(sys.argv[1])
