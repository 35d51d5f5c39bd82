"""Static PNGs of Plotly figures with kaleido, for pages read with JavaScript off."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Mapping, Sequence
from typing import Any

from nosana_nb.core.errors import StaticImageError

DEFAULT_IMAGE_WIDTH = 900
DEFAULT_IMAGE_HEIGHT = 450  # plotly's own default when a figure sets no height


def render_pngs(
    figures: Sequence[Mapping[str, Any]],
    *,
    width: int = DEFAULT_IMAGE_WIDTH,
    timeout: float = 90.0,
) -> list[bytes]:
    """PNG bytes of each figure (plotly JSON: data, layout), in one headless browser session.

    kaleido 1.x drives the system's chromium (``/usr/bin/chromium`` on ``PATH``, or
    ``BROWSER_PATH``) with the plotly.js of the installed plotly package; MathJax is off, so
    nothing is fetched from the network. Each image is ``width`` wide and as high as the
    figure's layout says.

    Args:
        figures: plotly figure JSON (data, layout).
        width: each image's width in pixels.
        timeout: seconds the browser session may take.

    Returns:
        One PNG per figure.

    Raises:
        StaticImageError: kaleido or chromium is missing, or drawing failed.
    """
    if not figures:
        return []
    try:
        import kaleido
    except ImportError as err:
        raise StaticImageError("kaleido is not installed (pip install kaleido)") from err

    async def render() -> list[bytes]:
        images: list[bytes] = []
        async with kaleido.Kaleido(n=1, timeout=timeout, mathjax=False) as session:
            for figure in figures:
                height = (figure.get("layout") or {}).get("height") or DEFAULT_IMAGE_HEIGHT
                opts = {"format": "png", "width": width, "height": height, "scale": 1}
                images.append(bytes(await session.calc_fig(dict(figure), opts=opts)))
        return images

    # a thread of its own: asyncio.run must not meet a Jupyter kernel's running loop
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        try:
            return pool.submit(asyncio.run, render()).result()
        except Exception as err:  # kaleido raises its own types; the caller needs the reason
            raise StaticImageError(f"kaleido could not draw the figures: {err}") from err
