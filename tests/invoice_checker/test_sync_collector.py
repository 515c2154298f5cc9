"""The hour sync pauses the cyclic garbage collector only over its synchronous decode stretches."""

from __future__ import annotations

import gc

import pytest

from invoice_checker.jobs.sync import _collector_paused


def test_the_collector_resumes_after_the_stretch_even_when_it_fails() -> None:
    with pytest.raises(ValueError), _collector_paused():
        assert not gc.isenabled()
        raise ValueError("a bad entry")
    assert gc.isenabled()


def test_a_collector_already_off_stays_off() -> None:
    gc.disable()
    try:
        with _collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
