"""HTML report builder (no template engine: a report is a few sections)."""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import os
from dataclasses import dataclass, field
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")  # headless: reports are written on servers and CI
import matplotlib.pyplot as plt  # noqa: E402

from neuralscope.io.atomic import write_bytes_atomic, write_text_atomic  # noqa: E402

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:18px 32px}header h1{margin:0;font-size:24px}
header p{margin:4px 0 0;color:#b8c0cc;font-size:13px}
main{max-width:1180px;margin:0 auto;padding:16px 32px 48px}
nav{font-size:13px;margin:12px 0}nav a{margin-right:14px;color:#2456a6;text-decoration:none}
section{background:#fff;border:1px solid #e1e4ea;border-radius:8px;padding:16px 24px;margin:18px 0}
section h2{margin-top:4px;font-size:20px}
.figs{display:flex;flex-wrap:wrap;gap:18px}
figure{margin:0;flex:1 1 340px;max-width:100%}figure.wide{flex-basis:100%}figure img{max-width:100%;border:1px solid #eef0f3}
figcaption{font-size:13px;color:#4a5566;margin-top:4px}
.score{display:inline-block;background:#e8f3ea;color:#1f6b32;border-radius:4px;padding:1px 6px;font-weight:600}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border-bottom:1px solid #e1e4ea;padding:4px 10px;text-align:right}th{background:#f0f2f5}
td:first-child,th:first-child{text-align:left}
p.note{font-size:13px;color:#4a5566}
"""


def figure_to_png(fig: Any, dpi: int = 110) -> bytes:
    """Render a matplotlib figure to PNG bytes and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


@dataclass
class Figure:
    """A figure with its caption and (optional) ground-truth score line."""

    name: str
    png: bytes
    caption: str = ""
    score: str = ""
    wide: bool = False


@dataclass
class Section:
    """One capability's part of a report.

    ``key`` names the section's figure files (``<key>-<figure>.png``); it
    defaults to a slug of the title.
    """

    @property
    def slug(self) -> str:
        text = self.key or self.title
        return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())[:48] or "section"

    title: str
    intro: str = ""
    key: str = ""
    figures: list[Figure] = field(default_factory=list)
    tables: list[tuple[str, list[str], list[list[Any]]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add_figure(self, name: str, fig: Any, caption: str = "", score: str = "") -> Figure:
        """Add a matplotlib figure (rendered now, and closed); figures wider
        than 7 inches take the whole row of the report."""
        wide = bool(fig.get_figwidth() > 7)
        item = Figure(name, figure_to_png(fig), caption, score, wide)
        self.figures.append(item)
        return item

    def add_table(self, caption: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.tables.append((caption, list(header), [list(r) for r in rows]))

    def add_note(self, text: str) -> None:
        self.notes.append(text)

    def to_html(self, anchor: str) -> str:
        parts = [f'<section id="{anchor}"><h2>{html.escape(self.title)}</h2>']
        if self.intro:
            parts.append(f"<p>{html.escape(self.intro)}</p>")
        for caption, header, rows in self.tables:
            parts.append(f"<table><caption>{html.escape(caption)}</caption><tr>")
            parts.extend(f"<th>{html.escape(str(h))}</th>" for h in header)
            parts.append("</tr>")
            for row in rows:
                cells = "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row)
                parts.append(f"<tr>{cells}</tr>")
            parts.append("</table>")
        if self.figures:
            parts.append('<div class="figs">')
            for f in self.figures:
                data = base64.b64encode(f.png).decode("ascii")
                score = f'<span class="score">{html.escape(f.score)}</span> ' if f.score else ""
                cls = ' class="wide"' if f.wide else ""
                parts.append(
                    f'<figure{cls}><img alt="{html.escape(f.name)}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{score}{html.escape(f.caption)}</figcaption></figure>"
                )
            parts.append("</div>")
        parts.extend(f'<p class="note">{html.escape(n)}</p>' for n in self.notes)
        parts.append("</section>")
        return "\n".join(parts)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


@dataclass
class Report:
    """A report: a title and sections, saved as one self-contained HTML file."""

    title: str
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)

    def add_section(self, section: Section) -> Section:
        self.sections.append(section)
        return section

    def to_html(self) -> str:
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        anchors = [f"s{i}" for i in range(len(self.sections))]
        nav = " ".join(f'<a href="#{a}">{html.escape(s.title)}</a>' for a, s in zip(anchors, self.sections))
        body = "\n".join(s.to_html(a) for a, s in zip(anchors, self.sections))
        sub = html.escape(self.subtitle) + (" &middot; " if self.subtitle else "") + f"generated {stamp}"
        return (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head><body>"
            f"<header><h1>{html.escape(self.title)}</h1><p>{sub}</p></header>"
            f"<main><nav>{nav}</nav>{body}</main></body></html>"
        )

    def save(self, path: str | os.PathLike, figures_dir: str | os.PathLike | None = None) -> None:
        """Write the HTML (atomically); optionally also each figure as a PNG."""
        if figures_dir is not None:
            for s in self.sections:
                for f in s.figures:
                    write_bytes_atomic(os.path.join(figures_dir, f"{s.slug}-{f.name}.png"), f.png)
        write_text_atomic(path, self.to_html())
