"""The field tables of docs/*.md, generated from the pydantic models' attribute docstrings, so
the reference cannot drift from the code: `python -m discovery.docs` rewrites every section
between `<!-- generated: Model -->` and `<!-- end generated -->`; `--check` only says which files
are stale (exit 1), and a test runs that check.

Field docs are the string literal under each field (PEP 257 attribute docstrings), read with ast
from the class source: the models need no change for it, and an undocumented field is an error
here rather than a blank cell in the reference.
"""

import ast
import inspect
import itertools
import json
import re
import sys
import textwrap
import types
import typing
from pathlib import Path
from typing import Any

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from discovery.config import (
    Budgets,
    CampaignConfig,
    Edits,
    Parallel,
    PromptEvolution,
    Prompts,
    ProposerSettings,
    Selection,
)
from discovery.models.agent import AgentModelConfig
from discovery.models.base import ModelSpec
from evaluators.task import (
    CaseConfig,
    DescriptorConfig,
    LimitsConfig,
    StageConfig,
    TaskConfig,
)

DOCS = Path(__file__).resolve().parents[1] / "docs"
MODELS: dict[str, type[BaseModel]] = {model.__name__: model for model in (
    TaskConfig, StageConfig, CaseConfig, LimitsConfig, DescriptorConfig,
    CampaignConfig, ModelSpec, AgentModelConfig, Selection, Edits, Prompts, PromptEvolution,
    ProposerSettings, Parallel, Budgets)}
"""The models a doc may name in a `<!-- generated: Name -->` marker."""
SECTION = re.compile(r"(<!-- generated: (\w+) -->\n).*?(<!-- end generated -->)", re.DOTALL)


class DocsError(Exception):
    """A model the reference cannot be generated from (an undocumented field, an unknown name)."""


def field_docs(model: type[BaseModel]) -> dict[str, str]:
    """Each field's attribute docstring, inherited ones included, as one paragraph."""
    docs: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or cls is BaseModel:
            continue
        body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
        for field, after in itertools.pairwise(body):
            if isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name) \
                    and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) \
                    and isinstance(after.value.value, str):
                docs[field.target.id] = " ".join(after.value.value.split())
    return docs


def field_table(model: type[BaseModel]) -> str:
    """The model's fields as a markdown table: key, type, default, what it does."""
    docs = field_docs(model)
    rows = ["| key | type | default | what it does |", "| --- | --- | --- | --- |"]
    for name, field in model.model_fields.items():
        if name not in docs:
            source = inspect.getsourcefile(model)
            raise DocsError(f"{model.__name__}.{name} has no docstring: write one under the "
                            f"field in {source}, then run python -m discovery.docs")
        rows.append(f"| `{name}` | {_type(field)} | {_default(field)} | {_cell(docs[name])} |")
    return "\n".join(rows) + "\n"


def _cell(text: str) -> str:
    """Text safe in a table cell: a pipe would end the cell, and outside code spans a `<name>`
    would be read as an HTML tag."""
    parts = text.replace("|", "\\|").split("`")
    return "`".join(p if i % 2 else p.replace("<", "&lt;") for i, p in enumerate(parts))


def _type(field: FieldInfo) -> str:
    text = _annotation(field.annotation)
    bounds = {annotated_types.Gt: (">", "gt"), annotated_types.Ge: (">=", "ge"),
              annotated_types.Lt: ("<", "lt"), annotated_types.Le: ("<=", "le"),
              annotated_types.MinLen: ("at least", "min_length")}
    for rule in field.metadata:
        for kind, (words, attribute) in bounds.items():
            if isinstance(rule, kind):
                text += f", {words} {getattr(rule, attribute)}"
    return text


def _annotation(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f'`"{a}"`' for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_annotation(a) for a in args if a is not type(None)) + " (optional)"
    if origin is list:
        return f"list of {_annotation(args[0])}"
    if origin is dict:
        return f"table of {_annotation(args[0])} to {_annotation(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation.__name__
    return {Any: "any", str: "string", int: "integer", float: "number", bool: "boolean"}.get(
        annotation, getattr(annotation, "__name__", str(annotation)))


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "its defaults"
    return f"`{_toml(value)}`" if value is not None else "unset"


def _toml(value: Any) -> str:
    """A default as it would be written in TOML."""
    if isinstance(value, BaseModel):
        value = value.model_dump(exclude_defaults=True)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }" \
            if value else "{}"
    return repr(value)


def render(text: str) -> str:
    """The doc's text with every generated section rewritten from its model."""
    def section(match: re.Match) -> str:
        model = MODELS.get(match.group(2))
        if model is None:
            raise DocsError(f"unknown model {match.group(2)!r} in a generated section: use one "
                            f"of {', '.join(MODELS)}")
        return f"{match.group(1)}{field_table(model)}{match.group(3)}"
    return SECTION.sub(section, text)


def stale(root: Path = DOCS) -> list[Path]:
    """The docs whose generated sections differ from the models."""
    return [path for path in sorted(root.glob("*.md"))
            if render(text := path.read_text(encoding="utf-8")) != text]


def main(argv: list[str]) -> int:
    if argv not in ([], ["--check"]):
        print("usage: python -m discovery.docs [--check]", file=sys.stderr)
        return 2
    paths = stale()
    if argv == ["--check"]:
        for path in paths:
            print(f"{path} is stale: run python -m discovery.docs", file=sys.stderr)
        return 1 if paths else 0
    for path in paths:
        path.write_text(render(path.read_text(encoding="utf-8")), encoding="utf-8")
        print(f"rewrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
