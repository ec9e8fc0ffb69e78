"""The story view (``/story``) in a real headless Chromium, at a phone's 390×844 and a laptop's 1280×900.

Reached as a reader reaches it: from an article page's link and from a results page's link. Layout is
checked from element boxes: the first event whole on the phone's first screen, nothing scrolling
sideways, and in every event's line no two labels (dates, outlets, title) intersecting.
``NEWS_ARCHIVE_SCREENSHOTS=docs/screenshots`` saves the screenshots docs/story.md shows. The archive
is the seed's story told by several outlets over three months (:mod:`tests.storydata`), with e5-small
vectors (the default encoder). Skips where no Chromium or Playwright is installed, as
:mod:`tests.test_web_browser` does.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive import Archive, Document

from .storydata import story_documents
from .test_web_browser import LAPTOP, PHONE, _box, _screenshot, browser, serving  # noqa: F401 - browser: a fixture

QUERY = "جنود كوريا الشمالية في كورسك"


@pytest.fixture(scope="module")
def story_server(tmp_path_factory: pytest.TempPathFactory, seed_document: Document) -> Iterator[str]:
    index = tmp_path_factory.mktemp("story-browser") / "index"
    Archive.build(story_documents(seed_document), index, encoder="e5-small", procs=1).close()
    yield from serving(index)


def _labels_apart(page) -> int:
    """Asserts that in every event's line the dates, outlets and title boxes do not intersect, stay inside
    the line and the window, and the dates keep to one line; returns how many events were checked."""
    events = page.locator("ol.events > li.event summary").evaluate_all("""lines => lines.map(line => {
        const box = e => { const r = e.getBoundingClientRect();
                           return {x: r.left, y: r.top, right: r.right, bottom: r.bottom, lines: new Set([...e.getClientRects()].map(q => Math.round(q.bottom))).size}; };
        return {line: box(line), when: box(line.querySelector('.when bdi')), outlets: box(line.querySelector('.outlets')),
                title: box(line.querySelector('.headline'))}; })""")
    width = page.viewport_size["width"]
    for event in events:
        labels = [event["when"], event["outlets"], event["title"]]
        for i, a in enumerate(labels):
            assert event["line"]["x"] - 1 <= a["x"] and a["right"] <= event["line"]["right"] + 1 <= width + 1, event
            for b in labels[i + 1:]:
                apart = a["right"] <= b["x"] or b["right"] <= a["x"] or a["bottom"] <= b["y"] or b["bottom"] <= a["y"]
                assert apart, (a, b)
        assert event["when"]["lines"] == 1, event  # "2024-12-15 – 2024-12-18" never breaks
    return len(events)


def test_story_of_an_article_on_a_phone(story_server: str, browser, seed_document: Document, tmp_path: Path) -> None:  # noqa: F811
    context = browser.new_context(viewport=PHONE, locale="ar", is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(story_server + "/article?" + urllib.parse.urlencode({"id": seed_document.id}))
    page.click("#story-link")
    page.wait_for_url("**/story?id=**")
    assert page.locator("html").get_attribute("dir") == "rtl"
    first = _box(page.locator("ol.events > li.event").first)
    assert first["y"] >= 0 and first["y"] + first["height"] <= PHONE["height"], first  # whole, without scrolling
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing sideways
    assert _labels_apart(page) >= 4
    lines = page.locator("ol.events > li.event summary").all_inner_texts()
    (killed,) = [line for line in lines if "2024-12-15 – 2024-12-18" in line]
    assert "BBC" in killed and "France 24" in killed and "Al Arabiya" in killed and "3 مقالات" in killed
    starts = [text.split()[0] for text in page.locator("ol.events .when").all_inner_texts()]
    assert starts == sorted(starts)  # oldest first
    _screenshot(page, "story-390x844", tmp_path)
    # An event opens to its articles; the seed is marked and each links to its page.
    seed_event = page.locator("ol.events > li.event", has=page.locator("li.seed"))
    seed_event.locator("summary").click()
    assert seed_event.locator("li.seed").is_visible()
    assert "هذا المقال" in seed_event.locator("li.seed").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    seed_event.locator("ul.articles a").first.click()
    page.wait_for_url("**/article?id=**")
    context.close()


def test_story_of_a_search_on_a_laptop(story_server: str, browser, tmp_path: Path) -> None:  # noqa: F811
    page = browser.new_page(viewport=LAPTOP, locale="ar")
    page.goto(story_server + "/?" + urllib.parse.urlencode({"q": QUERY}))
    page.click("#story-link")
    page.wait_for_url("**/story?q=**")
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)["q"] == [QUERY]
    first = _box(page.locator("ol.events > li.event").first)
    assert first["y"] + first["height"] <= LAPTOP["height"]
    assert _labels_apart(page) >= 4
    when, outlets = _box(page.locator("ol.events .when").first), _box(page.locator("ol.events .outlets").first)
    assert abs(when["y"] - outlets["y"]) < 10  # one line: dates and outlets side by side, the title under them
    _screenshot(page, "story-1280x900", tmp_path)
    page.locator("ol.events summary").nth(2).click()
    assert page.locator("ol.events ul.articles").nth(2).is_visible()
    page.click("main.story h1 a")  # back to the search
    page.wait_for_url("**/?q=**")
    page.close()


def test_story_in_english(story_server: str, browser, seed_document: Document) -> None:  # noqa: F811
    page = browser.new_page(viewport=LAPTOP, locale="en-US", extra_http_headers={"Accept-Language": "en-US,en;q=0.9"})
    page.goto(story_server + "/story?" + urllib.parse.urlencode({"id": seed_document.id}))
    assert page.locator("html").get_attribute("dir") == "ltr"
    assert page.locator("main.story h1").inner_text().startswith("Timeline of the story of")
    assert "events, oldest first" in page.locator("#story-summary").inner_text()
    assert _labels_apart(page) >= 4
    page.close()
