"""The documentation keeps up with the code: every command and option of the ``archive`` command line
has its place in docs/cli.md, and every relative link in README.md and docs/ leads somewhere.

The commands are found by walking the command tree typer builds from ``archive.cli.app`` (not a list
written here, nor ``--help`` text), so a command or option added anywhere fails here until it is
documented, and a section for a command that no longer exists fails too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import typer.main

from archive.cli import app

ROOT = Path(__file__).resolve().parents[1]
CLI_DOC = ROOT / "docs" / "cli.md"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

SECTION = re.compile(r"^#{2,4} `(archive(?: [a-z][a-z-]*)*)`\s*$", re.MULTILINE)
"""A command's section in docs/cli.md: a heading that is exactly the command in backticks."""


def _commands(command: Any, path: tuple[str, ...] = ("archive",)) -> Iterator[tuple[str, Any]]:
    """Every visible command under ``command`` (itself first), as ("archive sub ...", click command)."""
    yield " ".join(path), command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        if not sub.hidden:
            yield from _commands(sub, (*path, name))


def _options(command: Any) -> list[str]:
    """The long names (and their --no-/secondary forms) of the command's visible options."""
    names: list[str] = []
    for param in command.params:
        if param.param_type_name != "option" or getattr(param, "hidden", False):
            continue
        names += [o for o in (*param.opts, *param.secondary_opts) if o.startswith("--")] or list(param.opts)
    return names


def _sections(text: str) -> dict[str, str]:
    """docs/cli.md cut at its command headings: command → the text up to the next command heading."""
    found = list(SECTION.finditer(text))
    return {m.group(1): text[m.end(): found[i + 1].start() if i + 1 < len(found) else len(text)]
            for i, m in enumerate(found)}


TREE = dict(_commands(typer.main.get_command(app)))


def test_the_walk_finds_the_command_line() -> None:
    """The walk itself works: it sees the commands and options every archive has had since the start."""
    assert {"archive", "archive build", "archive search", "archive serve"} <= TREE.keys()
    assert {"--index", "--mode", "--since"} <= set(_options(TREE["archive search"]))
    assert "--strict" in _options(TREE["archive build"])  # a flag's second name counts too


@pytest.mark.parametrize("name", sorted(TREE))
def test_every_command_and_option_is_in_docs_cli(name: str) -> None:
    sections = _sections(CLI_DOC.read_text(encoding="utf-8"))
    assert name in sections, f"docs/cli.md has no section `{name}` (a heading: ## `{name}`)"
    section = sections[name]
    missing = [o for o in _options(TREE[name]) if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", section)]
    assert not missing, f"docs/cli.md, section `{name}`, does not mention {', '.join(missing)}"
    if name != "archive":
        assert (TREE[name].help or "").strip(), f"`{name}` has no help text"


def test_docs_cli_has_no_section_for_a_command_that_is_gone() -> None:
    stale = sorted(set(_sections(CLI_DOC.read_text(encoding="utf-8"))) - TREE.keys())
    assert not stale, f"docs/cli.md documents commands the command line does not have: {stale}"


FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _links(text: str) -> list[str]:
    """The targets of the page's inline and reference links and images, outside code."""
    prose = CODE.sub("", FENCE.sub("", text))
    return [*LINK.findall(prose), *REFERENCE.findall(prose)]


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: markup dropped, lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"[`*_]", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        slug = _anchor(heading)
        anchors.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in _links(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, https:, mailto:
            continue
        path, _, fragment = unquote(target).partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target} (no {resolved.relative_to(ROOT) if resolved.is_relative_to(ROOT) else resolved})")
        elif fragment and resolved.suffix == ".md" and fragment not in _anchors(resolved):
            broken.append(f"{target} (no heading #{fragment} in {resolved.name})")
    assert not broken, f"{page.relative_to(ROOT)}: broken links: {broken}"


def test_the_link_check_sees_links_and_anchors(tmp_path: Path) -> None:
    """The checker's own parts on a page written here: links in code are not links; anchors as GitHub makes them."""
    text = "see [cli](docs/cli.md#archive-search) and ![shot](a.png)\n`[not](x.md)`\n```\n[nor](y.md)\n```\n"
    assert _links(text) == ["docs/cli.md#archive-search", "a.png"]
    assert _anchor("`archive search`") == "archive-search"
    assert _anchor("Tests in tiers: fast, slow (2026)") == "tests-in-tiers-fast-slow-2026"
    page = tmp_path / "page.md"
    page.write_text("# Same\n## Same\n## بحث عربي\n", encoding="utf-8")
    assert _anchors(page) == {"same", "same-1", "بحث-عربي"}
