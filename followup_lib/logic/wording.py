"""Lists and dates as English, through Babel rather than string pasting.

Every draft, why and report sentence that names several things or a day uses these,
so "A; B; C" always reads "A, B and C" and a date always reads "Monday 16 November".
"""

from __future__ import annotations

import datetime as dt
import html
import re

import pandas as pd
from babel.dates import format_date
from babel.lists import format_list

#: British English: "A, B and C" (no serial comma), "Monday 16 November".
LOCALE = "en_GB"


def english_list(items) -> str:
    """'A', 'A and B', 'A, B and C'; blanks dropped."""
    items = [str(i).strip() for i in items if i is not None and str(i).strip()]
    return format_list(items, locale=LOCALE) if items else ""


def split_topics(text) -> list[str]:
    """Topics typed as 'A; B; C' (or one per line) as a list."""
    if text is None or (not isinstance(text, str) and pd.isna(text)):
        return []
    return [t.strip() for t in re.split(r"[;\n]", str(text)) if t.strip()]


def topic_phrase(text) -> str:
    """Topics typed as 'A; B; C' read as 'A, B and C'."""
    return english_list(split_topics(text))


def long_date(value, as_of=None) -> str:
    """'Monday 16 November', with the year when it is not ``as_of``'s year."""
    d = pd.Timestamp(value).date()
    pattern = "EEEE d MMMM" if as_of is None or pd.Timestamp(as_of).year == d.year else "EEEE d MMMM y"
    return format_date(d, pattern, locale=LOCALE)


def short_date(value: dt.date) -> str:
    return format_date(pd.Timestamp(value).date(), "d MMMM", locale=LOCALE)


def count_noun(count, noun: str, plural: str | None = None) -> str:
    """ "1 interview", "2 interviews": a count with its noun."""
    count = int(count)
    return f"{count} {noun if count == 1 else (plural or noun + 's')}"


# Every character Markdown (CommonMark, JupyterLab's renderer) may read as markup.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|~$<>])")


def markdown_text(text) -> str:
    """Store text as literal Markdown text, for every report and analysis sentence:
    no markup, no HTML, no maths, one line."""
    text = " ".join(str(text).split())
    text = html.escape(text, quote=False).replace("&lt;", "<").replace("&gt;", ">")
    # Backslash escapes work in CommonMark and in JupyterLab; "&" stays an entity.
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("<", "&lt;").replace(">", "&gt;").replace("\\&", "&")


def typical_amount(values, unit: str, min_cases: int, plural: str | None = None) -> str:
    """How long a handful of cases took, said without overclaiming: "4 days" for
    one case, "1, 3 and 4 days" for fewer than ``min_cases``, "a median of 3
    days" from ``min_cases`` on (never "a median of 1 day" for a single case).
    ``values``: the amounts (whole numbers); "" when there are none."""
    import numpy as np

    amounts = sorted(int(round(float(v))) for v in values if v is not None and not pd.isna(v))
    if not amounts:
        return ""
    if len(amounts) == 1:
        return count_noun(amounts[0], unit, plural)
    if len(amounts) < min_cases:
        if len(set(amounts)) == 1:
            return count_noun(amounts[0], unit, plural) + " each"
        return f"{english_list(str(a) for a in amounts)} {plural or unit + 's'}"
    return "a median of " + count_noun(round(float(np.median(amounts))), unit, plural)
