"""Prompt templates, shipped as package data: one folder per purpose, plain text files with
`$name` placeholders (string.Template), so prompts are edited as text, not as Python."""

import functools
from importlib import resources
from string import Template


@functools.cache
def _template(name: str) -> Template:
    return Template(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))


def render(name: str, **values: str) -> str:
    """Fill the template `prompts/<name>`; a missing value is a KeyError naming it."""
    return _template(name).substitute(values)
