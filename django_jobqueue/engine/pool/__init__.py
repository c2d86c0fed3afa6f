"""A supervised worker pool: ``processes`` children × ``threads`` slots, hard time limits,
crashed children's jobs taken back at once, recycling and reloading.

supervisor.py is the parent, children.py its view of each child, child.py what runs in a
child, slots.py what a child's slots share, upkeep.py the pool's one maintenance component,
options.py its settings, reload.py the file watcher.
"""

from .child import ChildSpec, WorkerFactory
from .options import DEFAULT_GRACE, PoolOptions
from .supervisor import Supervisor

__all__ = ["DEFAULT_GRACE", "ChildSpec", "PoolOptions", "Supervisor", "WorkerFactory"]
