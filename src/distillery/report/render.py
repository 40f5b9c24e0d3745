"""Sections to one self-contained HTML page: plotly.js, the figures' JSON, PNGs as data URIs,
styles and the loader are all inline, so the file opens anywhere without a network."""

from __future__ import annotations

import base64
import re
from html import escape
from typing import Any

from distillery.report import assets
from distillery.report.parts import Figure, Section, Table

_NUMERIC = re.compile(r"^-?[\d,]+(\.\d+)?%?$")
_CODE = re.compile(r"`([^`]+)`")
_BADGES = {"ok": "ready", "missing": "not run yet", "error": "error"}


def page(sections: list[Section], meta: dict[str, Any]) -> str:
    """The whole HTML document."""
    from plotly.offline import get_plotlyjs

    body = "\n".join(_section(s) for s in sections)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(meta["title"])}</title>
<style>{assets.CSS}</style>
<script>{get_plotlyjs()}</script>
</head>
<body data-plots-expected="0" data-plots-rendered="0">
{_header(meta)}
{_contents(sections)}
<main>
{body}
</main>
<footer>Written by distillery {escape(str(meta["version"]))} in {meta["seconds"]:.1f} s.
Every plot is drawn in the page from data kept in the file; nothing is fetched.</footer>
<script>{assets.LOADER}</script>
</body>
</html>
"""


def _header(meta: dict[str, Any]) -> str:
    return (f'<header><h1>{escape(meta["title"])}</h1>'
            f'<p>Home <code>{escape(str(meta["home"]))}</code>, sandbox '
            f'<code>{escape(meta["sandbox"])}</code>; written {escape(meta["generated_at"])}'
            f'.</p><p>{escape(meta["summary"])}</p></header>')


def _contents(sections: list[Section]) -> str:
    items = "".join(f'<li><a href="#{s.id}">{escape(s.title)}</a>'
                    f'<span class="badge {s.status}">{_BADGES[s.status]}</span></li>'
                    for s in sections)
    return f"<nav><ol>{items}</ol></nav>"


def _section(s: Section) -> str:
    notes_class = s.status if s.status != "ok" else ""
    notes = "".join(f"<li>{_prose(n)}</li>" for n in s.notes)
    parts = [f'<section id="{s.id}" data-section="{s.id}" data-status="{s.status}">',
             f'<h2>{escape(s.title)}<span class="step">step {escape(s.step)}</span>'
             f'<span class="badge {s.status}">{_BADGES[s.status]}</span></h2>']
    if notes:
        parts.append(f'<ul class="notes {notes_class}">{notes}</ul>')
    if s.metrics:
        parts.append('<div class="metrics">' + "".join(
            f'<div class="metric"><div class="label">{escape(k)}</div>'
            f'<div class="value">{escape(v)}</div></div>' for k, v in s.metrics) + "</div>")
    if s.figures:
        parts.append('<div class="figures">' + "".join(_figure(f) for f in s.figures)
                     + "</div>")
    parts += [_table(t) for t in s.tables if t.rows]
    parts.append("</section>")
    return "\n".join(parts)


def _prose(text: str) -> str:
    """Escaped text with `commands` set as code."""
    return _CODE.sub(r"<code>\1</code>", escape(text))


def _figure(f: Figure) -> str:
    caption = f"<figcaption>{escape(f.title)}</figcaption>"
    if f.kind == "png":
        data = base64.b64encode(f.png or b"").decode("ascii")
        return (f'<figure class="plot" data-plot="{f.id}" data-kind="png">'
                f'<img alt="{escape(f.title)}" src="data:image/png;base64,{data}">'
                f"{caption}</figure>")
    spec_id = f"spec-{f.id}"
    return (f'<figure class="plot" data-plot="{f.id}" data-kind="plotly" '
            f'data-spec="{spec_id}"><div class="plot-area" id="plot-{f.id}"></div>{caption}'
            f'<script type="application/json" id="{spec_id}">{_json(f.plotly)}</script>'
            "</figure>")


def _json(fig: Any) -> str:
    """A figure's JSON, safe inside a script element: no "<" is left to close it early
    ("<" only occurs inside JSON strings, where \\u003c means the same)."""
    import plotly.io as pio

    return pio.to_json(fig, validate=False).replace("<", "\\u003c")


def _table(t: Table) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in t.columns)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in t.rows)
    return (f'<div class="table-wrap"><table><caption>{escape(t.title)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    css = ' class="num"' if _NUMERIC.match(text) else ""
    return f"<td{css}>{escape(text)}</td>"
