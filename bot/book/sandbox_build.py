"""Run the book's build where the app's secrets cannot be reached.

`jupyter-book` reads whatever a page names; the worker's machine holds the GitHub App's
private key, `.env`, the database and the environment of every process in `/proc`. File
permissions do not help a process running as root. So, as root, the build runs in fresh
mount, PID, network, IPC and UTS namespaces (`unshare`, util-linux, no extra package) whose
root is an empty tmpfs showing only: `/usr` and `/etc` (read-only, the system's tool chain),
the Python and Node installations the CLI runs from (read-only), a few devices, a private
`/proc` and `/tmp`, and the build's own folder. It then drops to `nobody` (`setpriv`, with
no capabilities and no_new_privs) and runs with a minimal environment. Without root, the same
is tried inside a user namespace; when namespaces are not available at all the build runs
as before and a warning is logged once.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Literal

from bot.node import node_bin_dir

log = logging.getLogger(__name__)

Mode = Literal["root", "user", "none"]
NOBODY = 65534
_SYSTEM = ("/usr", "/etc")
_DEVICES = ("null", "zero", "random", "urandom", "full")


def tool_roots(command: Sequence[str]) -> list[str]:
    """Folders the build's programs live in, outside `/usr`: this Python's prefixes, the
    command's own installation and Node's, each mounted read-only at the same place."""
    found: list[Path] = [Path(sys.prefix), Path(sys.base_prefix)]
    executable = shutil.which(command[0]) if command else None
    for program in (executable, sys.executable):
        if program:
            found += [Path(program).parent.parent, Path(os.path.realpath(program)).parent.parent]
    folder = node_bin_dir()
    if folder is not None:
        found.append(folder)
        node = folder / "node"
        if node.exists():
            found.append(Path(os.path.realpath(node)).parent.parent)
    roots: list[str] = []
    for path in sorted({os.path.realpath(p) for p in found}, key=len):
        inside_system = any(path == s or path.startswith(s + "/") for s in _SYSTEM)
        if path == "/" or inside_system or any(path.startswith(r + "/") for r in roots):
            continue
        roots.append(path)
    return roots


def _script(new_root: str, binds: Sequence[str], tools: Sequence[str], drop: bool) -> str:
    """The shell run inside the namespaces: build the new root, enter it, drop privileges."""
    q = shlex.quote
    lines = ["set -eu", f"R={q(new_root)}", 'mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$R"']
    for name in ("bin", "lib", "lib64", "sbin"):
        host = Path("/", name)
        if host.is_symlink():
            lines.append(f'ln -s {q(os.readlink(host))} "$R/{name}"')
        elif host.is_dir():
            tools = [*tools, str(host)]
    lines.append('mkdir -p "$R/dev" "$R/proc" "$R/tmp"')
    for device in _DEVICES:
        lines += [f'touch "$R/dev/{device}"', f'mount --bind /dev/{device} "$R/dev/{device}"']
    lines += [
        'mount -t proc -o nosuid,nodev,noexec proc "$R/proc"',
        'mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/tmp"',
    ]
    # After the private /tmp: a tool chain may live under /tmp (CI's fresh virtual
    # environment does), and mounting the tmpfs later would hide it.
    for folder in [*_SYSTEM, *tools]:
        lines += [
            f'mkdir -p "$R"{q(folder)}',
            f'mount --bind {q(folder)} "$R"{q(folder)}',
            f'mount -o remount,bind,ro,nosuid,nodev "$R"{q(folder)}',
        ]
    for folder in binds:
        lines += [f'mkdir -p "$R"{q(folder)}', f'mount --bind {q(folder)} "$R"{q(folder)}']
    # The build dies with `unshare` (its parent): `--kill-child` alone does not survive the
    # change to `nobody`, which clears a parent-death signal, so it is set again after it.
    chroot = 'exec chroot "$R" /usr/bin/setpriv'
    if drop:
        chroot += (
            f" --reuid={NOBODY} --regid={NOBODY} --clear-groups"
            " --no-new-privs --inh-caps=-all --bounding-set=-all"
        )
    lines.append(chroot + ' --pdeathsig KILL -- /usr/bin/env -i "$@"')
    return "\n".join(lines)


def _unshare(mode: Mode) -> list[str]:
    """`unshare`, killed (and the build with it) when the worker that started it dies, even
    by SIGKILL: a build outliving its worker would write to a closed pipe forever."""
    base = ["unshare", "--mount", "--pid", "--net", "--ipc", "--uts", "--fork", "--kill-child"]
    if mode == "user":
        base[1:1] = ["--user", "--map-root-user"]
    return ["setpriv", "--pdeathsig", "KILL", "--", *base]


def sandboxed(
    command: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    binds: Sequence[Path],
    new_root: Path,
    mode: Mode,
) -> list[str]:
    """The argv that runs `command` in `cwd` with only `env`, in the sandbox of `mode`;
    `binds` are the writable folders the build needs (its copy of the book, its home)."""
    if mode == "none":
        return list(command)
    script = _script(
        str(new_root), [str(b) for b in binds], tool_roots(command), drop=mode == "root"
    )
    variables = [f"{key}={value}" for key, value in env.items()]
    return [*_unshare(mode), "/bin/sh", "-c", script, "sandbox", "-C", str(cwd), *variables,
            *command]  # fmt: skip


def give_to_builder(folders: Sequence[Path], mode: Mode) -> None:
    """As root, the build runs as `nobody`: it must own the folders it writes."""
    if mode != "root":
        return
    for folder in folders:
        os.lchown(folder, NOBODY, NOBODY)
        for parent, names, files in os.walk(folder):
            for name in [*names, *files]:
                os.lchown(os.path.join(parent, name), NOBODY, NOBODY)


@cache
def sandbox_mode() -> Mode:
    """The strongest sandbox that works on this machine, found once by running `true` in it.

    `LIQUIDBOOK_BUILD_SANDBOX=none` turns it off (a machine where the build must see more);
    the choice is logged, with a warning when the build is not isolated."""
    wanted = os.environ.get("LIQUIDBOOK_BUILD_SANDBOX", "").strip().lower()
    candidates: list[Mode] = ["root", "user"] if os.geteuid() == 0 else ["user"]
    if wanted == "none" or shutil.which("unshare") is None:
        candidates = []
    for mode in candidates:
        if _works(mode):
            log.info("The build check runs sandboxed (%s namespaces).", mode)
            return mode
    log.warning(
        "The build check runs WITHOUT a sandbox: unshare/mount namespaces are not available "
        "here (or LIQUIDBOOK_BUILD_SANDBOX=none); only the environment is minimal."
    )
    return "none"


def _works(mode: Mode) -> bool:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="liquidbook-probe-") as folder:
        root, home = Path(folder, "root"), Path(folder, "home")
        root.mkdir()
        home.mkdir()
        give_to_builder([home], mode)
        argv = sandboxed(["true"], home, {"PATH": "/usr/bin:/bin"}, [home], root, mode)
        try:
            done = subprocess.run(argv, capture_output=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return False
        if done.returncode != 0:
            log.info("Sandbox mode %s does not work here: %s", mode, done.stderr[-300:])
        return done.returncode == 0
