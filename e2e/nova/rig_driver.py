"""Nova's fake virt driver with per-host resources from a JSON file.

The Nova test rig (e2e/nova) runs several nova-compute services with this
driver. FakeDriver reports the same, fixed, huge resources on every host;
the rig needs hosts of different sizes (and some with PCPU inventory or
custom traits) to test flavor-slot computations, and tests need to change
them on a running rig. So the file named by $NOVA_RIG_COMPUTES is read on
every resource update (the periodic update_available_resource, every
[DEFAULT]update_resources_interval seconds) and maps host -> spec:

  {"rig-cmp1": {"vcpus": 16, "memory_mb": 65536, "local_gb": 1000,
                "pcpus": 0, "traits": ["CUSTOM_X"],
                "config": {"cpu_allocation_ratio": 16.0}}}

vcpus, memory_mb and local_gb are what os-hypervisors shows and the VCPU,
MEMORY_MB, DISK_GB totals in Placement; pcpus > 0 adds a PCPU inventory
(allocation ratio 1.0, nothing reserved: what a cpu_dedicated_set would
give). traits are added to the compute node's provider (Nova adds its own
COMPUTE_* traits; removing one from the file does not remove it from the
provider). "config" is not read here: start.sh writes it into the host's
[DEFAULT] section (reserved_host_*, *_allocation_ratio), so that
os-hypervisors and Placement agree as on a real cloud; it takes a restart
of that compute. A host missing from the file keeps FakeDriver's class
defaults.
"""

import json
import os
import subprocess

import os_resource_classes as orc
from oslo_config import cfg
from oslo_log import log as logging

from nova.virt import fake

CONF = cfg.CONF
LOG = logging.getLogger(__name__)


def _spec(host):
    path = os.environ.get("NOVA_RIG_COMPUTES")
    if not path:
        return {}
    try:
        with open(path) as f:
            return json.load(f).get(host, {})
    except (OSError, ValueError) as e:
        # A half-written file (a test rewriting it) must not kill the
        # periodic task: keep the previous numbers until the next read.
        LOG.warning("rig driver: cannot read %s: %s", path, e)
        return None


class RigDriver(fake.FakeDriver):
    capabilities = dict(fake.FakeDriver.capabilities, supports_pcpus=True)

    def __init__(self, virtapi, read_only=False):
        self._rig = {}
        self._load()
        super().__init__(virtapi, read_only)

    def _load(self):
        spec = _spec(CONF.host)
        if spec is None:
            return
        self._rig = spec
        self.vcpus = int(spec.get("vcpus", fake.FakeDriver.vcpus))
        self.memory_mb = int(spec.get("memory_mb", fake.FakeDriver.memory_mb))
        self.local_gb = int(spec.get("local_gb", fake.FakeDriver.local_gb))
        res = getattr(self, "resources", None)
        if res is not None:
            res.vcpus, res.memory_mb, res.local_gb = (
                self.vcpus, self.memory_mb, self.local_gb)

    def get_host_uptime(self):
        # As the libvirt driver does (FakeDriver raises NotImplementedError,
        # which each os-hypervisors/detail at >= 2.88 logs as a traceback).
        return subprocess.run(["env", "LANG=C", "uptime"], capture_output=True,
                              text=True, check=True).stdout

    def get_available_resource(self, nodename):
        self._load()
        return super().get_available_resource(nodename)

    def update_provider_tree(self, provider_tree, nodename, allocations=None):
        self._load()
        super().update_provider_tree(provider_tree, nodename, allocations)
        inv = provider_tree.data(nodename).inventory
        pcpus = int(self._rig.get("pcpus", 0))
        if pcpus > 0:
            inv[orc.PCPU] = {
                "total": pcpus, "min_unit": 1, "max_unit": pcpus,
                "step_size": 1, "allocation_ratio": 1.0, "reserved": 0,
            }
        provider_tree.update_inventory(nodename, inv)
        traits = self._rig.get("traits", [])
        if traits:
            provider_tree.add_traits(nodename, *traits)
