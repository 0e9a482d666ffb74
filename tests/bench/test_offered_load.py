"""A benchmark run whose simulator wrote another load than it offered is an error, named in the
run's figures and in the benchmark's result, so no verdict is given on it."""

from __future__ import annotations

from typing import Any

import pytest

from bench.peer import judge_load, load_error


@pytest.mark.parametrize(
    ("offered", "written", "wrong"),
    [
        (5_000, 5_000, False),
        (5_000, 5_100, False),  # the quiet instruments' 2%
        (5_000, 4_550, False),
        (5_000, 5_490, False),
        (5_000, 5_600, True),
        (5_000, 4_400, True),
        (500, 1_554, True),  # the chain's options ticking with their future: 3×
        (5_000, 14_553, True),
        (5_000, 0, True),
        (0, 0, True),
    ],
)
def test_a_load_more_than_ten_percent_off_the_offered_one_is_an_error(
    offered: float, written: float, wrong: bool
) -> None:
    error = load_error(offered, written)
    assert (error is not None) == wrong
    if wrong:
        assert f"{written:,.0f} ticks/s where {offered:,.0f} were offered" in str(error)


def test_each_run_off_its_load_and_the_result_carry_the_error() -> None:
    honest: dict[str, Any] = {"ticks_per_s_written": 2_010}
    tripled: dict[str, Any] = {"ticks_per_s_written": 14_553}
    result: dict[str, Any] = {"loads": [honest, tripled]}

    judged = judge_load(result, [(honest, 2_000, 2_010), (tripled, 5_000, 14_553)])

    assert judged is result
    assert "error" not in honest
    assert "14,553 ticks/s where 5,000 were offered" in tripled["error"]
    assert result["error"] == tripled["error"]


def test_a_result_at_its_offered_loads_has_no_error() -> None:
    run: dict[str, Any] = {}
    assert "error" not in judge_load({"run": run}, [(run, 5_000, 5_080)])
    assert "error" not in run
