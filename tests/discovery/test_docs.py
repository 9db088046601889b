"""docs/*.md field tables are generated from the models' field docs: they cannot drift."""

import pytest
from pydantic import BaseModel, Field

from discovery import docs


def test_the_docs_are_current():
    assert docs.stale() == [], "docs/ is stale: run `python -m discovery.docs`"


def test_every_config_key_is_in_the_docs():
    text = "".join(path.read_text() for path in docs.DOCS.glob("*.md"))
    for name, model in docs.MODELS.items():
        assert f"<!-- generated: {name} -->" in text
        for field in model.model_fields:
            assert f"| `{field}` |" in text, f"{name}.{field}"


class _Documented(BaseModel):
    size: int = Field(3, ge=1)
    """How big | in cells, see runs/<name>."""


class _Undocumented(_Documented):
    label: str | None = None


def test_a_section_is_rebuilt_from_its_model(monkeypatch):
    monkeypatch.setitem(docs.MODELS, "_Documented", _Documented)
    text = docs.render("intro\n<!-- generated: _Documented -->\nold\n<!-- end generated -->\n")
    assert text == ("intro\n<!-- generated: _Documented -->\n"
                    "| key | type | default | what it does |\n| --- | --- | --- | --- |\n"
                    "| `size` | integer, >= 1 | `3` | How big \\| in cells, see runs/&lt;name>. |\n"
                    "<!-- end generated -->\n")


def test_an_undocumented_field_or_unknown_model_is_an_error(monkeypatch):
    monkeypatch.setitem(docs.MODELS, "_Undocumented", _Undocumented)
    with pytest.raises(docs.DocsError, match=r"_Undocumented\.label has no docstring: write one "
                                             r"under the field in .*test_docs\.py"):
        docs.render("<!-- generated: _Undocumented -->\n<!-- end generated -->")
    with pytest.raises(docs.DocsError, match="unknown model 'Nope'"):
        docs.render("<!-- generated: Nope -->\n<!-- end generated -->")
