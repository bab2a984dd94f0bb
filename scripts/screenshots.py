"""Screenshots of the setup pages, kept in docs/images/ so anyone can see them.

    python scripts/screenshots.py [OUTPUT_DIR]

Starts the app and the stand-in of GitHub on loopback exactly as
tests/test_setup_pages_browser.py does (tests/setup_scenes.py), opens each page in headless
Chromium (Debian's `chromium`) at 1280 px wide, and writes `<scene>.png` for the scenes the
docs show. The PNGs are quantised to a 256-colour palette (Pillow) to keep them small.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from tests.chromium import Chromium, egress, executable  # noqa: E402
from tests.setup_scenes import visit_setup_pages  # noqa: E402

KEPT = ("setup-before", "setup-warning", "setup-after", "setup-error")


def shrink(path: Path) -> None:
    """Rewrite a screenshot as an optimised palette PNG (flat UI colours survive intact)."""
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images"
    if executable() is None:
        print("chromium is not installed (apt-get install -y chromium)", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        with Chromium(Path(tmp) / "browser") as browser:
            for scene, status in visit_setup_pages(browser, Path(tmp)):
                if scene in KEPT:
                    path = out / f"{scene}.png"
                    browser.screenshot(path)
                    shrink(path)
                    print(
                        f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}"
                        f" ({status}, {path.stat().st_size // 1024} KiB)"
                    )
        left = egress(Path(tmp) / "browser" / "netlog.json")
    if left:
        print(f"the browser reached beyond loopback: {left}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
