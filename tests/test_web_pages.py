"""The search page's pure parts: the histogram's bars and labels, the pager's numbers, what a page may tell."""

from __future__ import annotations

import random
import urllib.parse
from collections import Counter

import pytest

from archive.web import histogram as hist
from archive.web import messages, pages
from archive.web import pages as pages_module

from .webdata import dam_documents


def _dam_months() -> dict[str, int]:
    return dict(Counter(f"{d.published:%Y-%m}" for d in dam_documents() if d.published))


# ------------------------------------------------------------------ histogram
def test_the_month_series_fills_a_century_and_lists_only_hits_beyond() -> None:
    """The API's histogram: zeros between hits within a century; two outlying dates of the years 1 and
    9999 do not make 119,988 months (a 3.6 MB answer), only the months found."""
    assert pages.month_series({"1999-11": 2, "2000-02": 1}) == [
        ("1999-11", 2), ("1999-12", 0), ("2000-01", 0), ("2000-02", 1)]
    century = pages.month_series({"1900-01": 1, "1999-12": 1})
    assert len(century) == 1200 and century[0] == ("1900-01", 1) and century[-1] == ("1999-12", 1)
    assert pages.month_series({"0001-01": 1, "2018-05": 19, "9999-12": 1}) == [
        ("0001-01", 1), ("2018-05", 19), ("9999-12", 1)]
    assert pages.month_series({"1900-01": 1, "2000-01": 1}) == [("1900-01", 1), ("2000-01", 1)]


def test_outliers_go_to_before_and_after_bars_and_the_bulk_is_drawn_by_month() -> None:
    """One report of 2013 and one of 2024 among sixty of 2018: the old histogram drew every month
    from 2013-05 to 2024-03 (131 bars); now twelve months of 2018 and the two edges."""
    months = _dam_months()
    assert len(pages.month_series(months)) == 131
    items, unit = hist.bins(months)
    assert unit == "month"
    assert [b.label for b in items] == ["قبل", *[f"2018-{m:02d}" for m in range(1, 13)], "بعد"]
    assert [b.count for b in items] == [1, 2, 2, 3, 4, 8, 10, 9, 7, 5, 4, 3, 3, 1]
    assert [b.edge for b in items][:2] == ["before", ""] and items[-1].edge == "after"
    assert sum(b.count for b in items) == sum(months.values())


def test_a_quiet_month_next_to_the_bulk_stays_a_bar() -> None:
    months = {**_dam_months(), "2017-11": 1}  # within a quarter of 2018's span of the rest: a bar
    items, _ = hist.bins(months)
    assert items[1].label == "2017-11" and items[1].count == 1 and items[0].label == "قبل" and items[0].count == 1


def test_few_articles_are_never_clamped_and_a_wide_range_is_drawn_by_year() -> None:
    months = {"2013-05": 1, "2018-01": 3, "2024-03": 1}  # 2 % of 5 articles is none
    items, unit = hist.bins(months)
    assert unit == "year" and [b.label for b in items] == [str(y) for y in range(2013, 2025)]
    assert [b.count for b in items if b.count] == [1, 3, 1] and not any(b.edge for b in items)


@pytest.mark.parametrize(("first", "last", "unit", "bars"), [
    ("2024-01", "2024-01", "month", 1), ("2022-01", "2024-12", "month", 36), ("2022-01", "2025-01", "year", 4),
    ("1990-01", "2019-12", "year", 30), ("1950-06", "2024-06", "years", 15), ("1900-01", "2024-12", "years", 25),
])
def test_the_unit_follows_the_range(first: str, last: str, unit: str, bars: int) -> None:
    months = {first: 5, last: 5}
    items, chosen = hist.bins(months)
    assert chosen == unit and len(items) == bars <= hist.MAX_MONTH_BARS
    assert sum(b.count for b in items) == sum(months.values())


def test_each_bar_links_to_the_same_search_within_its_dates() -> None:
    params = {"q": "سد النهضة", "source": ["bbc"], "since": "2013-01-01", "page": "3"}
    drawn = hist.histogram(_dam_months(), params)
    links = {bar.label: urllib.parse.parse_qs(bar.href[1:]) for bar in drawn.bars}
    assert links["قبل"] == {"q": ["سد النهضة"], "source": ["bbc"], "since": ["2013-01-01"], "until": ["2017-12-31"]}
    assert links["بعد"] == {"q": ["سد النهضة"], "source": ["bbc"], "since": ["2019-01-01"]}
    assert links["2018-02"]["since"] == ["2018-02-01"] and links["2018-02"]["until"] == ["2018-02-28"]
    years = hist.histogram({"2013-05": 1, "2018-01": 3, "2024-03": 1}, {"q": "x"})
    assert urllib.parse.parse_qs(years.bars[0].href[1:]) == {"q": ["x"], "since": ["2013-01-01"],
                                                             "until": ["2013-12-31"]}
    assert drawn.bars[0].title == "قبل 2018-01: 1" and drawn.bars[-1].title == "بعد 2018-12: 1"
    assert drawn.first == "2018-01" and drawn.last == "2018-12" and drawn.unit == "month"


def test_bars_run_right_to_left_and_scale_to_the_peak() -> None:
    drawn = hist.histogram(_dam_months(), {})
    xs = [bar.x for bar in drawn.bars]
    assert xs == sorted(xs, reverse=True) and xs[-1] >= 0 and xs[0] + drawn.bars[0].width <= drawn.width
    peak = max(drawn.bars, key=lambda bar: bar.count)
    assert peak.label == "2018-06" and peak.height == drawn.height and peak.y == 0
    assert all(bar.height >= hist.MIN_HEIGHT for bar in drawn.bars if bar.count)


def _spans(labels: list[str], shown: list[bool], width: float) -> list[tuple[float, float]]:
    """Where the shown labels sit (as site.css places them: ends inward, the others centred)."""
    n, cell, out = len(labels), width / len(labels), []
    for i, label in enumerate(labels):
        if shown[i]:
            w = hist.label_width(label)
            out.append((0.0, w) if i == 0 else (width - w, width) if i == n - 1
                       else ((i + 0.5) * cell - w / 2, (i + 0.5) * cell + w / 2))
    return sorted(out)


def test_labels_never_overlap_across_each_width_class() -> None:
    """For many spreads of dates, the labels chosen for a width class keep apart at its narrowest
    width and at every wider one (positions spread, label widths stay)."""
    rng = random.Random(25)
    for _ in range(300):
        start = rng.randrange(1990 * 12, 2024 * 12)
        months = {hist.month_name(start + rng.randrange(0, rng.choice([3, 14, 40, 200, 900]))): rng.randrange(1, 50)
                  for _ in range(rng.randrange(1, 60))}
        drawn = hist.histogram(months, {})
        labels = [bar.label for bar in drawn.bars]
        for name, narrowest in hist.WIDTH_CLASSES:
            shown = [name in bar.shown_in.split() for bar in drawn.bars]
            for width in (narrowest, narrowest * 1.37, narrowest * 3):
                spans = _spans(labels, shown, width)
                assert all(a[1] + hist.LABEL_GAP <= b[0] for a, b in zip(spans, spans[1:])), (months, name, width)
                assert all(0 <= a and b <= width for a, b in spans)
            if len(labels) > 1 and narrowest >= 300:
                assert shown[0] and shown[-1]  # the two ends are always named on a wide figure


def test_the_issues_case_labels_every_quarter_on_a_phone_and_more_on_a_wide_screen() -> None:
    drawn = hist.histogram(_dam_months(), {})
    on = {name: [bar.label for bar in drawn.bars if name in bar.shown_in.split()] for name, _ in hist.WIDTH_CLASSES}
    assert on["a"][0] == "قبل" and on["a"][-1] == "بعد" and len(on["a"]) >= 3
    assert len(on["e"]) > len(on["c"]) > len(on["a"])


# ---------------------------------------------------------------------- pager
@pytest.mark.parametrize(("page", "pages", "shown"), [
    (5, 19, [1, None, 4, 5, 6, None, 19]), (1, 19, [1, 2, None, 19]), (19, 19, [1, None, 18, 19]),
    (4, 19, [1, 2, 3, 4, 5, None, 19]), (3, 5, [1, 2, 3, 4, 5]), (1, 1, [1]), (16, 19, [1, None, 15, 16, 17, 18, 19]),
])
def test_page_numbers_show_the_ends_the_neighbours_and_ellipses(page: int, pages: int, shown: list) -> None:
    assert pages_module.page_numbers(page, pages) == shown


def test_pager_has_previous_and_next_that_keep_the_search() -> None:
    params = {"q": "سد النهضة", "source": ["bbc"], "page": "5"}
    middle = pages.pager(57, 3, 5, 3, params, last_page=333)
    assert middle.previous == "?q=%D8%B3%D8%AF+%D8%A7%D9%84%D9%86%D9%87%D8%B6%D8%A9&source=bbc&page=4"
    assert urllib.parse.parse_qs(middle.next[1:])["page"] == ["6"]
    assert [link and link.number for link in middle.pages] == [1, None, 4, 5, 6, None, 19]
    assert "page" not in urllib.parse.parse_qs(middle.pages[0].href[1:])  # page 1 is the plain search
    assert [link.number for link in middle.pages if link and link.current] == [5]
    first, last = pages.pager(57, 3, 1, 3, params, last_page=333), pages.pager(57, 3, 19, 3, params, last_page=333)
    assert first.previous == "" and first.next and last.next == "" and last.previous
    assert not pages.pager(3, 3, 1, 3, params, last_page=333)  # one page: no pager
    unknown = pages.pager(None, 3, 2, 3, params, last_page=333)  # a full page of unknown total: one more
    assert unknown.next and [link and link.number for link in unknown.pages] == [1, 2, 3]
    assert pages.pager(10_000, 10, 100, 10, params, last_page=100).next == ""  # the library's depth


def test_marks_of_joined_titles_go_back_to_each_title() -> None:
    titles = ["سد النهضة", "", "مفاوضات سد النهضة في القاهرة"]
    joined = "\n".join(titles)
    marks = [(joined.index(word, at), joined.index(word, at) + len(word))
             for word, at in (("سد", 0), ("النهضة", 0), ("سد", 12), ("النهضة", 12))]
    split = pages.split_marks(titles, marks)
    assert [[title[s:e] for s, e in spans] for title, spans in zip(titles, split)] == [
        ["سد", "النهضة"], [], ["سد", "النهضة"]]
    assert pages.split_marks(["ab", "cd"], [(1, 4)]) == [[], []]  # across the separator: dropped


# ------------------------------------------------------------------- messages
def test_a_local_models_directory_is_cut_to_its_name() -> None:
    name = "st:/srv/models/arabic-e5|query=query: /sentence-transformers-6.2.0"
    assert messages.without_local_models(name) == "st:…/arabic-e5|query=query: /sentence-transformers-6.2.0"
    assert messages.without_local_models("st:/home/u/m/sentence-transformers-6.2.0") == \
        "st:…/m/sentence-transformers-6.2.0"
    assert messages.without_local_models("st:~/models/x and st:./y") == "st:…/x and st:…/y"
    hub = "st:intfloat/multilingual-e5-small/sentence-transformers-6.2.0"
    assert messages.without_local_models(hub) == hub  # a hub id is no path of the server


def test_related_reasons_in_arabic() -> None:
    assert messages.arabic_related_reason("no other article shares its words") == "لا مقال آخر يشاركه كلماته"
    assert messages.arabic_related_reason("'x' has no searchable words to compare") == "ليس في المقال كلمات يُقارن بها"
    assert messages.arabic_related_reason(None) is None and messages.arabic_related_reason("new reason") is None
