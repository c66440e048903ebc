"""Share driver for the openstack-capacity-exporter Manila test rig.

RigDriver is Manila's own DummyDriver (shipped in python3-manila as
manila.tests.share.drivers.dummy) with one change: the pools it reports come
from a JSON file, read again on every stats update, so a test can change
the pools while the rig runs. The file maps share host -> back end -> list
of pool capability dicts, passed to Manila as they are (strings such as
"infinite" or "50.5" included):

    {"rig-node1": {"alpha": [{"pool_name": "a0", "total_capacity_gb": 1000,
                              "free_capacity_gb": 900}]}}

Environment (set by start.sh):
  MANILA_RIG_POOLS            path of the JSON file (required)
  MANILA_RIG_REPORT_INTERVAL  seconds between capability reports to the
                              scheduler (Manila fixes them at 60 s; the rig
                              shortens them; start.sh sets 2)
"""

import json
import os

from oslo_config import cfg
from oslo_log import log

from manila.share import manager as share_manager
from manila.tests.share.drivers import dummy

LOG = log.getLogger(__name__)
CONF = cfg.CONF

# The share manager's periodic tasks that compute the driver's stats and
# send them to the scheduler; both are spaced at 60 s in Manila.
_REPORT_TASKS = ("_report_driver_status", "_publish_service_capabilities")


def _shorten_report_interval():
    try:
        interval = int(os.environ.get("MANILA_RIG_REPORT_INTERVAL", "5"))
    except ValueError:
        interval = 5
    if interval <= 0:
        return
    spacing = share_manager.ShareManager._periodic_spacing
    for task in _REPORT_TASKS:
        if task in spacing:
            spacing[task] = interval


class RigDriver(dummy.DummyDriver):
    """DummyDriver reporting the pools listed in $MANILA_RIG_POOLS."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _shorten_report_interval()
        self._rig_pools = []

    def _rig_backend(self):
        return self.configuration.config_group or self.backend_name

    def _read_pools(self):
        path = os.environ.get("MANILA_RIG_POOLS", "")
        host, backend = CONF.host, self._rig_backend()
        try:
            with open(path, encoding="utf-8") as f:
                everything = json.load(f)
            pools = everything.get(host, {}).get(backend, [])
            if not isinstance(pools, list):
                raise ValueError("pools of %s@%s are not a list" % (host, backend))
            self._rig_pools = [dict(p) for p in pools]
        except (OSError, ValueError, AttributeError, TypeError) as e:
            # Keep reporting what was read last.
            LOG.error("rig: cannot read pools from %r: %s", path, e)
        return self._rig_pools

    def _get_pools_info(self):
        return self._read_pools()

    def _update_share_stats(self, data=None):
        stats = {
            "share_backend_name": self.backend_name,
            "storage_protocol": "NFS_CIFS",
            "vendor_name": "Acceptance rig",
            "driver_version": "1.0",
            "reserved_percentage":
                self.configuration.reserved_share_percentage,
            "reserved_snapshot_percentage":
                self.configuration.reserved_share_from_snapshot_percentage,
            "reserved_share_extend_percentage":
                self.configuration.reserved_share_extend_percentage,
            "snapshot_support": True,
            "create_share_from_snapshot_support": True,
            "revert_to_snapshot_support": True,
            "mount_snapshot_support": True,
            "driver_name": "Rig",
            "pools": self._get_pools_info(),
            "share_group_stats": {
                "consistent_snapshot_support": "pool",
            },
        }
        # ShareDriver (not DummyDriver) merges these into its common stats.
        super(dummy.DummyDriver, self)._update_share_stats(stats)
