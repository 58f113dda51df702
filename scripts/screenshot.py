"""Look at the gallery the way a reviewer's browser shows it: headless Chromium screenshots of the README (rendered
with mistune, the Markdown renderer nbconvert ships) and of rendered notebooks in figures/notebooks/.

    python scripts/screenshot.py                      # README + 05_comparison -> /tmp/aq4svit-screens/*.png
    python scripts/screenshot.py --page 06_drift_proxy --out shots/

Needs a Chromium (Debian: apt-get install chromium). Repository upkeep, not library code.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PAGE = """<!doctype html><html><head><meta charset="utf-8"><base href="{base}/">
<style>body {{ font: 15px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 1000px; margin: 2em auto; }}
img {{ max-width: 100%; }} table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #d0d7de; padding: 4px 8px; }}
code, pre {{ background: #f6f8fa; }}</style></head><body>{body}</body></html>"""


def browser() -> str:
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    sys.exit("no Chromium found; install one (Debian: apt-get install chromium) and run again")


def shoot(url: str, png: Path, height: int) -> Path:
    cmd = [browser(), "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--window-size=1280,{height}",
           f"--screenshot={png}", url]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    if not png.is_file() or png.stat().st_size < 10_000:
        sys.exit(f"Chromium wrote no usable screenshot for {url}")
    return png


def readme_html(out: Path) -> Path:
    import mistune

    html = out / "README.html"
    html.write_text(PAGE.format(base=ROOT.as_uri(), body=mistune.html((ROOT / "README.md").read_text())))
    return html


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--page", action="append", help="rendered notebook(s) in figures/notebooks/ (default: 05_comparison)")
    ap.add_argument("--out", default="/tmp/aq4svit-screens")
    ap.add_argument("--height", type=int, default=6000, help="window height in pixels (the screenshot's height)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    shots = [shoot(readme_html(out).as_uri(), out / "README.png", args.height)]
    for page in args.page or ["05_comparison"]:
        html = ROOT / "figures" / "notebooks" / f"{page}.html"
        if not html.is_file():
            sys.exit(f"{html} is missing: run make reproduce (it renders the executed notebooks)")
        shots.append(shoot(html.as_uri(), out / f"{page}.png", args.height))
    for p in shots:
        print(p)


if __name__ == "__main__":
    main()
