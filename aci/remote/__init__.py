"""Remote boards: the host's side of the board protocol (docs/remote.md).

- :class:`Board` (:mod:`aci.remote.client`): one session with a board daemon --
  connect, load, write, read, run, status, reset -- with timeouts, retries under
  the same request id, reconnection, heartbeats, and recovery from a board that
  restarted (a new epoch: the image, inputs and runs done again).
- :func:`run_image_remote` (:mod:`aci.remote.engine`): an image run on a board as
  :func:`aci.run.run_image` runs it locally; ``acic run --engine remote``.
- :class:`FaultProxy` (:mod:`aci.remote.proxy`): a fault-injecting proxy for tests.

:class:`RemoteError` is every failure of a board, naming it and what was lost.
"""

from .client import Board, RemoteError
from .engine import run_image_remote

__all__ = ["Board", "RemoteError", "run_image_remote"]
