"""Prompt templates, shipped as package data: one folder per purpose, plain text files with
`$name` placeholders (string.Template), so prompts are edited as text, not as Python."""

from importlib import resources
from string import Template


def render(name: str, **values: str) -> str:
    """Fill the template `prompts/<name>`; a missing value is a KeyError naming it."""
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    return Template(text).substitute(values)
