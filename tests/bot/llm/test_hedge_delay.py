"""When a call is hedged: the p95 of its kind's recent latencies, the slow tail censored, within the hedge share."""

from __future__ import annotations

from bot.llm.hedging import MIN_SAMPLES, HedgePolicy, LatencyWindow


def test_no_delay_until_enough_calls_are_known() -> None:
    window = LatencyWindow()
    for _ in range(MIN_SAMPLES - 1):
        window.add(0.2)
    assert window.p95() is None
    window.add(0.2)
    assert window.p95() == 0.2


def test_the_p95_is_read_by_rank_over_the_recent_calls() -> None:
    window = LatencyWindow(size=100)
    for n in range(100):
        window.add(n / 1000)
    assert window.p95() == 0.094
    for _ in range(100):  # the old ones age out
        window.add(0.5)
    assert window.p95() == 0.5


def test_censored_calls_rank_above_all_and_never_set_the_delay() -> None:
    window = LatencyWindow(size=100)
    for n in range(90):
        window.add(0.2 + n / 10_000)
    for _ in range(10):
        window.censor()  # 10 % cut off by their hedges: the p95 falls among them
    assert window.p95() == 0.2089  # the slowest call that completed, not a tail value


def test_a_fixed_delay_wins_and_a_zero_ratio_turns_hedging_off() -> None:
    assert HedgePolicy(after_s=0.25, max_ratio=0.05).delay("answer") == 0.25
    off = HedgePolicy(after_s=0.25, max_ratio=0.0)
    assert off.delay("answer") is None
    off.record_call()
    assert not off.try_hedge()


def test_hedges_stay_within_their_share_of_calls() -> None:
    policy = HedgePolicy(after_s=None, max_ratio=0.05)
    granted = 0
    for _ in range(200):
        policy.record_call()
        granted += policy.try_hedge()
    assert granted == 10
