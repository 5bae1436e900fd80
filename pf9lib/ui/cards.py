"""The health-summary card row: one card per row of summary.health_summary, in its order.

One HTML widget rather than a box of labels per card: the browser builds one view instead of ~30 widget
models, and the values are escaped text either way.
"""

from __future__ import annotations

import html
from datetime import datetime

import ipywidgets as w
import pandas as pd

from pf9lib.analytics import summary
from pf9lib.store.reader import Store


def cards_html(cards: pd.DataFrame) -> str:
    """Cards of a health_summary frame (key, label, value), each value as summary.format_card_value has it."""
    items = []
    for row in cards.itertuples():
        value = html.escape(summary.format_card_value(row.key, row.value))
        items.append(
            f'<div class="pf9-card pf9-card-{html.escape(row.key)}">'
            f'<div class="pf9-card-value">{value}</div>'
            f'<div class="pf9-card-label">{html.escape(row.label)}</div></div>'
        )
    return f'<div class="pf9-cards">{"".join(items)}</div>'


def health_cards(store: Store, as_of: datetime | None = None) -> w.HTML:
    """The card row of the store's current state; `as_of` (summary.as_of, when the caller has it already)
    ends the 24 h window and saves a query."""
    return w.HTML(cards_html(summary.health_summary(store, now=as_of)))
