"""Near copies of one story (an outlet's own headline, a dropped paragraph) fold into one hit."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from archive import Archive, BuildReport, Document
from archive.errors import IndexDamagedError
from archive.index.check import check_index
from archive.index.layout import current_generation
from archive.index.near import NEAR_DIR, NearStore
from archive.index import near_build as folding
from archive.index.near_build import SETTINGS, FoldingProcessError, shingles

PARAGRAPHS = [
    "ضرب زلزال بقوة ست درجات على مقياس ريختر ولاية ملاطية في جنوب شرق تركيا فجر الأربعاء، وأعلنت هيئة "
    "إدارة الكوارث والطوارئ التركية أن مركزه كان على عمق عشرة كيلومترات قرب بلدة يشيل يورت.",
    "وقال وزير الداخلية في مؤتمر صحفي إن فرق الإنقاذ انتشلت ثلاثة أشخاص أحياء من تحت أنقاض مبنى سكني "
    "قديم، وإن أكثر من أربعين شخصا أصيبوا بجروح طفيفة أثناء محاولتهم الفرار من منازلهم في الظلام.",
    "وأضاف الوزير أن السلطات فتحت المدارس والمساجد لإيواء العائلات التي تضررت منازلها، وأرسلت الخيام "
    "والبطانيات إلى القرى الجبلية التي يصعب الوصول إليها بسبب انهيارات أرضية قطعت الطرق.",
    "وكانت المنطقة نفسها قد تعرضت في فبراير من العام الماضي لزلزالين مدمرين أوقعا عشرات الآلاف من "
    "القتلى في تركيا وسوريا، ولا يزال آلاف من سكانها يعيشون في مساكن مؤقتة من الحاويات.",
]


def _utc(day: int, hour: int = 8) -> datetime:
    return datetime(2024, 10, day, hour, 0, tzinfo=timezone.utc)


WIRE = Document(
    id="quake-afp", title="زلزال بقوة 6 درجات يضرب ملاطية التركية", body="\n".join(PARAGRAPHS),
    published=_utc(16), source="France 24", category="world", url="https://example.org/quake-afp",
)
COPY = Document(  # another outlet's headline, the last paragraph dropped, a few words edited
    id="quake-sky", title="إصابة العشرات في هزة أرضية جنوب شرق تركيا",
    body="\n".join([
        PARAGRAPHS[0].replace("الأربعاء", "اليوم الأربعاء"),
        PARAGRAPHS[1].replace("في مؤتمر صحفي", "للصحفيين"),
        PARAGRAPHS[2],
    ]),
    published=_utc(16, 10), source="Sky News Arabia", category="middle-east", url="https://example.org/quake-sky",
)
LATE_COPY = Document(  # a third outlet, added later by an increment
    id="quake-bbc", title="تركيا: إنقاذ ثلاثة أشخاص من تحت الأنقاض بعد زلزال ملاطية",
    body="\n".join([PARAGRAPHS[0], PARAGRAPHS[1], PARAGRAPHS[3].replace("الحاويات", "حاويات")]),
    published=_utc(17), source="BBC", category="world", url="https://example.org/quake-bbc",
)
UNRELATED = Document(  # the same week, the same country, another story
    id="lira", title="الليرة التركية تتراجع إلى مستوى قياسي جديد أمام الدولار",
    body="تراجعت الليرة التركية الأربعاء إلى أدنى مستوى لها على الإطلاق أمام الدولار الأمريكي، بعد أن "
    "أبقى البنك المركزي سعر الفائدة دون تغيير خلافا لتوقعات المستثمرين.\nوقال محللون إن ارتفاع التضخم "
    "وتراجع احتياطي العملات الأجنبية يزيدان الضغط على العملة، فيما دعت أحزاب المعارضة الحكومة إلى "
    "مراجعة سياستها الاقتصادية قبل موسم الشتاء وارتفاع أسعار الطاقة والمواد الغذائية.",
    published=_utc(16, 12), source="BBC", category="economy", url="https://example.org/lira",
)


def _build(tmp_path: Path, docs: list[Document]) -> Path:
    root = tmp_path / "index"
    Archive.build(docs, root, encoder=None, procs=1).close()
    return root


def test_wire_copies_with_different_headlines_fold_and_an_unrelated_article_does_not(tmp_path: Path) -> None:
    root = _build(tmp_path, [WIRE, COPY, UNRELATED])
    with Archive.open(root) as archive:
        hits = archive.search("زلزال تركيا", mode="lexical")
        assert [h.id for h in hits] == ["quake-afp"] or [h.id for h in hits] == ["quake-sky"]
        (hit,) = hits
        assert [v.id for v in hit.versions] == [({"quake-afp", "quake-sky"} - {hit.id}).pop()]
        assert hit.versions[0].source in {"France 24", "Sky News Arabia"}
        assert (hits.total, hits.articles, hits.folded) == (1, 2, True)
        assert hits.headline() == "2 articles contain these words (1 story: copies folded)"
        turkey = archive.search("التركية", mode="lexical")  # all three hold the word
        assert {h.id for h in turkey} >= {"lira"} and len(turkey) == 2
        lira = next(h for h in turkey if h.id == "lira")
        assert lira.versions == ()
        assert (turkey.total, turkey.articles) == (2, 3)
        assert "3 articles contain these words (2 stories: copies folded)" in turkey.headline()


def test_no_fold_shows_every_copy(tmp_path: Path) -> None:
    root = _build(tmp_path, [WIRE, COPY, UNRELATED])
    with Archive.open(root) as archive:
        every = archive.search("التركية", mode="lexical", fold=False)
        assert {h.id for h in every} == {"quake-afp", "quake-sky", "lira"}
        assert all(h.versions == () for h in every)
        assert (every.total, every.articles, every.folded) == (3, 3, False)
        by_date = archive.search("التركية", mode="lexical", sort="date")
        assert [h.id for h in by_date] == ["quake-afp", "lira"]  # the oldest copy stands for its story
        folded = [h.id for h in archive.search("التركية", mode="lexical")]
        pages = [archive.search("التركية", mode="lexical", k=1, offset=n) for n in range(3)]
        assert [h.id for page in pages for h in page] == folded and len(folded) == 2  # pages cut from stories
        assert [page.total for page in pages] == [2, 2, 2]


def test_an_increment_that_adds_a_copy_joins_the_cluster(tmp_path: Path) -> None:
    root = _build(tmp_path, [WIRE, COPY, UNRELATED])
    before = NearStore.read(current_generation(root))
    assert before is not None
    report = BuildReport()
    with Archive.update(root, add=[LATE_COPY], report=report) as archive:
        assert (report.copies, report.stories) == (3, 1)
        hits = archive.search("زلزال ملاطية", mode="lexical")
        assert len(hits) == 1 and hits.articles == 3
        assert {hits[0].id, *(v.id for v in hits[0].versions)} == {"quake-afp", "quake-sky", "quake-bbc"}
    after = NearStore.read(current_generation(root))
    assert after is not None and after.ids[:3] == before.ids  # stored signatures kept, the new one appended
    assert np.array_equal(after.signatures[:3], before.signatures)
    assert check_index(root).healthy


def test_deleting_the_representative_promotes_another(tmp_path: Path) -> None:
    root = _build(tmp_path, [WIRE, COPY, LATE_COPY, UNRELATED])
    with Archive.open(root) as archive:
        first = archive.search("زلزال ملاطية", mode="lexical")[0]
    with Archive.update(root, delete=[first.id]) as archive:
        hits = archive.search("زلزال ملاطية", mode="lexical")
        assert len(hits) == 1 and hits[0].id != first.id
        assert {hits[0].id, *(v.id for v in hits[0].versions)} == {"quake-afp", "quake-sky", "quake-bbc"} - {first.id}
        second = hits[0].id
    with Archive.update(root, delete=[second]) as archive:
        (last,) = archive.search("زلزال ملاطية", mode="lexical")
        assert last.versions == () and archive.search("زلزال ملاطية", mode="lexical").total == 1
    assert check_index(root).healthy


def test_shingles_ignore_spelling_variants_the_archive_normalizes() -> None:
    assert np.array_equal(shingles("أعلنت الهيئة التركية أن الزلزال"), shingles("اعلنت الهيئه التركيه ان الزلزال"))
    assert len(shingles("كلمة")) == 1 and len(shingles("")) == 0


def test_check_names_a_damaged_or_missing_near_store(tmp_path: Path) -> None:
    root = _build(tmp_path, [WIRE, COPY, UNRELATED])
    generation = current_generation(root)
    meta = generation / NEAR_DIR / "near.json"
    data = json.loads(meta.read_text(encoding="utf-8"))
    assert data["format"] == 1 and data["settings"] == SETTINGS
    data["ids"] = data["ids"][:2]
    meta.write_text(json.dumps(data), encoding="utf-8")
    report = check_index(root)
    assert not report.healthy
    assert any(NEAR_DIR in str(p.path) for p in report.problems)
    with pytest.raises(IndexDamagedError, match="signatures"):
        NearStore.read(generation)
    shutil.rmtree(generation / NEAR_DIR)
    manifest = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"] = {name: entry for name, entry in manifest["files"].items() if not name.startswith(NEAR_DIR)}
    (generation / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    report = check_index(root)
    assert report.healthy and any("near copies" in note for note in report.notes)
    with Archive.open(root) as archive:  # an index built before folding: every copy shown, nothing fails
        assert len(archive.search("التركية", mode="lexical")) == 3


def test_command_line_folds_by_default_and_no_fold_lists_every_copy(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from archive.cli import app

    root = _build(tmp_path, [WIRE, COPY, UNRELATED])
    runner = CliRunner()
    folded = runner.invoke(app, ["search", "التركية", "--mode", "lexical", "--json", "--index", str(root)])
    assert folded.exit_code == 0, folded.output
    *records, summary = [json.loads(line) for line in folded.output.splitlines()]
    assert len(records) == 2 and summary["summary"]["total"] == 2 and summary["summary"]["articles"] == 3
    quake = next(r for r in records if r["id"].startswith("quake"))
    assert [v["id"] for v in quake["versions"]] == [({"quake-afp", "quake-sky"} - {quake["id"]}).pop()]
    every = runner.invoke(app, ["search", "التركية", "--mode", "lexical", "--json", "--no-fold", "--index", str(root)])
    *records, summary = [json.loads(line) for line in every.output.splitlines()]
    assert {r["id"] for r in records} == {"quake-afp", "quake-sky", "lira"}
    assert all(r["versions"] == [] for r in records) and summary["summary"]["total"] == 3
    table = runner.invoke(app, ["search", "زلزال", "--mode", "lexical", "--index", str(root)])
    assert table.exit_code == 0 and "1 other version (" in table.output


def test_web_page_and_api_carry_the_versions_and_fold_0_shows_every_copy(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from archive.web.app import create_app

    root = _build(tmp_path, [WIRE, COPY, UNRELATED])
    with Archive.open(root) as archive, TestClient(create_app(archive)) as client:
        api = client.get("/api/search", params={"q": "التركية", "mode": "lexical"}).json()
        assert (api["total"], api["articles"], api["folded"]) == (2, 3, True)
        quake = next(h for h in api["hits"] if h["id"].startswith("quake"))
        (version,) = quake["versions"]
        assert version["source"] in {"France 24", "Sky News Arabia"} and version["title"]
        every = client.get("/api/search", params={"q": "التركية", "mode": "lexical", "fold": 0}).json()
        assert len(every["hits"]) == 3 and every["total"] == 3 and not every["folded"]
        assert client.get("/api/search", params={"q": "التركية", "fold": 2}).status_code == 400
        page = client.get("/", params={"q": "التركية", "mode": "lexical"}).text
        assert page.count('<details class="versions">') == 1 and "نسخة أخرى" in page
        assert f"id={version['id']}" in page  # the other copy is linked
        assert "fold=0" in page  # and every copy is one click away
        whole = client.get("/", params={"q": "التركية", "mode": "lexical", "fold": 0}).text
        assert '<details class="versions">' not in whole and whole.count('<li class="hit">') == 3
        assert '<input type="hidden" name="fold" value="0">' in whole  # a new search keeps every copy shown
        assert 'name="fold"' not in page


def test_judged_ant_pairs_score_the_archive_settings() -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from fold_eval import Rule, by_rule, read_pairs
    from fold_sample import half

    from archive.index import near_build as folding

    pairs = read_pairs()
    assert len(pairs) == 257 and {p.label for p in pairs} == {0, 1, 2}
    assert all(p.half == half(p.a, p.b) for p in pairs)  # the dev / test rule of eval/folding/README.md
    assert len({(p.a, p.b) for p in pairs}) == len(pairs)
    for p in pairs:  # every pair's cell is as large as its judged pairs at least
        assert p.cell_pairs >= sum(q.cell == p.cell for q in pairs) or p.cell.startswith("transitive/")
    rule = Rule(folding.THRESHOLD, folding.SAME_SOURCE_THRESHOLD, folding.MAX_DAYS, folding.MIN_SHINGLES,
                folding.LEAD_THRESHOLD)
    test = [p for p in pairs if p.half == "test" and not p.cell.startswith("transitive/")]
    scored = by_rule(test, rule)
    assert scored["precision"] >= 0.95 and scored["recall"] >= 0.9  # docs/evaluation.md: 0.983, 0.916
    without_leads = Rule(folding.THRESHOLD, folding.SAME_SOURCE_THRESHOLD, folding.MAX_DAYS, folding.MIN_SHINGLES)
    assert by_rule(test, without_leads)["recall"] < 0.85  # copies cut short or given their own background
    one_rule = Rule(0.5, 0.5, folding.MAX_DAYS, folding.MIN_SHINGLES)  # one threshold for every pair
    assert by_rule(test, one_rule)["precision"] < 0.8  # an outlet's updates are other stories


WIRE_LEAD = (
    "أعلن الرئيس الأميركي دونالد ترمب، الثلاثاء، انسحاب الولايات المتحدة من الاتفاق النووي الذي وقعته القوى "
    "الكبرى مع إيران عام 2015، وقال في كلمة متلفزة من البيت الأبيض إن الاتفاق كان كارثيا ولم يحقق السلام. "
    "وأضاف ترمب أنه سيوقع مذكرة لإعادة فرض أقسى العقوبات على النظام الإيراني خلال ساعات."
)
LONG_BACKGROUND = [
    "وكانت الدول الأوروبية الثلاث الموقعة على الاتفاق، فرنسا وبريطانيا وألمانيا، قد حاولت على مدى أشهر إقناع "
    "الإدارة الأميركية بالإبقاء عليه، وعرضت التفاوض على ملحق يتناول برنامج الصواريخ الباليستية ونفوذ طهران "
    "في المنطقة، لكن هذه المساعي لم تفلح في تغيير موقف البيت الأبيض.",
    "ويقضي الاتفاق برفع العقوبات الدولية عن إيران مقابل تقييد برنامجها لتخصيب اليورانيوم وإخضاع منشآتها "
    "لتفتيش الوكالة الدولية للطاقة الذرية، التي أكدت في تقاريرها المتتالية التزام طهران ببنوده.",
    "وتراجعت أسعار الأسهم في بورصة طهران عقب الإعلان، فيما هبط سعر صرف الريال إلى مستوى قياسي جديد أمام الدولار "
    "في السوق الموازية، وسط مخاوف التجار من عودة القيود على المصارف وصادرات النفط.",
]
SHORT_BACKGROUND = [
    "وسارعت إسرائيل والسعودية إلى الترحيب بالقرار الأميركي، بينما أعرب الاتحاد الأوروبي عن أسفه وأكد تمسكه "
    "بالاتفاق ما دامت إيران ملتزمة به، ودعا الرئيس الإيراني حسن روحاني حكومته إلى الاستعداد لاستئناف التخصيب.",
]


def test_a_wire_lead_cut_short_under_each_outlets_background_folds_by_its_lead() -> None:
    from archive.index.near_build import THRESHOLD, Signer, near_store

    afp = Document(id="deal-afp", title="ترمب ينسحب من الاتفاق النووي مع إيران",
                   body="\n".join([WIRE_LEAD, *LONG_BACKGROUND]), published=_utc(8, 18), source="Al Arabiya")
    sky = Document(  # another outlet: its house spelling of the name, its own last paragraph, the rest cut
        id="deal-sky", title="ترامب يعلن الانسحاب من الاتفاق مع طهران",
        body="\n".join([WIRE_LEAD.replace("ترمب", "ترامب").replace("الأميركي", "الأمريكي"), *SHORT_BACKGROUND]),
        published=_utc(8, 21), source="Sky News Arabia",
    )
    signatures, *_ = Signer().sign([afp, sky])
    assert (signatures[0, :128] == signatures[1, :128]).mean() < THRESHOLD  # the bodies alone are not copies
    assert near_store([afp, sky]).clusters() == [["deal-afp", "deal-sky"]]
    update = Document(id="deal-arabia-update", title="ترمب ينسحب.. وأوروبا تأسف", source="Al Arabiya",
                      body="\n".join([WIRE_LEAD, *SHORT_BACKGROUND]), published=_utc(8, 23))
    assert near_store([afp, update]).clusters() == []  # one outlet, one lead, the rest another story
    days_later = Document(id="deal-sky-late", title=sky.title, body=sky.body, published=_utc(11, 21),
                          source="Sky News Arabia")
    assert near_store([afp, days_later]).clusters() == []  # three days apart: not one day's wire copy


def test_lead_shingles_meet_across_house_spellings_and_hashtags() -> None:
    from archive.index.near_build import lead_shingles, skeleton

    assert skeleton("ترمب") == skeleton("ترامب") and skeleton("كابول") == skeleton("كابل")
    assert skeleton("نتنياهو") == skeleton("نتانياهو") and skeleton("حوالى") == skeleton("حوالي")
    assert skeleton("مصر") != skeleton("مطر")
    assert np.array_equal(lead_shingles("قالت #كوريا_الشمالية إنها ستغلق موقع التجارب"),
                          lead_shingles("قالت كوريا الشمالية إنها ستغلق موقع التجارب"))
    words = " ".join(f"كلمة{n}" for n in range(100))
    assert len(lead_shingles(words)) == 59 and len(lead_shingles("")) == 0  # the first 60 words only


def test_an_outlets_update_under_a_new_lead_is_another_story_but_another_outlets_edit_folds() -> None:
    from archive.index.near_build import near_store

    lead = ("أعلنت السلطات التركية مساء الخميس ارتفاع عدد المصابين في زلزال ملاطية إلى أكثر من مئة شخص، "
            "بعد أن عثرت فرق الإنقاذ على عائلة كاملة تحت أنقاض منزل في قرية جبلية نائية.")
    update = Document(id="quake-sky-update", title="ارتفاع عدد المصابين في زلزال ملاطية",
                      body="\n".join([lead, *PARAGRAPHS[1:]]), published=_utc(17), source="Sky News Arabia")
    earlier = Document(id="quake-sky-first", title=COPY.title, body=WIRE.body, published=_utc(16),
                       source="Sky News Arabia")
    same_text_elsewhere = Document(id="quake-f24-update", title="تركيا: أكثر من مئة مصاب",
                                   body=update.body, published=_utc(16, 20), source="France 24")
    store = near_store([earlier, update])
    assert store.clusters() == []  # one outlet, a new lead over its earlier text: another story
    assert store.clusters() != near_store([earlier, same_text_elsewhere]).clusters()  # two outlets: one story


def test_show_and_versions_of_name_the_other_copies(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from archive.cli import app
    from archive.errors import DocumentNotFoundError

    root = _build(tmp_path, [WIRE, COPY, UNRELATED])
    with Archive.open(root) as archive:
        assert [v.id for v in archive.versions_of("quake-sky")] == ["quake-afp"]
        assert [(v.source, v.title) for v in archive.versions_of("quake-afp")] == [("Sky News Arabia", COPY.title)]
        assert archive.versions_of("lira") == []
        with pytest.raises(DocumentNotFoundError):
            archive.versions_of("no-such-id")
    shown = CliRunner().invoke(app, ["show", "quake-afp", "--json", "--index", str(root)])
    assert [v["id"] for v in json.loads(shown.output)["versions"]] == ["quake-sky"]
    plain = CliRunner().invoke(app, ["show", "quake-afp", "--index", str(root)])
    assert "other versions: quake-sky (Sky News Arabia, 2024-10-16)" in plain.output


def test_an_increment_on_an_index_built_before_folding_signs_every_article(tmp_path: Path) -> None:
    root = _build(tmp_path, [WIRE, COPY, UNRELATED])
    generation = current_generation(root)
    shutil.rmtree(generation / NEAR_DIR)
    manifest = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"] = {name: entry for name, entry in manifest["files"].items() if not name.startswith(NEAR_DIR)}
    (generation / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with Archive.update(root, add=[LATE_COPY]) as archive:
        (hit,) = archive.search("زلزال ملاطية", mode="lexical")
        assert len(hit.versions) == 2
    store = NearStore.read(current_generation(root))
    assert store is not None and sorted(store.ids) == ["lira", "quake-afp", "quake-bbc", "quake-sky"]
    assert check_index(root).healthy


def _needs_fork() -> None:
    if multiprocessing.get_start_method() != "fork":
        pytest.skip("the folding process sees this test's stand-in for near_store only when started by fork")


def test_a_build_folds_in_a_process_of_its_own_the_same_pairs_as_in_the_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    reprint = replace(WIRE, id="quake-afp-reprint", url="https://example.org/quake-afp-2")  # the same body: an alias
    docs = [WIRE, COPY, UNRELATED, reprint, LATE_COPY]
    inline = _build(tmp_path / "inline", docs)  # fewer than BACKGROUND_MIN articles: folded in the writer
    monkeypatch.setattr(folding, "BACKGROUND_MIN", 0)
    processes = []
    result = folding.NearJob.result
    monkeypatch.setattr(folding.NearJob, "result", lambda job: (processes.append(job._process), result(job))[1])
    background = _build(tmp_path / "background", docs)
    assert len(processes) == 1 and processes[0] is not None and processes[0].exitcode == 0
    a, b = NearStore.read(current_generation(inline)), NearStore.read(current_generation(background))
    assert a is not None and b is not None
    assert a.ids == b.ids == ["quake-afp", "quake-sky", "lira", "quake-bbc"]  # the reprint is an alias, not signed
    for name in ("signatures", "sizes", "published", "pairs", "similarity"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert b.clusters() == [["quake-afp", "quake-sky", "quake-bbc"]]
    assert check_index(background).healthy


def test_a_folding_process_that_dies_or_fails_fails_the_build_and_the_live_index_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _needs_fork()
    root = _build(tmp_path, [WIRE, COPY, UNRELATED])
    live = current_generation(root)
    monkeypatch.setattr(folding, "BACKGROUND_MIN", 0)
    monkeypatch.setattr(folding, "near_store", lambda docs: os._exit(3))
    with pytest.raises(FoldingProcessError, match=r"died \(exit 3\) before handing them back; nothing was committed"):
        Archive.build([WIRE, COPY, UNRELATED, LATE_COPY], root, encoder=None, procs=1, full=True).close()

    def fails(docs: list[Document]) -> NearStore:
        raise ValueError("signatures of 4 articles")

    monkeypatch.setattr(folding, "near_store", fails)
    with pytest.raises(ValueError, match="signatures of 4 articles"):
        Archive.build([WIRE, COPY, UNRELATED, LATE_COPY], root, encoder=None, procs=1, full=True).close()
    assert current_generation(root) == live
    with Archive.open(root) as archive:
        assert archive.search("زلزال ملاطية", mode="lexical").articles == 2


def test_a_cancelled_folding_job_stops_its_process(monkeypatch: pytest.MonkeyPatch) -> None:
    _needs_fork()
    monkeypatch.setattr(folding, "BACKGROUND_MIN", 0)
    monkeypatch.setattr(folding, "near_store", lambda docs: time.sleep(60))
    job = folding.start_near_store([WIRE, COPY])
    assert job._process is not None and job._process.is_alive()
    job.cancel()
    assert not job._process.is_alive()


def test_signatures_signed_many_at_once_equal_datasketchs_minhash_of_each_article(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The batched signing computes datasketch's own ``affine32`` MinHash of each body's shingles and each
    lead's: articles long and short, empty, a hashtag, and steps that split the articles."""
    from archive.index.near_build import LEAD_WORDS, NUM_PERM, Signer, lead_shingles

    texts = [
        "\n".join([WIRE_LEAD, *LONG_BACKGROUND]),
        WIRE_LEAD.replace("ترمب", "ترامب"),
        "قالت #كوريا_الشمالية إنها ستغلق موقع التجارب",
        "زلزال",  # one word: one shingle
        "زلزال ملاطية",  # fewer words than a shingle
        "",  # no words: datasketch's empty signature
        *SHORT_BACKGROUND,
    ]
    documents = [Document(id=f"a{i}", title="عنوان", body=text) for i, text in enumerate(texts)]
    signer = Signer()
    expected_body = [signer.minhash(shingles(t)).hashvalues for t in texts]
    expected_lead = [signer.minhash(lead_shingles(t, LEAD_WORDS)).hashvalues for t in texts]
    for at_once in (10**9, 400, 1):  # characters a step holds: all at once, a few articles, one by one
        monkeypatch.setattr(folding, "SIGNED_AT_ONCE", at_once)
        signatures, sizes, _ = signer.sign(documents)
        assert np.array_equal(signatures[:, :NUM_PERM], np.array(expected_body))
        assert np.array_equal(signatures[:, NUM_PERM:], np.array(expected_lead))
        assert sizes.tolist() == [len(shingles(t)) for t in texts]
    assert sizes[3] == sizes[4] == 1 and sizes[5] == 0
    assert (signatures[5] == np.iinfo(np.uint32).max).all()
    assert not np.array_equal(signatures[0], signatures[1])  # the house spelling changes the body's shingles
