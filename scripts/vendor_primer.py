"""Rebuild the vendored Primer CSS in `bot/static/primer/` from the npm package.

    python scripts/vendor_primer.py [VERSION]

The server's own pages (setup, after registration, errors) are styled with GitHub's Primer
CSS, served by the server itself: never from a CDN, so the pages load offline and the
Content-Security-Policy can say `'self'`. The full `dist/primer.css` is 1.1 MB, 70 % of it
ten colour themes; this keeps Primer's own built bundles unchanged except for that:

- `dist/color-modes.css` with only the `light` and `dark` themes (the page follows the
  system's colour scheme); every other rule of that file is kept as is;
- `dist/primitives.css` (sizes, typography, the font stacks);
- `dist/core.css` (base, box, buttons, forms, layout, navigation, utilities).

Writes `primer.css`, Primer's `LICENSE`, and `README.md` (version, the tarball's integrity
as npm reports it, and the SHA-256 of the result, which tests/test_setup_pages.py checks).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "bot" / "static" / "primer"
VERSION = "22.3.2"
THEMES = frozenset({"light", "dark"})
_THEME = re.compile(r"\[data-(?:light|dark)-theme\*?=([\w-]+)\]")
_SOURCE_MAP = re.compile(r"/\*# sourceMappingURL=[^*]*\*/")


def blocks(css: str) -> list[str]:
    """The top-level statements of minified CSS: rules and at-rules with their braces.

    Primer's dist files have no braces inside strings or comments at the top level, which
    this relies on (`trim_themes` checks that the pieces add up to the input)."""
    out: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(css):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                out.append(css[start : i + 1])
                start = i + 1
    if depth != 0 or css[start:].strip():
        raise ValueError("unbalanced CSS or trailing text")
    return out


def trim_themes(css: str, keep: frozenset[str] = THEMES) -> str:
    """color-modes.css without the blocks of themes not in `keep` (a block that names no
    theme is kept)."""
    css = _SOURCE_MAP.sub("", css).strip()
    parts = blocks(css)
    if "".join(parts) != css:
        raise ValueError("color-modes.css did not split into whole blocks")
    kept = []
    for part in parts:
        selectors = " ".join(re.findall(r"([^{}]*)\{", part))
        if set(_THEME.findall(selectors)) <= keep:
            kept.append(part)
    return "".join(kept)


def bundle(dist: Path, version: str) -> str:
    """The vendored stylesheet, from an unpacked `@primer/css` package's `dist/`."""
    header = (
        f"/*! Primer CSS {version} (npm @primer/css), MIT licence, see LICENSE beside this "
        "file. Subset built by scripts/vendor_primer.py: color-modes (light and dark themes "
        "only), primitives, core. */\n"
    )
    pieces = [trim_themes((dist / "color-modes.css").read_text())]
    for name in ("primitives.css", "core.css"):
        pieces.append(_SOURCE_MAP.sub("", (dist / name).read_text()).strip())
    css = header + "\n".join(pieces) + "\n"
    if re.search(r"url\(\s*(?!['\"]?data:)", css):
        raise ValueError("the bundle would load files (url(...)); vendor them too or drop them")
    return css


def main() -> int:
    version = sys.argv[1] if len(sys.argv) > 1 else VERSION
    with tempfile.TemporaryDirectory() as tmp:
        packed = subprocess.run(
            ["npm", "pack", f"@primer/css@{version}", "--json", "--pack-destination", tmp],
            check=True,
            capture_output=True,
            text=True,
        )
        [info] = json.loads(packed.stdout)
        with tarfile.open(Path(tmp) / info["filename"]) as archive:
            archive.extractall(tmp, filter="data")
        package = Path(tmp) / "package"
        css = bundle(package / "dist", info["version"])
        TARGET.mkdir(parents=True, exist_ok=True)
        (TARGET / "primer.css").write_text(css)
        shutil.copyfile(package / "LICENSE", TARGET / "LICENSE")
    digest = hashlib.sha256(css.encode()).hexdigest()
    (TARGET / "README.md").write_text(
        f"# Primer CSS {info['version']}, vendored\n\n"
        f"- Origin: the npm package `@primer/css@{info['version']}` "
        f"(tarball integrity `{info['integrity']}`).\n"
        "- Licence: MIT, Copyright (c) GitHub Inc.; see `LICENSE` (Primer's own file).\n"
        "- `primer.css` is Primer's built `dist/color-modes.css` (only the `light` and `dark`\n"
        "  themes), `dist/primitives.css` and `dist/core.css`, concatenated unchanged.\n"
        f"- SHA-256 of `primer.css`: `{digest}`\n"
        "- Rebuild: `python scripts/vendor_primer.py [VERSION]`.\n"
    )
    print(f"primer.css {len(css)} bytes, sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
