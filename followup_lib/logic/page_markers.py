"""Markers a notebook's outputs leave for whoever makes a page of them
(``reporting.page``): plain text here, so the page maker reads them without
importing the charts (pandas, plotly)."""

from __future__ import annotations

# Where a report kernel leaves plotly.js out (``charts.OfflineFigures("placeholder")``):
# the report runner puts the bundle there itself, the smallest one that draws every
# chart of the page, instead of 4.8 MB made, sent and written by the kernel.
PLOTLY_JS_PLACEHOLDER = '<script type="text/x-followup-plotly-js"></script>'
