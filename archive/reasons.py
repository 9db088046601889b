"""Failure reasons grouped by what they mean: the numbers in a reason vary from one failure to
the next ("two circles overlap (circles 2 and 3, by 0.01)"), its words do not. Cutting a reason
at its first parenthesis would also cut the words that say what went wrong ("construct_packing
must return (centers, radii)"), so only the numbers are replaced."""

import re

NO_REASON = "(no reason given)"

_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?!\w)")
"""A number standing alone: not the digits of a name (`x2`, `float64`, `sha256`)."""


def reason_key(reason: str | None) -> str:
    """The group a reason belongs to: its numbers as `N`, its white space as single spaces."""
    if reason is None or not reason.strip():
        return NO_REASON
    return _NUMBER.sub("N", " ".join(reason.split()))
