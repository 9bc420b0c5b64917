"""The batch-norm graph of chapter 6: every node, every forward edge, every backward step once."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from nnbook.plotting import plot_batchnorm_graph  # noqa: E402


def test_batchnorm_graph_has_the_nodes_edges_and_six_numbered_backward_steps():
    fig = plot_batchnorm_graph()
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    for node in ("$x$", r"$z = x - \mu$", r"$\hat x = z\,s$", r"$y = \gamma\,\hat x + \beta$"):
        assert texts.count(node) == 1
    red = sorted(t.get_text() for t in ax.texts if t.get_color() == "tab:red" and t.get_text())
    assert [r[:2] for r in red] == ["1:", "2:", "3:", "4:", "5:", "6:"]
    assert "d\\beta = \\sum dy" in red[0] and "d\\mu = -\\sum dz" in red[4]
    arrows = [c for c in ax.get_children() if isinstance(c, matplotlib.text.Annotation)]
    assert len(arrows) == 8        # x->z, x->mu, mu->z, z->xhat, z->v, v->s, s->xhat, xhat->y
    plt.close(fig)
