"""Print the Markdown "launch binder" badge for a GitHub repository URL.

    python scripts/binder_badge.py https://github.com/OWNER/REPO
    python scripts/binder_badge.py https://github.com/OWNER/REPO --path notebooks/01_x.ipynb
    python scripts/binder_badge.py https://github.com/OWNER/REPO --app notebooks/05_dashboard.ipynb

The badge opens JupyterLab on mybinder.org (``urlpath=lab/tree/<path>``, or the lab's root), or
with ``--app`` a notebook as a Voila app (``urlpath=voila/render/<path>``).
"""

from __future__ import annotations

import argparse
import re
import sys
from urllib.parse import quote

BADGE = "https://mybinder.org/badge_logo.svg"
_GITHUB = re.compile(
    r"^(?:https?://)?(?:www\.)?github\.com/(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+?)(?:\.git)?/?$"
)


def badge(
    repository_url: str, *, ref: str = "HEAD", path: str | None = None, app: str | None = None
) -> str:
    """The Markdown badge that launches ``repository_url`` on mybinder.org.

    Args:
        repository_url: the repository's github.com URL.
        ref: the branch, tag or commit to build.
        path: a notebook to open in JupyterLab.
        app: a notebook to open as a Voila app instead.

    Returns:
        The Markdown of the badge.

    Raises:
        ValueError: not a GitHub repository URL, or both ``path`` and ``app``.
    """
    if path and app:
        raise ValueError("give --path (JupyterLab) or --app (Voila), not both")
    match = _GITHUB.match(repository_url.strip())
    if match is None:
        raise ValueError(
            f"not a GitHub repository URL: {repository_url!r} (expected "
            "https://github.com/OWNER/REPO)"
        )
    launch = f"https://mybinder.org/v2/gh/{match['owner']}/{match['repo']}/{quote(ref, safe='')}"
    if app:
        launch += f"?urlpath={quote('voila/render/' + app.lstrip('/'), safe='/')}"
    elif path:
        launch += f"?urlpath={quote('lab/tree/' + path.lstrip('/'), safe='/')}"
    else:
        launch += "?urlpath=lab"
    return f"[![Binder]({BADGE})]({launch})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the repository's GitHub URL")
    parser.add_argument("--ref", default="HEAD", help="branch, tag or commit (default HEAD)")
    parser.add_argument("--path", default=None, help="a notebook to open, e.g. notebooks/01_...")
    parser.add_argument("--app", default=None, help="a notebook to open as a Voila app")
    args = parser.parse_args(argv)
    try:
        print(badge(args.url, ref=args.ref, path=args.path, app=args.app))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
