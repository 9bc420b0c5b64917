"""Mistake catalog of ex7_residual: the weighted shortcut, the projection shortcut, when a projection is needed,
and the pre-activation residual block in evaluation mode (see catalog/slips.py)."""
import numpy as np

from nnbook import functional as F

from catalog.slips import Catalog

CATALOG = cat = Catalog("ex7_residual", {"F": F})


@cat.correct
def shortcut_forward(x, y, alpha=1.0, beta=1.0):
    N, Cx, Hx, Wx = x.shape
    _, Cy, Hy, Wy = y.shape
    c = min(Cx, Cy)
    out = x.copy()
    for i in range(min(Hx, Hy)):
        for j in range(min(Wx, Wy)):
            xi = i * (Hx // Hy) if Hx >= Hy else i
            xj = j * (Wx // Wy) if Wx >= Wy else j
            yi = i if Hx >= Hy else i * (Hy // Hx)
            yj = j if Wx >= Wy else j * (Wy // Wx)
            out[:, :c, xi, xj] = alpha * x[:, :c, xi, xj] + beta * y[:, :c, yi, yj]
    cache = (x, y, alpha, beta)
    return out, cache


cat.slip("shortcut_forward", "weights_swapped", "shortcut_weights_swapped",
         ("alpha * x[:, :c, xi, xj] + beta * y[:, :c, yi, yj]", "beta * x[:, :c, xi, xj] + alpha * y[:, :c, yi, yj]"))
cat.slip("shortcut_forward", "writes_into_x", "input_modified", ("out = x.copy()", "out = x"),
         note="out is x itself: combining changes the caller's x (and the cache, which holds x, with it)")
cat.slip("shortcut_forward", "channels_of_y", "shortcut_channels", ("c = min(Cx, Cy)", "c = Cy"),
         note="combines all of y's channels, also when x has fewer")
cat.slip("shortcut_forward", "beta_forgotten", "shortcut_alpha_beta",
         ("alpha * x[:, :c, xi, xj] + beta * y[:, :c, yi, yj]", "alpha * x[:, :c, xi, xj] + y[:, :c, yi, yj]"))
cat.slip("shortcut_forward", "rest_zero", "shortcut_rest_of_x", ("out = x.copy()", "out = np.zeros_like(x)"),
         note="the positions outside the combined grid should keep x's value")
cat.slip("shortcut_forward", "grid_ratio_inverted", "shortcut_resize",
         ("xi = i * (Hx // Hy) if Hx >= Hy else i", "xi = i * (Hy // Hx) if Hx >= Hy else i"),
         ("xj = j * (Wx // Wy) if Wx >= Wy else j", "xj = j * (Wy // Wx) if Wx >= Wy else j"),
         note="steps through x by the ratio the other way round")
cat.slip("shortcut_forward", "zeros_float64", "dtype_changed",
         ("out = x.copy()", "out = np.zeros(x.shape)\n    out[:] = x"))
cat.slip("shortcut_forward", "cache_without_weights", "cache_contract",
         ("cache = (x, y, alpha, beta)", "cache = (x, y)"))


@cat.correct
def shortcut_backward(dout, cache):
    x, y, alpha, beta = cache
    N, Cx, Hx, Wx = x.shape
    _, Cy, Hy, Wy = y.shape
    c = min(Cx, Cy)
    dx = dout.copy()
    dy = np.zeros(y.shape, dtype=dout.dtype)
    for i in range(min(Hx, Hy)):
        for j in range(min(Wx, Wy)):
            xi = i * (Hx // Hy) if Hx >= Hy else i
            xj = j * (Wx // Wy) if Wx >= Wy else j
            yi = i if Hx >= Hy else i * (Hy // Hx)
            yj = j if Wx >= Wy else j * (Wy // Wx)
            dx[:, :c, xi, xj] = alpha * dout[:, :c, xi, xj]
            dy[:, :c, yi, yj] = beta * dout[:, :c, xi, xj]
    return dx, dy


cat.slip("shortcut_backward", "dy_without_beta", "shortcut_backward_alpha_beta",
         ("dy[:, :c, yi, yj] = beta * dout[:, :c, xi, xj]", "dy[:, :c, yi, yj] = dout[:, :c, xi, xj]"))
cat.slip("shortcut_backward", "alpha_everywhere", "shortcut_backward_alpha_everywhere",
         ("dx = dout.copy()", "dx = alpha * dout"), ("            dx[:, :c, xi, xj] = alpha * dout[:, :c, xi, xj]\n", ""),
         note="scales all of dx by alpha, also where out was x alone")
cat.slip("shortcut_backward", "drops_shortcut_gradient", "shortcut_backward_rest",
         ("dx = dout.copy()", "dx = np.zeros_like(dout)"),
         note="dx only on the combined grid: the gradient of the positions where out = x is dropped")
cat.slip("shortcut_backward", "dy_shape_of_x", "shortcut_dy_shape",
         ("dy = np.zeros(y.shape, dtype=dout.dtype)", "dy = np.zeros_like(dout)"),
         ("dy[:, :c, yi, yj] = beta", "dy[:, :c, xi, xj] = beta"),
         note="dy in x's shape, on x's grid")
cat.slip("shortcut_backward", "dout_in_place", "input_modified", ("dx = dout.copy()", "dx = dout"))
cat.slip("shortcut_backward", "zeros_float64", "dtype_changed",
         ("dy = np.zeros(y.shape, dtype=dout.dtype)", "dy = np.zeros(y.shape)"))
cat.slip("shortcut_backward", "dx_without_alpha", "shortcut_backward_alpha_beta",
         ("            dx[:, :c, xi, xj] = alpha * dout[:, :c, xi, xj]\n", ""))


@cat.correct
def projection_shortcut(h, W, stride):
    N, C, H, Wd = h.shape
    F_out = W.shape[0]
    Ho, Wo = (H - 1) // stride + 1, (Wd - 1) // stride + 1
    out = np.zeros((N, F_out, Ho, Wo), dtype=h.dtype)
    for f in range(F_out):
        for c in range(C):
            out[:, f] += W[f, c, 0, 0] * h[:, c, ::stride, ::stride]
    return out


cat.slip("projection_shortcut", "floor_size", "projection_stride",
         ("Ho, Wo = (H - 1) // stride + 1, (Wd - 1) // stride + 1", "Ho, Wo = H // stride, Wd // stride"),
         ("h[:, c, ::stride, ::stride]", "h[:, c, :Ho * stride:stride, :Wo * stride:stride]"),
         note="H // stride rows: an odd side of 7 with stride 2 gives 3, not 4")
cat.slip("projection_shortcut", "stride_ignored", "projection_stride",
         ("Ho, Wo = (H - 1) // stride + 1, (Wd - 1) // stride + 1", "Ho, Wo = H, Wd"),
         ("h[:, c, ::stride, ::stride]", "h[:, c]"))
cat.slip("projection_shortcut", "offset_start", "projection_stride",
         ("h[:, c, ::stride, ::stride]", "h[:, c, stride - 1::stride, stride - 1::stride]"),
         ("Ho, Wo = (H - 1) // stride + 1, (Wd - 1) // stride + 1", "Ho, Wo = H // stride, Wd // stride"),
         note="keeps rows 1, 3, 5, ... (the last of each pair) instead of 0, 2, 4, ...")
cat.slip("projection_shortcut", "zeros_float64", "dtype_changed",
         ("out = np.zeros((N, F_out, Ho, Wo), dtype=h.dtype)", "out = np.zeros((N, F_out, Ho, Wo))"))
cat.written("projection_shortcut", "weights_not_lined_up", "projection_weights_axis", """
    def projection_shortcut(h, W, stride):
        h_s = h[:, :, ::stride, ::stride]
        out = np.zeros((h.shape[0], W.shape[0]) + h_s.shape[2:], dtype=h.dtype)
        for f in range(W.shape[0]):
            out[:, f] = (W[f, :, 0, 0] * h_s).sum(axis=1)
        return out
    """, note="W[f, :, 0, 0] has shape (C,): NumPy lines it up with h's last axis, not the channels")
cat.written("projection_shortcut", "weights_transposed", "projection_weights", """
    def projection_shortcut(h, W, stride):
        h_s = h[:, :, ::stride, ::stride]
        return np.einsum("cf,nchw->nfhw", W[:, :, 0, 0], h_s)
    """, note="reads W as (C, F): it is (F, C, 1, 1)")


@cat.correct
def needs_projection(in_channels, out_channels, stride):
    if stride != 1:
        return True
    if in_channels != out_channels:
        return True
    return False


cat.slip("needs_projection", "channels_only", "needs_projection_rule", ("    if stride != 1:\n        return True\n", ""))
cat.slip("needs_projection", "stride_only", "needs_projection_rule",
         ("    if in_channels != out_channels:\n        return True\n", ""))
cat.written("needs_projection", "both_needed", "needs_projection_rule", """
    def needs_projection(in_channels, out_channels, stride):
        return stride != 1 and in_channels != out_channels
    """, note="and instead of or")
cat.slip("needs_projection", "more_channels_only", "needs_projection_rule",
         ("if in_channels != out_channels:", "if out_channels > in_channels:"),
         note="thinks only a block that widens needs a projection")
cat.slip("needs_projection", "no_return_false", "needs_projection_returns_none", ("    return False\n", ""),
         note="returns None when no projection is needed")
cat.written("needs_projection", "returns_the_difference", "needs_projection_returns_bool", """
    def needs_projection(in_channels, out_channels, stride):
        return (stride - 1) + abs(in_channels - out_channels)
    """, note="a number that is nonzero when a projection is needed, not True or False")


@cat.correct
def residual_block_forward(x, params, stride=1):
    def bn(v, name):
        return F.batchnorm_forward(v, params[name + ".gamma"], params[name + ".beta"],
                                   params[name + ".running_mean"], params[name + ".running_var"],
                                   training=False)[0]

    h = np.maximum(bn(x, "bn1"), 0)
    a = F.conv2d_forward(h, params["conv1.W"], None, stride, 1)[0]
    a = np.maximum(bn(a, "bn2"), 0)
    branch = F.conv2d_forward(a, params["conv2.W"], None, 1, 1)[0]
    if needs_projection(x.shape[1], params["conv1.W"].shape[0], stride):
        shortcut = projection_shortcut(h, params["projection.W"], stride)
    else:
        shortcut = x
    out = branch + shortcut
    return out


cat.slip("residual_block_forward", "projection_of_raw_x", "projection_on_raw_input",
         ('shortcut = projection_shortcut(h, params["projection.W"], stride)',
          'shortcut = projection_shortcut(x, params["projection.W"], stride)'))
cat.slip("residual_block_forward", "projection_stride_1", "block_projection_stride",
         ('shortcut = projection_shortcut(h, params["projection.W"], stride)',
          'shortcut = projection_shortcut(h, params["projection.W"], 1)'),
         note="the projection applied with stride 1: its output keeps the input's size (issue 15)")
cat.slip("residual_block_forward", "no_relu_after_bn2", "block_missing_relu",
         ('a = np.maximum(bn(a, "bn2"), 0)', 'a = bn(a, "bn2")'))
cat.slip("residual_block_forward", "stride_in_conv2", "block_conv2_stride",
         ('branch = F.conv2d_forward(a, params["conv2.W"], None, 1, 1)[0]',
          'branch = F.conv2d_forward(a, params["conv2.W"], None, stride, 1)[0]'),
         note="gives both convolutions the block's stride")
cat.slip("residual_block_forward", "identity_always", "block_projection_case",
         ('    if needs_projection(x.shape[1], params["conv1.W"].shape[0], stride):\n'
          '        shortcut = projection_shortcut(h, params["projection.W"], stride)\n'
          '    else:\n        shortcut = x\n', '    shortcut = x\n'),
         note="adds x even when its shape differs from the branch's")
cat.slip("residual_block_forward", "no_padding", "block_conv_padding",
         ('a = F.conv2d_forward(h, params["conv1.W"], None, stride, 1)[0]',
          'a = F.conv2d_forward(h, params["conv1.W"], None, stride, 0)[0]'),
         ('branch = F.conv2d_forward(a, params["conv2.W"], None, 1, 1)[0]',
          'branch = F.conv2d_forward(a, params["conv2.W"], None, 1, 0)[0]'))
cat.slip("residual_block_forward", "bn_in_training_mode", "block_bn_eval",
         ("                                   training=False)[0]", "                                   )[0]"),
         note="F.batchnorm_forward's default is training=True: the batch's statistics, and the running "
              "statistics in params updated in place", also=("input_modified",))
