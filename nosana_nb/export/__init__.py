"""Executed notebooks as self-contained HTML that keeps its Plotly charts.

    python -m nosana_nb.export notebooks/03_status_history_and_vault.ipynb report.html

    from nosana_nb.export import export_html
    export_html("03_status_history_and_vault.ipynb", "report.html")

A notebook keeps plotly's own output (``application/vnd.plotly.v1+json``: the figure's data,
no JavaScript), so a saved notebook stays small. ``jupyter nbconvert --to html`` cannot show
that output; this exporter can: each figure becomes a chart drawn by plotly.js, which the page
embeds once (from the installed plotly package — the page works offline), with a PNG of it
(kaleido, drawn by the system's chromium) inside ``<noscript>`` for readers without
JavaScript. A widget view whose state was saved with the notebook (nbclient, or JupyterLab's
"save widget state") is drawn as static HTML of how it looked; one whose state was not saved
becomes a one-line note instead of an empty box. Needs nbconvert, and kaleido for the PNGs
(``pip install 'nosana_nb[export]'``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbconvert import HTMLExporter
from traitlets import default

from nosana_nb.core.errors import StaticImageError
from nosana_nb.export._images import render_pngs
from nosana_nb.export._preprocess import (
    PLOTLY_MIME,
    PlotlyFiguresPreprocessor,
    WidgetNotesPreprocessor,
)

TEMPLATES = Path(__file__).resolve().parent / "templates"


class NotebookHTMLExporter(HTMLExporter):
    """nbconvert's HTML exporter (JupyterLab look) that draws Plotly figure outputs and
    embeds plotly.js once per page."""

    export_from_notebook = "HTML with Plotly charts"

    @default("template_name")
    def _template_name_default(self) -> str:
        return "nosana_nb"

    @default("extra_template_basedirs")
    def _extra_template_basedirs_default(self) -> list[str]:
        return [str(TEMPLATES)]

    def __init__(self, *, static_images: bool = True, **kwargs: Any) -> None:
        """Set up the exporter with its two preprocessors.

        Args:
            static_images: also draw each chart as a PNG (kaleido) for readers without
                JavaScript.
            kwargs: nbconvert ``HTMLExporter`` options.
        """
        super().__init__(**kwargs)
        self.register_preprocessor(WidgetNotesPreprocessor(), enabled=True)
        self.register_preprocessor(
            PlotlyFiguresPreprocessor(static_images=static_images), enabled=True
        )


@dataclass(frozen=True)
class Exported:
    """Where the page went and what it holds."""

    path: Path
    figures: int
    static_images: int
    image_note: str
    """Why some charts have no static image ("" when all have one)."""
    widget_views: int = 0
    """Widget views drawn from the saved widget state (the rest became a note)."""


def html_from_notebook(
    notebook: Any, *, static_images: bool = True, title: str = "notebook"
) -> tuple[str, dict[str, Any]]:
    """The page for an in-memory notebook (a ``NotebookNode``) and nbconvert's resources.

    Args:
        notebook: the executed notebook.
        static_images: also draw each chart as a PNG.
        title: the page's title.

    Returns:
        The HTML text and nbconvert's resources (``resources["nosana_nb"]`` counts charts).
    """
    exporter = NotebookHTMLExporter(static_images=static_images)
    body, resources = exporter.from_notebook_node(notebook, resources={"metadata": {"name": title}})
    return str(body), dict(resources)


def export_html(
    notebook_path: str | os.PathLike[str],
    html_path: str | os.PathLike[str] | None = None,
    *,
    static_images: bool = True,
) -> Exported:
    """Write ``notebook_path`` (an executed ``.ipynb``) as one HTML page; by default next to
    it with the ``.html`` suffix. The notebook file is not changed.

    Args:
        notebook_path: the executed notebook.
        html_path: where to write the page (default: beside the notebook).
        static_images: also draw each chart as a PNG.

    Returns:
        Where the page went, how many charts it holds and how many have a PNG.
    """
    import nbformat

    source = Path(notebook_path)
    target = Path(html_path) if html_path is not None else source.with_suffix(".html")
    notebook = nbformat.read(source, as_version=4)
    body, resources = html_from_notebook(notebook, static_images=static_images, title=source.stem)
    target.write_text(body, encoding="utf-8")
    summary = resources.get("nosana_nb", {})
    return Exported(
        path=target,
        figures=int(summary.get("figures", 0)),
        static_images=int(summary.get("static_images", 0)),
        image_note=str(summary.get("image_note", "")),
        widget_views=int(summary.get("widget_views", 0)),
    )


__all__ = [
    "PLOTLY_MIME",
    "Exported",
    "NotebookHTMLExporter",
    "PlotlyFiguresPreprocessor",
    "StaticImageError",
    "WidgetNotesPreprocessor",
    "export_html",
    "html_from_notebook",
    "render_pngs",
]
