"""Spelling variants learned from the archive: ترامب / ترمب, أمريكا / أميركا, الديمقراطية / الديموقراطية.

The corpus is two outlets writing the same kinds of news, each in its house
style (as Al Arabiya writes ترمب and Sky News ترامب in ANT), and one pair
that must stay apart: قطر (Qatar) and قطار (a train) share their consonants
and differ by one long vowel, and one outlet writes about Qatar while the
other writes about trains, so only their contexts tell them apart.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archive import Archive, Document, IndexFormatError
from archive.cli import app
from archive.errors import IndexDamagedError
from archive.index.columns import Columns
from archive.index.layout import current_generation
from archive.index.manifest import Manifest
from archive.index.terms import TermIndex
from archive.index.variants import MAX_CLASS, MAX_EXPANSIONS, VARIANTS_NAME, VariantClasses
from archive.index import variants_build as learning

SPELLINGS = {  # outlet → its house style
    "الوطن": {"trump": "ترامب", "america": "أمريكا", "democracy": "الديمقراطية"},
    "الشرق": {"trump": "ترمب", "america": "أميركا", "democracy": "الديموقراطية"},
}
TOPICS = {
    "trump": [
        "قال الرئيس {w} إن البيت الأبيض سيعلن قرارا جديدا بشأن الرسوم الجمركية",
        "انتقد الكونغرس إدارة الرئيس {w} بسبب سياسته تجاه الهجرة",
        "وصل الرئيس {w} إلى واشنطن بعد جولة انتخابية في عدة ولايات",
        "وقع {w} أمرا تنفيذيا يقيد دخول المهاجرين ويثير غضب المعارضة",
        "أعلن مستشار {w} للأمن القومي استقالته من منصبه في البيت الأبيض",
        "رد {w} على منتقديه في تغريدة على حسابه الشخصي",
        "يواجه {w} تحقيقا يقوده المحقق الخاص في واشنطن",
        "التقى الرئيس {w} زعماء الحزب الجمهوري في البيت الأبيض",
    ],
    "america": [
        "تراجعت صادرات {w} من الصلب بعد فرض الرسوم على الواردات",
        "أعلنت وزارة الخزانة في {w} عقوبات جديدة على شركات الطاقة",
        "ارتفع معدل البطالة في {w} إلى أعلى مستوى منذ عامين",
        "تستضيف {w} قمة اقتصادية يحضرها وزراء المالية من دول العالم",
        "قالت السفارة إن {w} ستواصل دعم برامج التنمية والتعليم",
        "وقعت {w} اتفاقية تجارية مع كندا والمكسيك بعد مفاوضات طويلة",
        "حذر البنك المركزي في {w} من تباطؤ النمو الاقتصادي",
        "تسعى {w} إلى خفض العجز التجاري مع شركائها في آسيا",
    ],
    "democracy": [
        "دعا البرلمان إلى ترسيخ {w} واحترام حرية التعبير والصحافة",
        "قال الناشطون إن {w} تحتاج إلى انتخابات حرة ونزيهة",
        "تحدث المؤتمر عن مستقبل {w} في المنطقة وتحديات الإصلاح السياسي",
        "أكد الدستور الجديد مبادئ {w} والتداول السلمي للسلطة",
        "نظمت الجامعة ندوة حول {w} ودور الأحزاب والمجتمع المدني",
        "انتقدت المعارضة تراجع {w} وتضييق الحريات العامة",
        "طالب المتظاهرون بإصلاحات تعزز {w} وتحارب الفساد",
        "يرى الباحثون أن {w} لا تقوم دون قضاء مستقل",
    ],
    "qatar": [
        "أعلنت قطر توقيع عقد لتصدير الغاز المسال إلى الصين",
        "استقبل أمير قطر في الدوحة وزير الخارجية الكويتي",
        "قالت قطر إن الحصار المفروض عليها يخالف القانون الدولي",
        "افتتحت قطر ملعبا جديدا استعدادا لاستضافة كأس العالم",
        "زار وفد من قطر العاصمة الكويتية لبحث الأزمة الخليجية",
        "رفعت قطر إنتاجها من الغاز الطبيعي في حقل الشمال",
    ],
    "train": [
        "خرج قطار عن القضبان قرب المحطة وأصيب عدد من الركاب",
        "تأخر قطار الركاب ساعتين بسبب عطل في الإشارات",
        "افتتحت الهيئة خط قطار سريع يربط المدينتين في ساعة واحدة",
        "اصطدم قطار بشاحنة عند معبر السكة الحديدية",
        "قالت هيئة السكك الحديدية إن القطار الجديد يتسع لألف راكب",
        "توقفت حركة القطار على الخط الساحلي لإجراء أعمال الصيانة",
    ],
    "football": [
        "فاز الفريق بثلاثة أهداف نظيفة في مباراة الدوري",
        "سجل المهاجم هدفين وقاد فريقه إلى نهائي الكأس",
        "أقال النادي مدربه بعد سلسلة من الهزائم",
        "تعادل الفريقان سلبيا في مباراة قوية على ملعب المدينة",
        "تعاقد النادي مع لاعب وسط جديد لمدة ثلاث سنوات",
        "أصيب الحارس في التدريب وسيغيب عن المباراة المقبلة",
    ],
    "economy": [
        "ارتفعت أسعار النفط بعد قرار منظمة أوبك خفض الإنتاج",
        "سجلت البورصة مكاسب قوية بدعم من أسهم المصارف",
        "رفع المصرف المركزي سعر الفائدة لكبح التضخم",
        "تراجعت العملة المحلية أمام الدولار في التعاملات الصباحية",
        "أعلنت الحكومة موازنة جديدة تتضمن زيادة الإنفاق على البنية التحتية",
        "قالت الشركة إن أرباحها الفصلية تضاعفت بفضل المبيعات",
    ],
    "weather": [
        "توقعت الأرصاد الجوية أمطارا غزيرة ورياحا قوية على السواحل",
        "انخفضت درجات الحرارة إلى ما دون الصفر في المرتفعات",
        "حذرت السلطات من سيول في الأودية بعد هطول الأمطار",
        "غطت الثلوج القرى الجبلية وأغلقت عدة طرق",
        "اجتاحت عاصفة رملية المدينة وتسببت في تعليق الرحلات",
        "تشهد البلاد موجة حر تتجاوز فيها الحرارة خمسا وأربعين درجة",
    ],
}


def _article(rng: random.Random, outlet: str, topic: str, n: int) -> Document:
    word = SPELLINGS[outlet].get(topic, "")
    sentences = rng.sample(TOPICS[topic], 5)
    body = ". ".join(s.format(w=word) for s in sentences) + "."
    return Document(id=f"{topic}-{outlet}-{n}", title=sentences[0].format(w=word), body=body, source=outlet)


def corpus(per_outlet: int = 10) -> list[Document]:
    """Two outlets, ``per_outlet`` articles each on every topic (Qatar only in الوطن, trains only in الشرق)."""
    rng = random.Random(7)
    docs = []
    for outlet in SPELLINGS:
        for topic in TOPICS:
            if (topic, outlet) in (("qatar", "الشرق"), ("train", "الوطن")):
                continue
            docs.extend(_article(rng, outlet, topic, n) for n in range(per_outlet))
    return docs


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("variants") / "index"
    Archive.build(corpus(), root, encoder=None, procs=1).close()
    return root


def _classes(root: Path) -> VariantClasses:
    classes = VariantClasses.read(current_generation(root))
    assert classes is not None
    return classes


def test_a_build_learns_the_house_styles_and_keeps_qatar_apart_from_a_train(built: Path) -> None:
    classes = _classes(built)
    assert classes.others("ترامب") == ("ترمب",)
    assert classes.others("امريكا") == ("اميركا",)  # index terms: normalized (أ → ا) and stemmed
    assert classes.others("ديمقراط") == ("ديموقراط",)  # الديمقراطية → ديمقراط (a loanword)
    # Same skeleton (قطر), one outlet each, so the outlet test passes: the contexts keep them apart.
    assert learning.skeleton("قطر") == learning.skeleton("قطار")
    assert classes.others("قطر") == () and classes.others("قطار") == ()
    assert len(classes) == 3, classes.classes


# Two native words of one skeleton (تمل) and the same edges: تمول (funds) and تميل (tends). One outlet
# writes the first, the other the second, each in a sentence of its own added to every article of the
# topics both outlets cover, as a frequent word is spread over all kinds of news.
NATIVE = {
    "الوطن": [f"قالت إنها تمول {w}" for w in ("المدارس", "المستشفيات", "الجمعيات", "المزارعين")],
    "الشرق": [f"قالت إنها تميل إلى {w}" for w in ("العزلة", "الهدوء", "الحذر", "التفاؤل")],
}


def test_two_native_words_that_follow_the_outlet_are_told_apart_by_their_contexts_within_each_outlet(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = []
    for n, doc in enumerate(corpus()):
        if not doc.id.startswith(("qatar", "train")):  # topics one outlet alone covers
            doc = Document(id=doc.id, title=doc.title, body=f"{doc.body} {NATIVE[doc.source][n % 4]}.",
                           source=doc.source)
        docs.append(doc)
    root = tmp_path / "index"
    Archive.build(docs, root, encoder=None, procs=1).close()
    classes = _classes(root)
    assert classes.others("تمول") == () and classes.others("تميل") == ()
    assert classes.others("ترمب") == ("ترامب",) and classes.others("اميركا") == ("امريكا",)
    assert len(classes) == 3, classes.classes
    assert classes.settings["min_outlet_context_ratio"] == learning.MIN_OUTLET_CONTEXT_RATIO
    # The form, the outlet test and the contexts as they are all take them for one word: only their
    # departures from their outlets' average article (what each is about) tell them apart.
    generation = current_generation(root)
    terms = TermIndex(generation / "terms")
    try:
        outlets = Columns(generation / "columns").codes("source")
        monkeypatch.setattr(learning, "MIN_OUTLET_CONTEXT_RATIO", -math.inf)
        assert ("تمول", "تميل") in learning.learn(terms, outlets).classes
    finally:
        terms.close()


def test_the_variants_file_is_a_listed_file_of_the_generation(built: Path) -> None:
    generation = current_generation(built)
    data = json.loads((generation / VARIANTS_NAME).read_text(encoding="utf-8"))
    assert data["format"] == 1 and data["settings"]["min_df"] == learning.MIN_DF
    entry = Manifest.read(generation).files[VARIANTS_NAME]
    assert entry["size"] == (generation / VARIANTS_NAME).stat().st_size
    assert Archive.check(built).healthy


def test_a_word_finds_its_other_spelling_and_says_so(built: Path) -> None:
    with Archive.open(built) as archive:
        hits = archive.search("ترمب", k=50, mode="lexical")
        assert hits.articles == 20 and hits.variants == {"ترمب": ("ترامب",)}
        assert hits.summary()["variants"] == {"ترمب": ["ترامب"]}
        assert hits.variants_line() == "also: ترامب"
        # the variant is marked in the snippets of the articles that spell it the other way (every copy
        # shown: these articles reuse one another's sentences, and two outlets' shared leads fold)
        other = next(h for h in archive.search("ترمب", k=50, mode="lexical", fold=False) if h.source == "الوطن")
        assert "«ترامب»" in other.marked_snippet()
        assert "ترامب" in [other.title[s:e] for s, e in archive.highlight(other.title, "ترمب").marks]
        exact = archive.search("ترمب", k=50, mode="lexical", variants=False)
        assert exact.articles == 10 and exact.variants == {} and {h.source for h in exact} == {"الشرق"}
        quoted = archive.search('"ترمب"', k=50, mode="lexical")
        assert quoted.articles == 10 and quoted.variants == {}
        # a quoted word stays exact while the others expand
        mixed = archive.search('"ترمب" أمريكا', k=100, mode="lexical")
        assert mixed.variants == {"امريكا": ("اميركا",)} and mixed.articles == 30
        assert archive.facets("أميركا").total == 20 and archive.facets("أميركا", variants=False).total == 10
        with pytest.raises(Exception, match="variants must be True or False"):
            archive.search("ترمب", variants="no")  # type: ignore[arg-type]


def test_operators_expand_too_and_semantic_mode_reports_none(built: Path) -> None:
    with Archive.open(built) as archive:
        assert archive.search("+ترمب واشنطن", k=50, mode="lexical").articles == 20
        assert archive.search("البيت الأبيض -ترمب", k=50, mode="lexical").articles == 0  # both spellings excluded


def test_the_typed_spelling_outranks_its_variant_in_both_scorers(tmp_path: Path) -> None:
    root = tmp_path / "index"
    text = "وصل الرئيس {w} إلى واشنطن بعد جولة انتخابية في عدة ولايات."
    twins = [Document(id="twin-1", title="زيارة", body=text.format(w="ترامب"), source="الوطن"),
             Document(id="twin-2", title="زيارة", body=text.format(w="ترمب"), source="الشرق")]
    with Archive.build([*corpus(), *twins], root, encoder=None, procs=1) as archive:
        assert _classes(root).others("ترمب") == ("ترامب",)
        for typed, first, second in (("ترامب", "twin-1", "twin-2"), ("ترمب", "twin-2", "twin-1")):
            scores = {h.id: h.score for h in archive.search(f"{typed} جولة انتخابية", k=100, mode="lexical")}
            assert scores[first] > scores[second] > 0
        # the hybrid ranker's word signal: the same merged postings, summed per field
        searcher = archive._searcher
        lexical = searcher.lexical
        _, match = searcher._parse("ترمب جولة")
        assert match is not None and match.variants == {"ترمب": ("ترامب",)}
        ranked, _ = lexical.rank(match, 200, hybrid=True)
        score = {lexical.ids[o]: s for o, s in ranked}
        assert score["twin-2"] > score["twin-1"] > 0


def test_increments_learn_what_a_build_of_the_same_articles_learns(tmp_path: Path) -> None:
    docs = corpus()
    first, rest = docs[::2], docs[1::2]
    grown, fresh = tmp_path / "grown", tmp_path / "fresh"
    Archive.build(first, grown, encoder=None, procs=1).close()
    Archive.update(grown, add=rest).close()
    Archive.build(docs, fresh, encoder=None, procs=1).close()
    assert _classes(grown).classes == _classes(fresh).classes
    assert len(_classes(grown)) == 3
    # Deleting every article of one spelling leaves nothing to vary with: the class goes.
    gone = [d.id for d in docs if d.id.startswith("trump-الشرق")]
    Archive.update(grown, delete=gone).close()
    Archive.build([d for d in docs if d.id not in gone], fresh, encoder=None, procs=1, prune=True).close()
    assert _classes(grown).others("ترامب") == () and _classes(grown).classes == _classes(fresh).classes


def test_an_index_built_before_variants_opens_searches_and_learns_them_on_its_next_write(tmp_path: Path) -> None:
    root = tmp_path / "index"
    Archive.build(corpus(), root, encoder=None, procs=1).close()
    generation = current_generation(root)
    (generation / VARIANTS_NAME).unlink()  # as a generation written before this feature
    manifest = Manifest.read(generation)
    del manifest.files[VARIANTS_NAME]
    manifest.write(generation)
    with Archive.open(root) as archive:
        hits = archive.search("ترمب", k=50, mode="lexical")
        assert hits.articles == 10 and hits.variants == {}
    report = Archive.check(root)
    assert report.healthy and any("no spelling variants" in note for note in report.notes)
    Archive.update(root, delete=["weather-الوطن-0"]).close()
    assert _classes(root).others("ترمب") == ("ترامب",)


def test_a_variants_file_of_another_format_or_damaged_is_refused_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / VARIANTS_NAME).write_text('{"format": 2, "classes": []}', encoding="utf-8")
    with pytest.raises(IndexFormatError, match="variants format 2.*archive build --full"):
        VariantClasses.read(tmp_path)
    big = [f"كلمه{i}" for i in range(MAX_CLASS + 1)]
    (tmp_path / VARIANTS_NAME).write_text(json.dumps({"format": 1, "classes": [big]}), encoding="utf-8")
    with pytest.raises(IndexDamagedError, match=f"2 to {MAX_CLASS} terms"):
        VariantClasses.read(tmp_path)
    (tmp_path / VARIANTS_NAME).write_text(json.dumps({"format": 1, "classes": [["أ", "ب"], ["ب", "ج"]]}),
                                          encoding="utf-8")
    with pytest.raises(IndexDamagedError, match="two classes"):
        VariantClasses.read(tmp_path)
    (tmp_path / VARIANTS_NAME).write_text("[", encoding="utf-8")
    with pytest.raises(IndexDamagedError, match="unreadable"):
        VariantClasses.read(tmp_path)


def test_no_query_makes_expansion_unbounded() -> None:
    classes = VariantClasses(tuple(tuple(f"ك{i}ل{j}" for j in range(MAX_CLASS)) for i in range(50)))
    query = [f"ك{i}ل0" for i in range(50)]
    expanded = classes.expansions(query)
    assert sum(len(v) for v in expanded.values()) <= MAX_EXPANSIONS
    assert list(expanded) == query[: MAX_EXPANSIONS // (MAX_CLASS - 1)]  # the first words, in query order
    assert classes.expansions(query, exact=query) == {}
    # The learning never makes a class larger than MAX_CLASS, however many terms pass together ...
    clique = [f"س{i}" for i in range(3 * MAX_CLASS)]
    edges = [(1.0, a, b) for x, a in enumerate(clique) for b in clique[x + 1 :]]
    assert max(len(c) for c in learning._complete_linkage(edges)) == MAX_CLASS
    # ... and compares at most MAX_GROUP terms of one skeleton (a corpus can spell one skeleton endlessly).
    import numpy as np

    vocabulary = ["ب" + "ا" * i + "بب" for i in range(1, 4 * learning.MAX_GROUP)]
    groups = learning._groups(vocabulary, np.full(len(vocabulary), learning.MIN_DF))
    assert [len(g) for g in groups] == [learning.MAX_GROUP]


def test_the_command_line_says_which_variants_it_used_and_exact_turns_them_off(built: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(app, ["search", "ترمب", "--mode", "lexical", "--index", str(built), "--bidi", "off"])
    assert shown.exit_code == 0, shown.output
    assert "also: ترامب" in shown.output
    exact = runner.invoke(app, ["search", "ترمب", "--mode", "lexical", "--exact", "--index", str(built)])
    assert exact.exit_code == 0 and "also:" not in exact.output
    as_json = runner.invoke(app, ["search", "ترمب", "--mode", "lexical", "--json", "--index", str(built)])
    summary = json.loads(as_json.output.strip().splitlines()[-1])["summary"]
    assert summary["variants"] == {"ترمب": ["ترامب"]} and summary["articles"] == 20


def test_the_web_api_carries_the_variants_and_takes_them_off(built: Path) -> None:
    from starlette.testclient import TestClient

    from archive.web.app import create_app

    with Archive.open(built) as archive, TestClient(create_app(archive)) as client:
        data = client.get("/api/search", params={"q": "ترمب", "mode": "lexical", "k": 50}).json()
        assert data["variants"] == {"ترمب": ["ترامب"]} and data["articles"] == 20
        off = client.get("/api/search", params={"q": "ترمب", "mode": "lexical", "k": 50, "variants": 0}).json()
        assert off["variants"] == {} and off["articles"] == 10
        page = client.get("/", params={"q": "ترمب", "mode": "lexical"})
        assert page.status_code == 200 and "ترامب" in page.text
