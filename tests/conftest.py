"""Fixtures shared by the library tests."""
import pytest


@pytest.fixture(params=["auto", "im2col", "shifted", "shifted-in-small-blocks"])
def conv_method(request, monkeypatch):
    """Run a conv test with the automatic choice, and with each formulation forced (stride 1).

    "shifted-in-small-blocks" makes the shifted method work in blocks of 7 columns, so
    that test-sized inputs run through many blocks and a ragged last one."""
    import nnbook.functional.conv as conv
    if request.param != "auto":
        forced = request.param.startswith("shifted")
        monkeypatch.setattr(conv, "_use_shifted", lambda C, F, stride, *sizes: forced and stride == (1, 1))
    if request.param == "shifted-in-small-blocks":
        monkeypatch.setattr(conv, "_CHUNK", 7)
    return request.param


@pytest.fixture
def references_as_learners(monkeypatch):
    """For tests that use nnbook's own code as a learner's answer: check()'s refusal of it is
    off (tests/test_grading_integrity.py tests that refusal)."""
    monkeypatch.setattr("nnbook.grading.judge.own_code.OwnCodeWatch.enabled", False)
