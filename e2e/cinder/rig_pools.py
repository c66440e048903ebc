"""How the Cinder rig's driver turns a pool of the pools file into the pool
it reports, given the volumes on it (see rig_driver.py). Standard library
only: rigapi.py uses it too, to know what the API should show."""

import json
import os


def _number(value):
    """value as a float when Cinder would use it as a number, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return None


def _plain(x):
    """An integral float as int, so that the reported JSON stays tidy."""
    if isinstance(x, float) and x.is_integer():
        return int(x)
    return x


def used_by_pool(ledger):
    """ledger: volume id -> {"pool", "size"}; returns pool -> GB."""
    used = {}
    for entry in ledger.values():
        used[entry["pool"]] = used.get(entry["pool"], 0) + entry["size"]
    return used


def read_ledger(ledger_dir, host, backend):
    try:
        with open(os.path.join(ledger_dir, "%s@%s.json" % (host, backend)), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def adjust(pool, used):
    """A copy of the file's pool as the driver reports it: a numeric
    provisioned plus the pool's volumes; numeric free minus them unless thin (or as
    rig_consumes_free says); rig_* keys dropped."""
    pool = dict(pool)
    size = used.get(pool.get("pool_name"), 0)
    thin = pool.get("thin_provisioning_support") is True
    consumes = pool.pop("rig_consumes_free", not thin)
    for key in [k for k in pool if k.startswith("rig_")]:
        del pool[key]
    # Absent stays absent: Cinder then takes the allocated capacity (its
    # own count of the pool's volumes) as the provisioned one.
    base = _number(pool.get("provisioned_capacity_gb"))
    if base is not None:
        pool["provisioned_capacity_gb"] = _plain(base + size)
    free = _number(pool.get("free_capacity_gb"))
    if consumes and free is not None:
        pool["free_capacity_gb"] = _plain(max(free - size, 0.0))
    return pool
