"""Fixtures shared by the library tests."""
import pytest


@pytest.fixture(params=["auto", "im2col", "shifted"])
def conv_method(request, monkeypatch):
    """Run a conv test with the automatic choice, and with each formulation forced (stride 1)."""
    import nnbook.functional.conv as conv
    if request.param != "auto":
        forced = request.param == "shifted"
        monkeypatch.setattr(conv, "_use_shifted", lambda C, F, stride, *sizes: forced and stride == (1, 1))
    return request.param
