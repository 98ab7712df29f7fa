"""Reaching Ray for `gdcli sweep --backend ray`: importing it, joining a cluster (or starting one here),
and keeping what Ray itself prints off stdout, which holds the report alone.

An address is checked before Ray sees it (Ray itself would retry for a minute); joining
is given JOIN_SECONDS on a thread of its own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import threading
import urllib.parse
from typing import Iterator

from gdcli.errors import GdcliError, param
from gdcli.train import interrupt

# Ray itself, as the ray extra pins it: the package called gdcli on PyPI is another project.
INSTALL = 'pip install "ray>=2.9"'
CONNECT_SECONDS = 5.0  # how long --address may take to accept a connection
JOIN_SECONDS = 30.0  # how long joining the cluster there may take (Ray retries a refused token for ~20 s)


def require_ray():
    """The ray module, or exit 2 with how to install it."""
    try:
        import ray
    except ImportError:
        raise GdcliError(
            f"{param('backend')} ray needs Ray, which is not installed",
            f"install it with {INSTALL}, or use {param('backend')} local",
        ) from None
    return ray



@contextlib.contextmanager
def connected(address: str | None, quiet: bool = False) -> Iterator:
    """Ray, joined to the cluster at `address` (checked first with `check_address`), or to a Ray
    instance started here with this machine's CPUs (and shut down on the way out, Ctrl-C
    included). A process already joined to Ray (a program that calls gdcli from inside a Ray
    job) keeps its connection. `quiet` (--quiet): what Ray itself says on the way is dropped."""
    ray = require_ray()
    if ray.is_initialized():
        yield ray
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if not sys.stderr.isatty() or os.environ.get("NO_COLOR"):
        os.environ.setdefault("RAY_COLOR_PREFIX", "0")  # what Ray's nodes report, in a log: no colour codes
    settings = dict(configure_logging=True, logging_level=logging.ERROR, log_to_driver=False)
    with _native_stderr_dropped(quiet):  # the C++ core's own lines (a cluster's connection retries)
        if address is not None:
            _join(ray, address, settings)
        else:
            ray.init(address="local", include_dashboard=False, **settings)  # Ray counts this machine's CPUs
    try:
        yield ray
    finally:
        # Ray's driver prints what its nodes report to stdout, until it lets go: stderr it is.
        # A second Ctrl-C would strand processes.
        with interrupt.held(), driver_prints(quiet), _native_stderr_dropped(quiet):
            ray.shutdown()


@contextlib.contextmanager
def driver_prints(quiet: bool) -> Iterator[None]:
    """Where what Ray's driver prints of its nodes' reports (a worker that died) goes, instead of
    stdout (which holds the report alone): stderr, or nowhere under --quiet (gdcli reports the
    failed runs itself)."""
    with open(os.devnull, "w") if quiet else contextlib.nullcontext(sys.stderr) as sink:
        with contextlib.redirect_stdout(sink):
            yield


@contextlib.contextmanager
def _native_stderr_dropped(quiet: bool) -> Iterator[None]:
    """Under --quiet, while inside: what native code writes to the stderr file descriptor is
    dropped. Only around calls during which gdcli itself prints nothing (Ray starting, joining,
    stopping): Python's writes to stderr go the same way meanwhile."""
    try:
        fd = sys.stderr.fileno()
    except (OSError, ValueError, AttributeError):
        fd = None  # not a real file (a test runner's buffer): no native code writes there
    if not quiet or fd is None:
        yield
        return
    sys.stderr.flush()
    kept, devnull = os.dup(fd), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
    try:
        yield
    finally:
        os.dup2(kept, fd)
        os.close(kept)


def _join(ray, address: str, settings: dict) -> None:
    """ray.init(address), given JOIN_SECONDS: something that listens there but is not Ray would
    keep Ray's client retrying for minutes. It runs on a thread of its own, which is left
    behind (the command exits 2) when the time runs out."""
    outcome: dict = {}

    def join() -> None:
        try:
            ray.init(address=address, **settings)
        except BaseException as err:  # noqa: BLE001 - handed to the main thread
            outcome["error"] = err

    thread = threading.Thread(target=join, name="gdcli-ray-join", daemon=True)
    thread.start()
    thread.join(JOIN_SECONDS)
    if thread.is_alive():
        raise GdcliError(
            f"{param('address')} {address}: something listens there, but no Ray cluster answered "
            f"within {JOIN_SECONDS:g} s",
            "check the address: `ray start --head` prints it on the head node (port 6379 unless it was changed)",
        )
    err = outcome.get("error")
    if isinstance(err, (ConnectionError, RuntimeError, ValueError)):
        raise GdcliError(f"{param('address')} {address}: {_first_line(err)}", _connect_hint(err)) from None
    if err is not None:
        raise err


def _start_hint() -> str:
    return f"start one with `ray start --head` on its first node, or drop {param('address')} to run on this machine"


def _connect_hint(err: BaseException) -> str:
    """What to do about a cluster that answered but would not let gdcli in."""
    text = "".join(str(e) for e in (err, err.__cause__) if e is not None)
    if "ray[client]" in text:
        return 'ray:// is Ray Client: install it with pip install "ray[client]", or give the HOST:6379 address'
    if "Authentication" in text or "auth" in text.lower():
        return "the cluster wants its token: set RAY_AUTH_TOKEN (or ~/.ray/auth_token) as on its nodes"
    return _start_hint()


def check_address(address: str) -> None:
    """Refuse at once an address that is not one, or where nothing listens (Ray itself would retry
    for a minute)."""
    if address == "auto":
        return  # Ray finds the cluster this machine belongs to, or says at once there is none
    host, port = parse_address(address)
    try:
        with socket.create_connection((host, port), timeout=CONNECT_SECONDS):
            pass
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise GdcliError(f"no Ray cluster answers at {param('address')} {address} ({reason})", _start_hint()) from None


def parse_address(address: str) -> tuple[str, int]:
    """(host, port) of HOST:PORT, [IPv6]:PORT or ray://HOST[:PORT] (Ray Client, port 10001 unless given)."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "", address
    bad = GdcliError(
        f"{param('address')} {address!r} is not a Ray address",
        f"give HOST:PORT (for example {param('address')} 127.0.0.1:6379), ray://HOST:PORT for Ray Client, or auto",
    )
    if scheme not in ("", "ray") or not rest or "/" in rest:
        raise bad
    if rest.count(":") > 1 and not rest.startswith("["):
        rest = f"[{rest}]"  # a bare IPv6 address, without a port
    try:
        parts = urllib.parse.urlsplit(f"//{rest}")
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number from 0 to 65535
        raise bad from None
    if port is None and scheme == "ray":
        port = 10001  # Ray Client's
    if not host or not port:  # Ray itself wants the port of a cluster's head
        raise bad
    return host, port


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__
