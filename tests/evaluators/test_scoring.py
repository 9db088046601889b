"""The scoring helpers every task's scorer uses: a loss that is not a finite number is the
program's InvalidOutput, never a NaN score (a TaskError that halts a campaign) or a silent
clip; a reference that is not finite is the task's own error."""

import math

import pytest

from evaluators.scoring import InvalidOutput, finite_array, log_checkpoints, log_ratio


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_log_checkpoints_refuses_a_loss_that_is_not_finite(bad):
    with pytest.raises(InvalidOutput, match="exploitability at 20 is not finite"):
        log_checkpoints({10: 0.1, 20: bad}, "exploitability")


def test_log_checkpoints_floors_tiny_and_negative_losses():
    assert log_checkpoints({10: 0.0, 20: -1e-16}, "e").score == 15
    assert log_checkpoints({10: 0.1, 20: 0.001}, "e").score == pytest.approx(2)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_log_ratio_refuses_a_loss_that_is_not_finite(bad):
    with pytest.raises(InvalidOutput, match="not finite"):
        log_ratio(bad, 0.1, 3)


def test_log_ratio_refuses_a_reference_that_is_not_finite_as_the_tasks_error():
    with pytest.raises(ValueError, match="reference loss nan"):
        log_ratio(0.1, math.nan, 3)


def test_log_ratio_is_capped_both_ways():
    assert log_ratio(1e-3, 1e-1, 3) == pytest.approx(2)
    assert log_ratio(0.0, 1e-1, 3) == 3 and log_ratio(1e9, 1e-1, 3) == -3


def test_finite_array_refuses_an_integer_past_float_range():
    """JSON carries any integer; numpy's conversion of 10**400 raises OverflowError, which a
    scorer would otherwise pass on as the task's error."""
    with pytest.raises(InvalidOutput, match="radii is not an array of numbers"):
        finite_array([1, 10**400], "radii", (2,))
