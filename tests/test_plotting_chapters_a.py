"""Figures added for chapters 3 and 4: show_matrix_row and plot_conv_channels."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nnbook.plotting import plot_conv_channels, show_matrix_row  # noqa: E402


def test_show_matrix_row_one_panel_per_array_widths_follow_columns():
    mats = [np.arange(4).reshape(2, 2), np.ones((3, 5)), np.zeros((1, 1))]
    marks = [None, np.eye(3, 5, dtype=bool), None]
    fig = show_matrix_row(mats, titles=["a", "b", "c"], marks=marks, fmt="{:.0f}")
    assert len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c"]
    assert fig.axes[0].get_gridspec().get_width_ratios() == [2, 5, 1]
    # every value written once; the marked cells of panel 2 get a border each
    assert len(fig.axes[1].texts) == 15
    assert sum(1 for p in fig.axes[1].patches if not p.get_fill()) == 3
    plt.close(fig)


@pytest.mark.parametrize("bad", [[], [np.ones(3)], [np.ones((2, 2, 2))]])
def test_show_matrix_row_rejects_non_matrices(bad):
    with pytest.raises(ValueError, match="show_matrix_row: expected a list of 2-D arrays"):
        show_matrix_row(bad)


def test_show_matrix_row_rejects_mismatched_titles():
    with pytest.raises(ValueError, match="2 arrays but 1 titles"):
        show_matrix_row([np.ones((2, 2)), np.ones((2, 2))], titles=["only one"])


def _orange(patch):
    return np.allclose(mcolors.to_rgb(patch.get_facecolor()), mcolors.to_rgb("tab:orange"))


@pytest.mark.parametrize("C, F, H, k, S, pos", [(3, 2, 5, 3, 1, (1, 1)), (2, 4, 6, 1, 2, (2, 0)),
                                               (1, 1, 4, 2, 2, (0, 1))])
def test_plot_conv_channels_marks_one_window_per_channel_and_one_output_pixel(C, F, H, k, S, pos):
    fig = plot_conv_channels(C=C, F=F, H=H, k=k, S=S, pos=pos)
    ax = fig.axes[0]
    windows = [p for p in ax.patches if _orange(p) and p.get_width() == k and p.get_alpha() == 0.45]
    assert len(windows) == C
    i, j = pos
    assert all(p.get_x() == j * S for p in windows)          # the window of output (i, j)
    Ho = (H - k) // S + 1
    out_pixels = [p for p in ax.patches if _orange(p) and p.get_alpha() is None]
    assert len(out_pixels) == 1
    # output grids: F channels of Ho*Ho cells; input grids: C of H*H; kernels: C of k*k
    # (with k = 1 the C marked windows are unit cells too)
    cells = [p for p in ax.patches if p.get_width() == 1 and p.get_height() == 1]
    assert len(cells) == F * Ho * Ho + C * H * H + C * k * k + (C if k == 1 else 0)
    plt.close(fig)


@pytest.mark.parametrize("kw", [dict(k=6, H=5), dict(pos=(3, 0)), dict(f=2, F=2), dict(C=0)])
def test_plot_conv_channels_rejects_bad_geometry(kw):
    with pytest.raises(ValueError, match="plot_conv_channels"):
        plot_conv_channels(**kw)
