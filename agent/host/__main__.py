"""``python -m agent.host --state-dir DIR [--idle-timeout S] [--detach]``: run the agent host.

Clients start it (``agent.host.place.spawn``; ``agent.host.early`` forks one into ``serve``).
With ``--detach`` this launcher takes the lock, forks the host into its own session and exits
at once, so no client is left with a child. A second host for the same state directory never
starts: without the lock it exits quietly. The host imports the model SDK in a thread from its
first moment, beside the harness and the socket, with the garbage collector off until both
imports are done.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
import threading
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agent-lsp host run")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--idle-timeout", type=float, default=None)
    parser.add_argument("--detach", action="store_true")
    args = parser.parse_args(argv)
    from agent.host.place import HostPlace

    place = HostPlace(args.state_dir.expanduser().resolve())
    lock = place.take_lock()
    if lock is None:
        return 0  # a host already runs (or is starting) for this state directory
    if args.detach and os.fork() != 0:
        os._exit(0)  # the launcher: the host goes on in the child, which keeps the lock
    if args.detach:
        os.setsid()
        os.ftruncate(lock, 0)  # the lock names the host, not the launcher that took it
        os.lseek(lock, 0, os.SEEK_SET)
        os.write(lock, f"{os.getpid()}\n".encode())
    return serve(place.state_dir, lock, args.idle_timeout)


def serve(state_dir: Path, lock: int, idle_timeout: float | None) -> int:
    """Serve as the host of ``state_dir`` (this process holds its ``lock``) until it stops;
    also what a client's early fork runs (``agent.host.early``)."""
    os.environ["AGENT_LSP_STATE_DIR"] = str(state_dir)
    imported = threading.Event()
    gc.disable()  # start-up only allocates what lives on: no collection until both imports are done
    threading.Thread(target=_prewarm, args=(imported,), name="prewarm-anthropic", daemon=True).start()
    logging.basicConfig(stream=sys.stderr, level=os.environ.get("AGENT_LSP_HOST_LOG_LEVEL", "INFO"),
                        format=f"%(asctime)s host[{os.getpid()}] %(levelname)s %(name)s: %(message)s")
    from agent.host.place import HostPlace
    from agent.host.server import DEFAULT_IDLE_S, HostServer

    place = HostPlace(state_dir)
    imported.set()
    idle = idle_timeout if idle_timeout is not None else float(
        os.environ.get("AGENT_LSP_HOST_IDLE_TIMEOUT", DEFAULT_IDLE_S))
    asyncio.run(HostServer(place, idle).serve())
    os.close(lock)
    logging.shutdown()
    return 0


def _prewarm(imported: threading.Event) -> None:
    """The SDK's import, at once and beside the harness's (a first ``turn/start`` may arrive
    before it is done: the turn's request waits for it), then the collector back on."""
    started = time.perf_counter()
    try:
        from agent.model.anthropic_api import prewarm

        prewarm()
        logging.getLogger(__name__).info("model SDK imported in %.0f ms", (time.perf_counter() - started) * 1000)
    except Exception:  # the turn that needs the SDK reports what is wrong with it
        logging.getLogger(__name__).exception("importing the model SDK failed")
    finally:
        imported.wait()
        gc.freeze()
        gc.enable()


if __name__ == "__main__":
    raise SystemExit(main())
