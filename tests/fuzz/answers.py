"""Hypothesis strategies for what a hostile candidate can send a trusted routine: well-typed
answers at the edges of their type (huge, tiny, negative, NaN, infinite, zero rows) and
ill-typed ones (any JSON value where an array was expected).

The fuzz tests in this folder drive every task's oracle and scorer with them and assert the
trusted side's one promise: no TaskError, no crash, and no score above the honest best
baseline's unless what was measured passed its invariants. Settings come from the `fuzz`
profile (tests/conftest.py): derandomised, so CI replays the same examples, and no deadline,
so a loaded machine cannot fail a test by being slow."""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

EDGE_FLOATS = [0.0, -0.0, 1.0, -1.0, 1e-300, -1e-300, 5e-324, 1e300, -1e300, 1.7976931348623157e308,
               float("inf"), float("-inf"), float("nan")]
"""Values that break a check written as `x > limit` (NaN), overflow a sum (1e300), or
underflow a division (5e-324)."""

floats = st.one_of(st.sampled_from(EDGE_FLOATS), st.floats(allow_nan=True, allow_infinity=True))
"""Any float64, with the edges drawn often."""

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | floats
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=6),
    max_leaves=30)
"""Any JSON-shaped value a candidate can put on the harness channel: what arrives where a
well-typed answer was expected."""


def float_arrays(shape, elements=floats) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays of `shape` (a tuple, or a strategy of tuples) with hostile elements."""
    return hnp.arrays(np.float64, shape, elements=elements)


def huge_positive(min_value: float = 1e100) -> st.SearchStrategy[float]:
    """Finite but enormous positive floats: each passes a per-answer finiteness check, and
    what they add up to overflows (the forged-CFR-score attack's weights)."""
    return st.floats(min_value=min_value, max_value=1.7976931348623157e308,
                     allow_nan=False, allow_infinity=False)


def distributions(n: int) -> st.SearchStrategy[np.ndarray]:
    """Valid probability vectors of length `n`, including one-hot and nearly-zero entries."""
    weights = hnp.arrays(np.float64, n, elements=st.sampled_from([0.0, 1e-300, 1e-12, 0.5, 1.0,
                                                                   1e300]))
    return weights.filter(lambda w: w.sum() > 0 and np.isfinite(w.sum())).map(lambda w: w / w.sum())
