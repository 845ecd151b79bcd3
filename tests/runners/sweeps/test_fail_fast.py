"""runners/sweeps/fail_fast.py: when a sweep's trials have all failed alike (pure bookkeeping)."""

from __future__ import annotations

from runners.sweeps.fail_fast import SameFailure, reason_of


def test_three_trials_failing_alike_trip_it_and_numbers_do_not_count():
    same = SameFailure(8)
    same.end("a", "NonFiniteLoss: train loss became nan at step 3")
    same.end("b", "NonFiniteLoss: train loss became nan at step 5")
    assert not same.tripped  # two are not enough
    same.end("c", "NonFiniteLoss: train loss became inf at step 12")
    assert not same.tripped  # nan and inf are different words
    same = SameFailure(8)
    for t, step in (("a", 3), ("b", 5), ("c", 17)):
        same.end(t, f"NonFiniteLoss: train loss became nan at step {step}")
    assert same.tripped and same.first_failed() == "a"
    same.end("d", "")  # a trial the stop ended later cannot untrip it
    assert same.tripped and "(3 of 8 ended)" in same.line()


def test_a_trial_that_ended_fine_or_a_different_error_keeps_the_sweep_going():
    same = SameFailure(8)
    for t, err in (
        ("a", "RuntimeError: boom"),
        ("b", ""),
        ("c", "RuntimeError: boom"),
        ("d", "RuntimeError: boom"),
    ):
        same.end(t, err)
    assert not same.tripped
    other = SameFailure(8)
    for t, err in (("a", "RuntimeError: boom"), ("b", "ValueError: bad"), ("c", "RuntimeError: boom")):
        other.end(t, err)
    assert not other.tripped
    small = SameFailure(2)  # fewer trials than 3: all of them failing alike is enough
    small.end("a", "RuntimeError: boom")
    small.end("b", "RuntimeError: boom")
    assert small.tripped and reason_of("at step 12 lr 0.5") == "at step # lr #"
