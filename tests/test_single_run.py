"""One run against a mean over seeds, on hand-worked values (issue 34: no direction word when the
run lies inside the mean's interval)."""
import math

import pytest

from ssllib.chapters.single_run import single_against_mean

# 10, 12, 14: mean 12, s = 2, s/√3 = 1.154701, t(0.975, 2) = 4.302653 → half-width 4.968275,
# so the 95% interval is 7.03 to 16.97.
SEEDS = [10.0, 12.0, 14.0]
DIRECTIONS = ("worse", "better", "above", "below", "higher", "lower", "beats", "exceeds")


def test_inside_the_interval_names_no_direction():
    text = single_against_mean("the teacher", 9.0, "student alone", SEEDS)
    assert text == ("the teacher (one run) 9.00 lies inside the interval of the mean of student alone over 3 seeds, "
                    "12.00 (95% CI 7.03 to 16.97): one run that cannot be told apart from that mean at this scale.")
    for word in DIRECTIONS:
        assert word not in text


def test_outside_the_interval_says_on_which_side():
    above = single_against_mean("the teacher", 20.0, "student alone", SEEDS)
    assert above == ("the teacher (one run) 20.00 lies above the interval of the mean of student alone over 3 seeds, "
                     "12.00 (95% CI 7.03 to 16.97), 8.00 points from the mean; it is one run, so its own spread is "
                     "unknown.")
    below = single_against_mean("the teacher", 5.0, "student alone", SEEDS, unit="", digits=1)
    assert "lies below the interval" in below and "(95% CI 7.0 to 17.0), 7.0 from the mean" in below


def test_the_dcd_case_of_issue_34_lies_inside():
    # The issue's reading: a teacher at 62.44 against three student seeds whose interval is
    # about 59.7 to 75.2 (these seeds: mean 67.45, s = 3.12, half-width 7.75).
    text = single_against_mean("the teacher", 62.44, "student alone", [64.33, 67.45, 70.57], bounds=(0, 100))
    assert "lies inside" in text and "(95% CI 59.70 to 75.20)" in text
    assert not any(word in text for word in DIRECTIONS)


def test_fewer_than_two_seeds_give_no_interval():
    text = single_against_mean("the teacher", 62.44, "student alone", [67.45])
    assert "no interval" in text and "CI" not in text
    assert not any(word in text for word in DIRECTIONS)
    with pytest.raises(ValueError, match="no values"):
        single_against_mean("the teacher", 62.44, "student alone", [])


def test_the_interval_is_cut_to_the_bounds_given():
    # 90, 99, 100: mean 96.33, s = 5.51, half-width 13.69 → cut at 100.
    text = single_against_mean("A", 99.5, "B", [90, 99, 100], bounds=(0.0, 100.0))
    assert "to 100.00)" in text and "inside" in text
    assert math.isinf(single_against_mean.__kwdefaults__["bounds"][1])
