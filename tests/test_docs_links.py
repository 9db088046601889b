"""The front door and the manual stay honest: every relative link in README.md and docs/*.md
points to a file or folder of this repository that exists, and the README's two commands are
the ones `.ci/run` runs (so the install a reader copies is the one CI tests)."""

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
"""An inline Markdown link or image: `[text](target)`, `![alt](target "title")`."""
FENCE = re.compile(r"^(```|~~~).*?^\1", re.DOTALL | re.MULTILINE)
INLINE_CODE = re.compile(r"`[^`\n]*`")


def relative_links(page: Path) -> list[str]:
    """The page's relative link targets, outside code (fenced blocks and inline code)."""
    text = INLINE_CODE.sub("", FENCE.sub("", page.read_text(encoding="utf-8")))
    targets = (match.group(1) for match in LINK.finditer(text))
    return [t for t in targets if not re.match(r"^([a-z][a-z0-9+.-]*:|#)", t, re.IGNORECASE)]


def test_the_pages_have_links_to_check():
    assert (ROOT / "README.md").is_file()
    assert relative_links(ROOT / "README.md"), "the README links to no page: the parser broke"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_a_file_of_the_repository(page):
    broken = []
    for target in relative_links(page):
        path = (page.parent / target.split("#", 1)[0]).resolve()
        if not path.is_relative_to(ROOT):
            broken.append(f"{target} (outside the repository)")
        elif not path.exists():
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)}: broken links: {', '.join(broken)}"


def ci_commands() -> list[str]:
    """`.ci/run`'s logical lines (backslash continuations joined), comments dropped."""
    text = (ROOT / ".ci" / "run").read_text(encoding="utf-8").replace("\\\n", " ")
    return [" ".join(line.split()) for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def as_run(command: str) -> list[str]:
    """A command's words as the shell runs them, without what only changes the output or the
    exit handling: pip's `-q` (CI keeps its log short) and a trailing `|| rc=$?` (CI reports
    pytest's exit code 5 by name)."""
    command = re.sub(r"\s*\|\|\s*rc=\$\?\s*$", "", command)
    return [word for word in shlex.split(command) if word != "-q"]


def readme_commands() -> list[str]:
    """The lines of the README's first code block."""
    block = re.search(r"^```[a-z]*\n(.*?)^```", (ROOT / "README.md").read_text(encoding="utf-8"),
                      re.DOTALL | re.MULTILINE)
    assert block, "the README has no code block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_commands_are_the_ones_ci_runs():
    readme = readme_commands()
    assert len(readme) >= 2, "the README's first code block should hold the two commands"
    ci = [as_run(line) for line in ci_commands()]
    for command in readme[:2]:
        assert as_run(command) in ci, (
            f"the README says `{command}` but .ci/run runs no such command: keep the two in step")
    first, second = (as_run(command) for command in readme[:2])
    assert ci.index(first) < ci.index(second), ".ci/run runs the README's commands out of order"
