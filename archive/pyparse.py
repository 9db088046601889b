"""`ast.parse` one thread at a time, for every package: CPython before 3.11.8/3.12.1 keeps the
AST converter's recursion depth in interpreter-wide state, so two threads parsing at once can
fail with `SystemError: AST constructor recursion depth mismatch` (CPython gh-106905; seen here
with parallel proposals). One lock serialises them only if every parse takes it, so it lives in
the lowest package (the archive's lineage facts parse too) and evaluators re-export it."""

import ast
import threading

_PARSE_LOCK = threading.Lock()


def parse_python(code: str) -> ast.Module:
    """`ast.parse(code)` under the process-wide parse lock."""
    with _PARSE_LOCK:
        return ast.parse(code)
