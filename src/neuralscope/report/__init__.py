"""Self-contained HTML reports: figures inline, every figure with its score.

Each capability contributes a :class:`Section`; :class:`Report` stitches the
sections into one file that opens anywhere without a server or internet.
"""

from neuralscope.report.html import Figure, Report, Section, figure_to_png

__all__ = ["Figure", "Report", "Section", "figure_to_png"]
