"""Runs one of Nova's commands as its console script would:
    python3 nova_cmd.py api|conductor|scheduler|compute|manage ARGS...
(nova.cmd.* have no __main__ block, so `python3 -m` would do nothing, and
python3-nova ships no console scripts). Nothing may be imported before the
command's module: it monkey-patches eventlet at import.

Nova loads [DEFAULT]compute_driver as nova.virt.<name>, so this directory
is added to the nova.virt package's path (after the monkey-patching):
compute_driver = rig_driver.RigDriver is then this directory's
rig_driver.py."""

import importlib
import os
import sys

name = sys.argv.pop(1)
sys.argv[0] = "nova-" + name
main = importlib.import_module("nova.cmd." + name).main
import nova.virt  # noqa: E402

nova.virt.__path__.append(os.path.dirname(os.path.abspath(__file__)))
sys.exit(main())
