"""Starting or joining Ray so that a one-machine Ray stays on 127.0.0.1.

Ray takes the address of the machine's default route as a node's address, even for a Ray started
here or reached at ``127.0.0.1``: on a machine whose other interface a firewall closes, a driver then
cannot reach its own cluster. A one-machine Ray (started here, or at a loopback address) is told to
use 127.0.0.1 for every address and to bind its servers there. A real cluster keeps Ray's choice;
set each node's address with ``ray start --node-ip-address``.
"""

from __future__ import annotations

import os
from typing import Any

# Ray reads this once, when it is imported: "0" makes it take 127.0.0.1 as this node's address
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
# set to "ray" in the process of a job the service's Ray executor runs: its trainings launch on Ray
EXECUTOR_ENV = "ROBUSTUNE_EXECUTOR"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def on_loopback(address: str | None) -> bool:
    """Whether a Ray at ``address`` is this machine's alone: a loopback address, or ``None`` (Ray at
    ``RAY_ADDRESS``, else one started here). ``auto`` (whichever runs here) keeps Ray's choice."""
    if address in (None, "auto"):
        address = os.environ.get("RAY_ADDRESS") or ("127.0.0.1" if address is None else "")
    if address == "local":
        return True
    host = address.removeprefix("ray://").rpartition(":")[0] or address
    return host.strip("[]") in LOOPBACK_HOSTS


def init_ray(address: str | None = None, **kwargs: Any) -> None:
    """``ray.init(address, **kwargs)``, keeping a one-machine Ray on 127.0.0.1."""
    loopback = on_loopback(address)
    if loopback:
        os.environ[LOOPBACK_ENV] = "0"  # for Ray imported below, and the processes it starts
    import ray
    import ray._private.ray_constants as constants

    if loopback:
        constants.ENABLE_RAY_CLUSTER = False  # for a Ray imported before the line above
    ray.init(address=address, **kwargs)
