"""nbconvert preprocessors: Plotly figures into drawn charts, unsaved widgets into a note.

Both work on the copy of the notebook nbconvert exports; the ``.ipynb`` is never changed.
"""

from __future__ import annotations

import base64
import html
import itertools
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import nbformat
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Int

from nosana_nb.core.errors import StaticImageError
from nosana_nb.export._images import DEFAULT_IMAGE_WIDTH, render_pngs
from nosana_nb.export._widgets import WidgetViewRenderer

PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
WIDGET_NOTE = (
    '<p class="nosana-note">A live widget was here: it runs in JupyterLab or Voila, and its '
    "state was not saved with the notebook.</p>"
)

logger = logging.getLogger("nosana_nb.export")


def _outputs(nb: Any) -> Iterator[Any]:
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            yield from cell.get("outputs", [])


def figure_title(figure: Mapping[str, Any]) -> str:
    title = (figure.get("layout") or {}).get("title")
    text = title.get("text") if isinstance(title, Mapping) else title
    return str(text) if text else "Plotly chart"


def figure_html(
    figure: Mapping[str, Any], div_id: str, image: bytes | None, image_note: str
) -> str:
    """A div plotly.js draws (plotly.js itself is on the page once), and in ``<noscript>``
    the figure as a PNG, or a sentence saying why there is none."""
    import plotly.io as pio

    drawn = pio.to_html(
        dict(figure),
        include_plotlyjs=False,
        full_html=False,
        div_id=div_id,
        default_width="100%",
        config={"responsive": True},
        validate=False,
    )
    title = html.escape(figure_title(figure))
    if image is not None:
        encoded = base64.b64encode(image).decode("ascii")
        fallback = f'<img alt="{title}" src="data:image/png;base64,{encoded}">'
    else:
        why = f" ({html.escape(image_note)})" if image_note else ""
        fallback = f'<p class="nosana-note">{title}: this chart needs JavaScript{why}.</p>'
    return f'<div class="nosana-figure">{drawn}<noscript>{fallback}</noscript></div>'


class PlotlyFiguresPreprocessor(Preprocessor):
    """Every Plotly figure output (``application/vnd.plotly.v1+json``, what a kernel's
    default renderer saves: data, no JavaScript) becomes HTML that draws it.

    Sets ``resources["plotly_js"]`` for the template, which embeds it once per page, and
    ``resources["nosana_nb"]`` to a summary (figures, static images, why images are missing).
    """

    static_images = Bool(
        True, help="Put a PNG of each chart (kaleido) in <noscript> for readers without JS."
    ).tag(config=True)
    image_width = Int(DEFAULT_IMAGE_WIDTH, help="Width of the static PNGs in pixels.").tag(
        config=True
    )

    def preprocess(self, nb: Any, resources: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """Replace each Plotly output with HTML that draws it (plus a PNG in ``<noscript>``).

        Args:
            nb: the notebook.
            resources: nbconvert's resources; ``plotly_js`` and ``nosana_nb`` are added.

        Returns:
            The notebook and the resources.
        """
        found = [output for output in _outputs(nb) if PLOTLY_MIME in output.get("data", {})]
        summary: dict[str, Any] = resources.setdefault("nosana_nb", {})
        summary.update(figures=len(found), static_images=0, image_note="")
        if not found:
            return nb, resources
        figures = [output["data"][PLOTLY_MIME] for output in found]
        images: list[bytes | None] = [None] * len(figures)
        note = "static images are off"
        if self.static_images:
            try:
                images = list(render_pngs(figures, width=self.image_width))
                note = ""
            except StaticImageError as err:
                note = str(err)
                logger.warning("exporting charts without static images: %s", err)
        for number, (output, figure, image) in enumerate(
            zip(found, figures, images, strict=True), start=1
        ):
            data = {key: value for key, value in output["data"].items() if key != PLOTLY_MIME}
            data["text/html"] = figure_html(figure, f"nosana-figure-{number}", image, note)
            output["data"] = nbformat.from_dict(data)
        import plotly.offline

        resources["plotly_js"] = plotly.offline.get_plotlyjs()
        summary.update(static_images=sum(image is not None for image in images), image_note=note)
        return nb, resources


class WidgetNotesPreprocessor(Preprocessor):
    """Widget views become static HTML drawn from the widget state saved with the notebook
    (nbclient and JupyterLab's "save widget state" store it); a view whose state was not saved
    (JupyterLab's default; live figures) would export as an empty box, so it becomes a note
    saying what was there.

    The saved state is then dropped from the page's copy of the notebook: with it, nbconvert
    would add the widget manager script from a CDN, which an offline page cannot load. Sets
    ``resources["nosana_nb"]["widget_views"]`` to the number of views drawn.
    """

    def preprocess(self, nb: Any, resources: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """Draw each widget view from the saved state, or replace it with a short note.

        Args:
            nb: the notebook; its saved widget state is removed from this copy.
            resources: nbconvert's resources; ``nosana_nb["widget_views"]`` is set, and
                ``plotly_js`` when a widget holds a chart.

        Returns:
            The notebook and the resources.
        """
        widgets_metadata = nb.metadata.get("widgets") or {}
        saved = (widgets_metadata.get(WIDGET_STATE_MIME) or {}).get("state") or {}
        figure_ids = itertools.count(1)

        def draw_figure(figure: Mapping[str, Any]) -> str:
            return figure_html(figure, f"nosana-widget-figure-{next(figure_ids)}", None, "")

        renderer = WidgetViewRenderer(saved, draw_figure)
        drawn = 0
        for output in _outputs(nb):
            view = output.get("data", {}).get(WIDGET_VIEW_MIME)
            if view is None:
                continue
            model_id = str(view.get("model_id", ""))
            if renderer.known(model_id):
                output["data"] = nbformat.from_dict({"text/html": renderer.render(model_id)})
                drawn += 1
            else:
                output["data"] = nbformat.from_dict({"text/html": WIDGET_NOTE})
        nb.metadata.pop("widgets", None)
        summary = resources.setdefault("nosana_nb", {})
        summary["widget_views"] = drawn
        if renderer.figures:
            import plotly.offline

            resources["plotly_js"] = plotly.offline.get_plotlyjs()
        return nb, resources
