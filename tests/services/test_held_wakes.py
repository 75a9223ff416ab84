"""Wakes held until a correlate batch is applied (services/held_wakes.py)."""

from __future__ import annotations

import threading

import pytest

from sre_copilot.services.held_wakes import held_wakes, hold_or_send


def test_outside_a_batch_a_wake_is_sent_at_once() -> None:
    sent: list[str] = []
    hold_or_send(lambda: sent.append("a"))
    assert sent == ["a"]


def test_inside_a_batch_wakes_go_out_in_order_when_the_outermost_block_ends() -> None:
    sent: list[str] = []
    with held_wakes():
        hold_or_send(lambda: sent.append("resolved"))
        with held_wakes():  # e.g. record-by-record processing inside a batch
            hold_or_send(lambda: sent.append("refresh"))
        # Given wakes made while the batch is being applied, nothing has gone out yet
        assert sent == []
    # Then they go out in the order they were made, once the batch is applied
    assert sent == ["resolved", "refresh"]


def test_a_failing_batch_still_delivers_the_wakes_whose_tokens_it_took() -> None:
    sent: list[str] = []
    with pytest.raises(RuntimeError), held_wakes():
        hold_or_send(lambda: sent.append("resolved"))
        raise RuntimeError("the store failed half-way")
    assert sent == ["resolved"]


def test_another_handler_running_meanwhile_is_not_held() -> None:
    sent: list[str] = []
    with held_wakes():
        other = threading.Thread(target=lambda: hold_or_send(lambda: sent.append("other handler")))
        other.start()
        other.join()
        # Then a concurrent handler's wake (its own thread) went out at once
        assert sent == ["other handler"]
