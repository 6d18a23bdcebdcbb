"""Charts as inline SVG made on the server: no script, readable by screen readers, numbers shown beside them.

Each chart is an `<svg role="img">` with a `<title>` and a `<desc>` that says the figures in words;
every bar has its own `<title>` (a tooltip), and pages show the same numbers in text. All text is
escaped here; callers pass plain strings.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

_W, _H, _PAD, _LABEL = 320, 160, 4, 18


def _svg(title: str, desc: str, body: Markup, *, ident: str, height: int) -> Markup:
    return Markup(
        '<svg class="chart" role="img" viewBox="0 0 {w} {h}" width="100%" aria-labelledby="{i}-title {i}-desc" '
        'xmlns="http://www.w3.org/2000/svg"><title id="{i}-title">{title}</title><desc id="{i}-desc">{desc}</desc>'
        "{body}</svg>"
    ).format(w=_W, h=height, i=ident, title=title, desc=desc, body=body)


def bar_chart(ident: str, title: str, labels: Sequence[str], values: Sequence[int], shown: Sequence[str]) -> Markup:
    """Vertical bars, one per label; `shown` is each value as people read it (e.g. '120.00 USD').

    Negative values (a month with more refunds than revenue) are drawn below the zero line.
    """
    top, bottom = max([0, *values]), min([0, *values])
    span = (top - bottom) or 1
    plot = _H - _LABEL - _PAD
    zero = _PAD + plot * top / span
    width = (_W - _PAD) / max(len(values), 1)
    bars = []
    for n, (label, value, text) in enumerate(zip(labels, values, shown, strict=True)):
        h = plot * abs(value) / span
        x = _PAD + n * width
        bars.append(
            _BAR.format(
                label=label,
                text=text,
                css="bar negative" if value < 0 else "bar",
                x=f"{x + width * 0.15:.1f}",
                y=f"{zero - h if value >= 0 else zero:.1f}",
                w=f"{width * 0.7:.1f}",
                h=f"{max(h, 0.5):.1f}",
                mid=f"{x + width / 2:.1f}",
                base=_H - 4,
            )
        )
    axis = _AXIS.format(w=_W, z=f"{zero:.1f}")
    desc = "; ".join(f"{label}: {text}" for label, text in zip(labels, shown, strict=True)) or "No data."
    return _svg(title, desc, axis + Markup("").join(bars), ident=ident, height=_H)


def split_bar(ident: str, title: str, parts: Sequence[tuple[str, int, str, str]]) -> Markup:
    """One horizontal bar split into parts: (label, value, shown, css class); parts of zero or less are left out."""
    drawn = [p for p in parts if p[1] > 0]
    total = sum(p[1] for p in drawn) or 1
    x = 0.0
    body = []
    for label, value, shown, css in drawn:
        w = _W * value / total
        body.append(_PART.format(label=label, shown=shown, css=css, x=f"{x:.1f}", w=f"{w:.1f}"))
        x += w
    desc = "; ".join(f"{label}: {shown}" for label, _, shown, _ in parts) or "No data."
    return _svg(title, desc, Markup("").join(body), ident=ident, height=36)


# Templates whose placeholders Markup.format escapes (only our numbers and escaped text go in).
_BAR = Markup(
    '<g><title>{label}: {text}</title><rect class="{css}" x="{x}" y="{y}" width="{w}" height="{h}"></rect>'
    '<text x="{mid}" y="{base}" text-anchor="middle" font-size="10">{label}</text></g>'
)
_AXIS = Markup('<line class="axis" x1="0" x2="{w}" y1="{z}" y2="{z}" stroke="currentColor"></line>')
_PART = Markup(
    '<g><title>{label}: {shown}</title><rect class="{css}" x="{x}" y="4" width="{w}" height="28"></rect></g>'
)
