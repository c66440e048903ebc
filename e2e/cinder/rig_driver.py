"""Volume driver for the openstack-capacity-exporter Cinder test rig.

RigDriver stores nothing: create_volume and delete_volume only keep a
ledger of the volumes Cinder put on each pool, and the pools it reports to
the scheduler come from a JSON file read again on every stats update, so a
test can change the pools while the rig runs. The file maps volume host ->
back end -> list of pool capability dicts, passed to Cinder as they are
(strings such as "infinite", "unknown", "auto" or "50.5" included):

    {"rig-vol1": {"alpha": [{"pool_name": "a0", "total_capacity_gb": 1000,
                             "free_capacity_gb": 900}]}}

What the ledger changes in each reported pool (the volumes' sizes summed
per pool):
  provisioned_capacity_gb  the file's number plus the sizes of the pool's
                           volumes (absent stays absent: Cinder then uses
                           allocated_capacity_gb)
  free_capacity_gb         a numeric free capacity minus those sizes, unless
                           the pool is thin-provisioned (thin volumes take
                           no space when created); not below 0
  allocated_capacity_gb    not touched: Cinder's volume manager overwrites it
                           with its own count of the pool's volumes
A pool may set "rig_consumes_free": true/false to decide the free capacity
rule itself; keys starting with "rig_" are not reported.

Environment (set by start.sh):
  CINDER_RIG_POOLS            path of the JSON file (required)
  CINDER_RIG_LEDGER_DIR       where the ledgers live (one JSON file per
                              host@backend, kept across restarts)
  CINDER_RIG_REPORT_INTERVAL  seconds between capability reports to the
                              scheduler (backend_stats_polling_interval
                              cannot go below 3, so the rig sets the
                              report task's spacing itself; start.sh sets 2)
"""

import json
import os
import threading

from oslo_log import log

from cinder.volume import driver
from cinder.volume import manager as volume_manager
from cinder.volume import volume_utils

import rig_pools

LOG = log.getLogger(__name__)

# The volume manager's periodic task that asks the driver for its stats and
# sends them to the scheduler.
_REPORT_TASK = "publish_service_capabilities"

# Back-end level protocol per back end name (a pool may override it).
_PROTOCOLS = {"alpha": "iSCSI", "beta": "NFS"}


def _shorten_report_interval():
    try:
        interval = int(os.environ.get("CINDER_RIG_REPORT_INTERVAL", "2"))
    except ValueError:
        interval = 2
    if interval <= 0:
        return
    spacing = volume_manager.VolumeManager._periodic_spacing
    if _REPORT_TASK in spacing:
        spacing[_REPORT_TASK] = interval


class RigDriver(driver.VolumeDriver):
    """Reports the pools listed in $CINDER_RIG_POOLS; stores nothing."""

    VERSION = "1.0"
    SUPPORTS_ACTIVE_ACTIVE = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _shorten_report_interval()
        self._rig_pools = []
        self._lock = threading.Lock()
        self._ledger = {}

    # -- identity ---------------------------------------------------------

    def _rig_host_backend(self):
        # self.host is "<host>@<backend>" for a multi-backend service.
        host = self.host or ""
        name, _sep, backend = host.partition("@")
        if not backend:
            backend = self.configuration.config_group or ""
        return name, backend

    def _backend_name(self):
        return (self.configuration.safe_get("volume_backend_name")
                or self._rig_host_backend()[1])

    # -- ledger -----------------------------------------------------------

    def _ledger_path(self):
        d = os.environ.get("CINDER_RIG_LEDGER_DIR", "")
        if not d:
            return ""
        host, backend = self._rig_host_backend()
        return os.path.join(d, "%s@%s.json" % (host, backend))

    def _load_ledger(self):
        path = self._ledger_path()
        if not path:
            return
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
            if isinstance(data, dict):
                self._ledger = data
        except FileNotFoundError:
            self._ledger = {}
        except (OSError, ValueError) as e:
            LOG.error("rig: cannot read the ledger %r: %s", path, e)

    def _save_ledger(self):
        path = self._ledger_path()
        if not path:
            return
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self._ledger, f, indent=1, sort_keys=True)
        os.replace(tmp, path)

    def _record(self, volume, size):
        pool = volume_utils.extract_host(volume["host"], "pool") or ""
        with self._lock:
            if size is None:
                self._ledger.pop(volume["id"], None)
            else:
                self._ledger[volume["id"]] = {"pool": pool, "size": int(size)}
            self._save_ledger()

    def _used_by_pool(self):
        with self._lock:
            return rig_pools.used_by_pool(self._ledger)

    # -- set-up -----------------------------------------------------------

    def do_setup(self, context):
        with self._lock:
            self._load_ledger()

    def check_for_setup_error(self):
        if not os.environ.get("CINDER_RIG_POOLS"):
            LOG.warning("rig: CINDER_RIG_POOLS is not set; reporting no pools")

    # -- volumes (no storage behind them) ---------------------------------

    def create_volume(self, volume):
        self._record(volume, volume["size"])
        LOG.info("rig: created %s (%s GB) on %s", volume["id"], volume["size"], volume["host"])
        return {}

    def delete_volume(self, volume):
        self._record(volume, None)
        LOG.info("rig: deleted %s", volume["id"])

    def extend_volume(self, volume, new_size):
        self._record(volume, new_size)

    def create_export(self, context, volume, connector):
        return None

    def ensure_export(self, context, volume):
        return None

    def remove_export(self, context, volume):
        return None

    def initialize_connection(self, volume, connector):
        return {"driver_volume_type": "rig", "data": {}}

    def terminate_connection(self, volume, connector, **kwargs):
        return None

    def get_pool(self, volume):
        return volume_utils.extract_host(volume["host"], "pool")

    # -- stats ------------------------------------------------------------

    def _read_pools(self):
        path = os.environ.get("CINDER_RIG_POOLS", "")
        host, backend = self._rig_host_backend()
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
        return [dict(p) for p in self._rig_pools]

    def _update_volume_stats(self):
        backend = self._backend_name()
        used = self._used_by_pool()
        self._stats = {
            "volume_backend_name": backend,
            "vendor_name": "Acceptance rig",
            "driver_version": self.VERSION,
            "storage_protocol": _PROTOCOLS.get(backend, "iSCSI"),
            "pools": [rig_pools.adjust(p, used) for p in self._read_pools()],
        }
