"""The health-summary card row: one card per row of summary.health_summary, in its order; the overview adds
the snapshot SLA card (pf9lib.analytics.sla) at its end.

One HTML widget rather than a box of labels per card: the browser builds one view instead of ~30 widget
models, and the values are escaped text either way.
"""

from __future__ import annotations

import html
from datetime import datetime

import ipywidgets as w
import pandas as pd

from pf9lib.analytics import sla, summary
from pf9lib.store.reader import Store


def cards_html(cards: pd.DataFrame, extra: str = "") -> str:
    """Cards of a health_summary frame (key, label, value), each value as summary.format_card_value has it;
    `extra` (more cards' HTML) ends the same row."""
    items = []
    for row in cards.itertuples():
        value = html.escape(summary.format_card_value(row.key, row.value))
        items.append(
            f'<div class="pf9-card pf9-card-{html.escape(row.key)}">'
            f'<div class="pf9-card-value">{value}</div>'
            f'<div class="pf9-card-label">{html.escape(row.label)}</div></div>'
        )
    return f'<div class="pf9-cards">{"".join(items)}{extra}</div>'


def health_cards(store: Store, as_of: datetime | None = None) -> w.HTML:
    """The card row of the store's current state; `as_of` (summary.as_of, when the caller has it already)
    ends the 24 h window and saves a query."""
    return w.HTML(cards_html(summary.health_summary(store, now=as_of)))


NO_POLICY_DATA = "no policy data"


def sla_share(store: Store, cloud: str | None = None, region: str | None = None) -> tuple[int, int]:
    """(compliant, enrolled) (volume, policy) pairs of sla.status: the share docs/domain.md §5 calls
    compliance."""
    status = sla.status(store, cloud=cloud, region=region)
    return int((status["status"] == "compliant").sum()), len(status)


def sla_card_html(compliant: int, enrolled: int) -> str:
    """The SLA card: compliant / enrolled in %, or "no policy data" when nothing is enrolled (never 0 % or
    100 % made up from nothing)."""
    if enrolled:
        value = summary.format_card_value("sla_pct", compliant / enrolled * 100)
        label = f"Snapshot SLA compliant % ({compliant:,} of {enrolled:,} enrolled volume policies)"
    else:
        value, label = NO_POLICY_DATA, "Snapshot SLA: no volume is enrolled in a snapshot policy"
    return (
        f'<div class="pf9-card pf9-card-sla"><div class="pf9-card-value">{html.escape(value)}</div>'
        f'<div class="pf9-card-label">{html.escape(label)}</div></div>'
    )


def sla_card(store: Store, cloud: str | None = None, region: str | None = None) -> w.HTML:
    """The SLA card alone, in a card row."""
    return w.HTML(f'<div class="pf9-cards">{sla_card_html(*sla_share(store, cloud, region))}</div>')


def overview_cards(store: Store, as_of: datetime | None = None) -> w.HTML:
    """The overview's card row: the health summary's cards, then the SLA card, in one row."""
    return w.HTML(
        cards_html(summary.health_summary(store, now=as_of), extra=sla_card_html(*sla_share(store)))
    )
