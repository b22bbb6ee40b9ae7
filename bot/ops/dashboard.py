"""The dashboard page: one server-rendered HTML page with inline SVG charts (no script, no network, no build).

The last 24 hours' latency percentiles per stage (a bar chart), skip / validate / shadow-agreement rates, cache
hit rate, quality score, open alerts and the rollout state.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from html import escape

from bot.observability.stats import Distribution
from bot.ops.alerts import Incident
from bot.ops.daily import PeriodFigures
from bot.ops.rollout import RolloutState

BAR_COLOURS = {"p50": "#4c78a8", "p95": "#f58518", "p99": "#e45756"}
ROW_H, BAR_H, LABEL_W, CHART_W = 54, 14, 170, 520


def token_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison of the presented token with DASHBOARD_TOKEN."""
    return given is not None and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def latency_chart(rows: Sequence[tuple[str, Distribution]], sla_ms: float) -> str:
    """Horizontal bars (p50, p95, p99) per stage on a shared scale, with the SLA drawn as a line."""
    if not rows:
        return '<p class="empty">No requests in the last 24 hours.</p>'
    top = max(max(d.p99 for _, d in rows), sla_ms) or 1.0
    scale = CHART_W / top
    height = ROW_H * len(rows) + 30
    parts = [f'<svg role="img" aria-label="latency percentiles per stage" width="{LABEL_W + CHART_W + 90}" '
             f'height="{height}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="12">']
    for index, (name, dist) in enumerate(rows):
        y = 10 + index * ROW_H
        parts.append(f'<text x="0" y="{y + 22}" class="stage">{escape(name)}</text>')
        for offset, key in enumerate(("p50", "p95", "p99")):
            value = getattr(dist, key)
            width = max(1.0, value * scale)
            bar_y = y + offset * (BAR_H + 2)
            parts.append(f'<rect x="{LABEL_W}" y="{bar_y}" width="{width:.1f}" height="{BAR_H}" '
                         f'fill="{BAR_COLOURS[key]}"><title>{escape(name)} {key} {value:.1f} ms</title></rect>')
            parts.append(f'<text x="{LABEL_W + width + 4:.1f}" y="{bar_y + 11}" data-stage="{escape(name)}" '
                         f'data-percentile="{key}">{key} {value:.1f} ms</text>')
    sla_x = LABEL_W + sla_ms * scale
    parts.append(f'<line x1="{sla_x:.1f}" y1="0" x2="{sla_x:.1f}" y2="{height - 18}" stroke="#222" '
                 'stroke-dasharray="4 3"/>')
    parts.append(f'<text x="{sla_x + 3:.1f}" y="{height - 4}">SLA {sla_ms:g} ms</text></svg>')
    return "".join(parts)


def render_dashboard(figures: PeriodFigures, *, rollout: RolloutState | None, agreement: tuple[int, int] | None,
                     incidents: Sequence[Incident], quality: float | None) -> str:
    """The whole page."""
    rows: list[tuple[str, Distribution]] = []
    if figures.total is not None:
        rows.append(("total", figures.total))
    rows += sorted(figures.stages.items())
    tiles = [
        ("Requests", str(figures.requests)),
        ("p95 total", f"{figures.total.p95:.0f} ms" if figures.total else "n/a"),
        ("Over SLA", _share(figures.sla_breach_rate)),
        ("Errors", _share(figures.error_rate)),
        ("LLM skipped", _share(figures.skip_rate)),
        ("LLM validated", _share(figures.validate_rate)),
        ("Shadow agreement", _share(figures.shadow_agreement)),
        ("Cache hit rate", _share(figures.cache_hit_rate)),
        ("Quality score", "n/a" if quality is None else f"{quality:.1f}"),
    ]
    tile_html = "".join(f'<div class="tile"><div class="label">{escape(label)}</div>'
                        f'<div class="value" data-figure="{escape(label)}">{escape(value)}</div></div>'
                        for label, value in tiles)
    if incidents:
        alert_html = "<ul>" + "".join(
            f'<li class="alert"><b>{escape(i.rule)}</b> since {i.since:%Y-%m-%d %H:%M} UTC: {escape(i.finding.figure)}'
            f" (threshold {escape(i.finding.threshold)})</li>" for i in incidents) + "</ul>"
    else:
        alert_html = '<p class="none">No open alerts.</p>'
    if rollout is None:
        rollout_html = "<p>Unknown.</p>"
    else:
        checked, agreed = agreement or (0, 0)
        rollout_html = (
            f'<p>Mode <b data-rollout="mode">{escape(rollout.mode)}</b>'
            + (f", canary {rollout.canary_percent:g} %" if rollout.mode == "canary" else "")
            + f"; shadow agreement {_share(agreed / checked if checked else None)} of {checked} recent checks"
            + (f'; changed {rollout.changed_at:%Y-%m-%d %H:%M} UTC by {escape(rollout.changed_by)}'
               if rollout.changed_at else "")
            + (f'. <span class="rollback">Rolled back automatically: {escape(rollout.reason or "")}</span>'
               if rollout.rolled_back else "") + "</p>")
    slowest = "".join(f"<li><code>{escape(b.correlation_id)}</code> {b.total_ms:.0f} ms "
                      f"({escape(b.intent or 'no intent')})</li>" for b in figures.slowest)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>pitcrew dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<style>
body {{ font-family: sans-serif; margin: 24px; color: #222; }}
.tiles {{ display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }}
.tile {{ border: 1px solid #ccc; border-radius: 6px; padding: 8px 12px; min-width: 120px; }}
.label {{ font-size: 12px; color: #666; }} .value {{ font-size: 22px; font-weight: bold; }}
.alert {{ color: #b00020; }} .rollback {{ color: #b00020; }}
</style></head>
<body>
<h1>pitcrew</h1>
<p>Last 24 hours, {figures.start:%Y-%m-%d %H:%M} to {figures.end:%Y-%m-%d %H:%M} UTC. SLA {figures.sla_ms:g} ms.</p>
<div class="tiles">{tile_html}</div>
<h2>Latency per stage (ms)</h2>
{latency_chart(rows, figures.sla_ms)}
<h2>Open alerts</h2>
{alert_html}
<h2>Rollout of the LLM-skip optimisation</h2>
{rollout_html}
<h2>Slowest requests</h2>
<ul>{slowest}</ul>
</body></html>
"""
