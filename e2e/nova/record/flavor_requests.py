#!/usr/bin/python3
"""Prints, for each flavor of a flavors/detail body (2.61+, on stdin), the
GET /allocation_candidates query that Nova's own scheduler code builds for
it (nova.scheduler.request_filter.process_reqspec, then
nova.scheduler.utils.ResourceRequest, from Debian's python3-nova, with the
rig's configuration): a JSON object flavor id -> query string. A boot
without image properties, ports or a volume is assumed.

    /usr/bin/python3 flavor_requests.py NOVA_CONF < flavors.json
"""

import json
import sys

sys.dont_write_bytecode = True

from nova import config  # noqa: E402
from nova import objects  # noqa: E402

objects.register_all()
config.parse_args(["flavor_requests", "--config-file", sys.argv[1]])
from nova import context  # noqa: E402
from nova.scheduler import request_filter  # noqa: E402
from nova.scheduler import utils  # noqa: E402


def query(f):
    flavor = objects.Flavor(
        id=1, flavorid=f["id"], name=f["name"], vcpus=f["vcpus"], memory_mb=f["ram"],
        root_gb=f["disk"], ephemeral_gb=f["OS-FLV-EXT-DATA:ephemeral"],
        swap=f["swap"] or 0, extra_specs=f.get("extra_specs", {}))
    spec = objects.RequestSpec(
        flavor=flavor, image=objects.ImageMeta.from_dict({"properties": {}}), is_bfv=False,
        requested_resources=[], request_level_params=objects.RequestLevelParams(),
        network_metadata=objects.NetworkMetadata(physnets=set(), tunneled=False),
        requested_networks=objects.NetworkRequestList(objects=[]),
        availability_zone=None, project_id="0123456789abcdef0123456789abcdef")
    # The scheduler's pre-filters, as in SchedulerManager.select_destinations
    # (with the rig's defaults only compute_status_filter and
    # accelerators_filter act: required=!COMPUTE_STATUS_DISABLED).
    request_filter.process_reqspec(context.get_admin_context(), spec)
    return utils.ResourceRequest.from_request_spec(spec).to_querystring()


out = {f["id"]: query(f) for f in json.load(sys.stdin)["flavors"]}
json.dump(out, sys.stdout, indent=2, sort_keys=True)
print()
