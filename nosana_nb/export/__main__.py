"""``python -m nosana_nb.export NOTEBOOK.ipynb [PAGE.html] [--no-static-images]``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from nosana_nb.export import export_html


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nosana_nb.export",
        description="Write an executed notebook as one HTML page that keeps its Plotly charts "
        "(plotly.js embedded once, works offline; a PNG of each chart for readers without "
        "JavaScript).",
    )
    parser.add_argument("notebook", help="the executed .ipynb")
    parser.add_argument("html", nargs="?", help="the page to write (default: NOTEBOOK.html)")
    parser.add_argument(
        "--no-static-images",
        action="store_true",
        help="skip the PNG fallbacks (no kaleido or chromium needed)",
    )
    args = parser.parse_args(argv)
    exported = export_html(args.notebook, args.html, static_images=not args.no_static_images)
    size_mb = exported.path.stat().st_size / 1e6
    print(
        f"wrote {exported.path} ({size_mb:.1f} MB): {exported.figures} charts, "
        f"{exported.static_images} static images, {exported.widget_views} widget views"
    )
    if exported.figures and exported.static_images < exported.figures:
        print(f"no static images: {exported.image_note}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
