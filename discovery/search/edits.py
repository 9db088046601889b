"""Turning a model's answer into a new program, in one of two formats.

- `rewrite`: the model answers with the whole new block in a fenced code block; it goes between
  `# EVOLVE-BLOCK-START` and `# EVOLVE-BLOCK-END`. The one format small models manage (SmolLM2
  produced no valid SEARCH/REPLACE diff in 21 tries).
- `diff`: SEARCH/REPLACE blocks, each SEARCH text found exactly once inside the EVOLVE-BLOCK and
  replaced there; cheaper in tokens for capable models on long programs.

Either way the markers stay exactly where they were (ShinkaEvolve issue #183 silently corrupted
them) and the code outside the block is never touched.
"""

import ast
import re
from dataclasses import dataclass
from random import Random

from evaluators.task import parse_python

START, END = "# EVOLVE-BLOCK-START", "# EVOLVE-BLOCK-END"
_FENCE = re.compile(r"```[ \t]*(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)
_OPEN = re.compile(r"```[ \t]*(?:python|py)?[ \t]*\n")


class EditError(Exception):
    """The answer cannot become a program; the message is the reason given back to the model."""


def evolve_block(program: str) -> tuple[int, int]:
    """Line indices (start marker, end marker) of the program's single EVOLVE-BLOCK."""
    lines = program.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == START]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if len(starts) != 1 or len(ends) != 1 or not starts[0] < ends[0]:
        raise EditError(f"the program needs exactly one {START} ... {END} region")
    return starts[0], ends[0]


def block_text(program: str) -> str:
    start, end = evolve_block(program)
    return "\n".join(program.splitlines()[start + 1:end])


@dataclass(frozen=True)
class DesignNotes:
    """A design's name and the thought behind it (ADAS's `name` and `thought`), as the model
    wrote them: the docstring of the block's first function, a short name line, a blank line,
    then the thought."""

    name: str
    thought: str


def design_notes(program: str) -> DesignNotes | None:
    """The design notes of a program, or None (no block, no parse, no docstring). Kept in the
    code itself, so the archive stores them with the program and every view can show them."""
    try:
        tree = parse_python(block_text(program))
    except (EditError, SyntaxError, ValueError):
        return None
    function = next((n for n in tree.body if isinstance(n, ast.FunctionDef)), None)
    doc = ast.get_docstring(function) if function is not None else None
    name, blank, thought = (doc or "").strip().partition("\n\n")
    if not blank or "\n" in name or len(name) > 80:  # a plain docstring, not a name + thought
        return None
    return DesignNotes(name.strip(), " ".join(thought.split())[:800])


def extract_code(answer: str) -> str:
    """The longest fenced code block of the answer. Code counts without its fences only if it
    parses: a bare answer that is nothing but code, or a block whose closing fence is missing
    (a small model often stops, or is cut off at its token limit, before writing it). A block
    cut off inside a statement keeps the top-level statements before that one, when they parse
    (a small model often writes a whole function, then rambles on until its limit)."""
    blocks = [b.strip("\n") for b in _FENCE.findall(answer)]
    if blocks:
        return max(blocks, key=len)
    unclosed = _OPEN.search(answer)
    code = answer[unclosed.end():] if unclosed else answer if "```" not in answer else None
    if code is not None and _parses(code):
        return code.strip("\n")
    whole = _complete_statements(code) if unclosed else None
    if whole:
        return whole
    if unclosed:
        raise EditError("the ```python code block is never closed (the answer was cut off, or "
                        "broke off): reply with the complete block, short, ending with ```")
    raise EditError("the answer has no ```python code block: reply with one code block")


def _complete_statements(code: str) -> str | None:
    """The longest run of whole top-level statements that `code` starts with, the last
    statement (maybe cut) left out; None if no such run parses."""
    lines = code.splitlines()
    starts = [i for i, line in enumerate(lines)
              if i and line[:1] not in ("", " ", "\t", "#", ")", "]", "}")]
    for end in reversed(starts):
        prefix = "\n".join(lines[:end]).strip("\n")
        if prefix.strip() and _parses(prefix):
            return prefix
    return None


def _parses(code: str) -> bool:
    try:
        compile(code, "<answer>", "exec")
    except SyntaxError:
        return False
    return True


_DIFF = re.compile(r"<<<<<<< SEARCH\n(.*?)\n?=======\n(.*?)\n?>>>>>>> REPLACE", re.DOTALL)


def apply_diff(program: str, answer: str) -> str:
    """The program with every SEARCH/REPLACE block of the answer applied inside its block."""
    start, end = evolve_block(program)
    lines = program.splitlines()
    block = "\n".join(lines[start + 1:end])
    edits = _DIFF.findall(answer)
    if not edits:
        raise EditError("the answer has no <<<<<<< SEARCH / ======= / >>>>>>> REPLACE block")
    for search, replace in edits:
        if START in replace or END in replace:
            raise EditError("a REPLACE text contains an EVOLVE-BLOCK marker: leave them alone")
        found = block.count(search) if search.strip() else 0
        if found != 1:
            first = search.strip().splitlines()[0] if search.strip() else ""
            raise EditError(f"a SEARCH text matches {found} times in the block, it must match "
                            f"exactly once (it begins {first[:60]!r})")
        block = block.replace(search, replace, 1)
    return _assemble(program, [*lines[:start + 1], block, *lines[end:]])


def rewrite_block(program: str, answer: str) -> str:
    """The program with its EVOLVE-BLOCK replaced by the answer's code."""
    start, end = evolve_block(program)
    code = extract_code(answer)
    if START in code or END in code:  # the model echoed the whole program: keep its block only
        code = block_text(code)
    lines = program.splitlines()
    return _assemble(program, [*lines[:start + 1], code, *lines[end:]])


def _assemble(program: str, lines: list[str]) -> str:
    new = "\n".join(lines) + "\n"
    try:
        compile(new, "<candidate>", "exec")
    except SyntaxError as exc:
        raise EditError(f"the new code has a syntax error at line {exc.lineno}: {exc.msg}") \
            from exc
    if new.strip() == program.strip():
        raise EditError("the new code is identical to the old: change something")
    return new


@dataclass(frozen=True)
class Continuation:
    """What a small model is asked for: the rest of one function of the block, from a
    statement on. The campaign writes the answer's start (`start`: a code fence, the
    function's head down to that statement), the model continues it, and `splice` puts the
    function back in the block, everything else unchanged. The small model copies a head it
    is given and keeps within a budget; asked for a whole block it loops until its token cap
    (the first run's 5 proposals did)."""

    function: str
    """The function's name, for the prompt."""
    start: str
    """The answer's start: a ```python fence and the function's lines before the cut."""
    head: list[str]
    """The block's lines before the cut (functions before this one, this one's head)."""
    tail: list[str]
    """The block's lines after this function."""


def plan_continuation(program: str, rng: Random, max_chars: int,
                      function: str | None = None) -> Continuation | None:
    """A function of the block (`function`, else any at random) and a statement of its body
    to cut before: one of the earlier half of those after its docstring whose rest of the
    function is at most `max_chars` long (else the last one). None when the block has no such
    function with a statement to cut before. Earlier cuts leave the model more to write: cut
    before the last line or two, the small model copies them unchanged."""
    block = block_text(program)
    try:
        tree = parse_python(block)
    except (SyntaxError, ValueError):
        return None
    lines = block.splitlines()
    options = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) \
                or function not in (None, node.name):
            continue
        body = node.body[1:] if ast.get_docstring(node) is not None else node.body
        cuts = sorted({inner.lineno - 1 for stmt in body for inner in ast.walk(stmt)
                       if isinstance(inner, ast.stmt)})
        end = node.end_lineno or node.lineno
        if cuts:
            options.append((node, cuts, end))
    if not options:
        return None
    node, cuts, end = rng.choice(options)
    fitting = [c for c in cuts if len("\n".join(lines[c:end])) <= max_chars] or cuts[-1:]
    cut = rng.choice(fitting[:(len(fitting) + 1) // 2])
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
    return Continuation(node.name, "```python\n" + "\n".join(lines[first:cut]),
                        lines[:cut], lines[end:])


def splice(program: str, continuation: Continuation, answer: str) -> str:
    """The program with the continued function in its block: the answer's lines up to the
    first one back at the top level (the function's end: what follows is dropped) or its
    closing fence."""
    text = answer.split("```", 1)[0]
    lines = text.split("\n")
    rest = []
    for number, line in enumerate(lines):
        if number and line.strip() and not line[:1].isspace():
            break
        rest.append(line)
    if not "".join(rest).strip():
        raise EditError("the answer continues nothing: write the rest of the function")
    head = continuation.head
    body = [*head[:-1], head[-1] + rest[0], *rest[1:]] if head else rest
    start, end = evolve_block(program)
    program_lines = program.splitlines()
    new_block = "\n".join(body).rstrip("\n")
    return _assemble(program, [*program_lines[:start + 1], new_block, *continuation.tail,
                               *program_lines[end:]])
