"""Mistake catalog of ex4_pooling: max and average pooling, forward and backward (see catalog/slips.py).

The answers keep the lines the notebook gives (``k = kernel_size`` and ``s``, the stride the windows move by).
"""
import numpy as np

from catalog.slips import Catalog

CATALOG = cat = Catalog("ex4_pooling")


@cat.correct
def maxpool2d_forward(x, kernel_size, stride=None):
    k = kernel_size
    s = k if stride is None else stride
    N, C, H, W = x.shape
    Ho = (H - k) // s + 1
    Wo = (W - k) // s + 1
    out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for i in range(Ho):
        for j in range(Wo):
            window = x[:, :, i * s:i * s + k, j * s:j * s + k]
            out[:, :, i, j] = window.max(axis=(2, 3))
    cache = (x, k, s)
    return out, cache


cat.slip("maxpool2d_forward", "steps_by_kernel", "stride_ignored",
         ("Ho = (H - k) // s + 1", "Ho = (H - k) // k + 1"), ("Wo = (W - k) // s + 1", "Wo = (W - k) // k + 1"),
         ("window = x[:, :, i * s:i * s + k, j * s:j * s + k]", "window = x[:, :, i * k:i * k + k, j * k:j * k + k]"),
         note="moves the windows by the kernel size whatever the stride")
cat.slip("maxpool2d_forward", "size_off_by_one", "output_size_off_by_one",
         ("Ho = (H - k) // s + 1", "Ho = (H - k) // s"), ("Wo = (W - k) // s + 1", "Wo = (W - k) // s"))
cat.slip("maxpool2d_forward", "max_over_everything", "pool_reduce_axes",
         ("out[:, :, i, j] = window.max(axis=(2, 3))", "out[:, :, i, j] = window.max()"),
         note="max() without axis= takes one maximum over the whole batch and every channel")
cat.slip("maxpool2d_forward", "window_start", "pool_window_start",
         ("window = x[:, :, i * s:i * s + k, j * s:j * s + k]", "window = x[:, :, i:i + k, j:j + k]"))
cat.slip("maxpool2d_forward", "zeros_float64", "dtype_changed",
         ("out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)", "out = np.zeros((N, C, Ho, Wo))"))
cat.slip("maxpool2d_forward", "rows_and_columns_swapped", "transposed_axes",
         ("out[:, :, i, j] = window.max(axis=(2, 3))", "out[:, :, j, i] = window.max(axis=(2, 3))"),
         ("out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)", "out = np.zeros((N, C, Wo, Ho), dtype=x.dtype)"),
         note="writes output (i, j) at (j, i)")
cat.slip("maxpool2d_forward", "cache_stride_none", "cache_contract", ("cache = (x, k, s)", "cache = (x, k, stride)"),
         note="keeps the argument stride, None when it was not given, not the stride the windows moved by")


@cat.correct
def maxpool2d_backward(dout, cache):
    x, k, s = cache
    N, C, H, W = x.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    window = x[n, c, i * s:i * s + k, j * s:j * s + k]
                    u, v = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * s + u, j * s + v] += dout[n, c, i, j]
    return dx


cat.slip("maxpool2d_backward", "every_tied_maximum", "maxpool_backward_all_ties",
         ("u, v = np.unravel_index(np.argmax(window), window.shape)\n"
          "                    dx[n, c, i * s + u, j * s + v] += dout[n, c, i, j]",
          "dx[n, c, i * s:i * s + k, j * s:j * s + k] += (window == window.max()) * dout[n, c, i, j]"))
cat.slip("maxpool2d_backward", "split_between_ties", "maxpool_backward_split_ties",
         ("u, v = np.unravel_index(np.argmax(window), window.shape)\n"
          "                    dx[n, c, i * s + u, j * s + v] += dout[n, c, i, j]",
          "is_max = window == window.max()\n"
          "                    dx[n, c, i * s:i * s + k, j * s:j * s + k] += is_max * dout[n, c, i, j] / is_max.sum()"))
cat.slip("maxpool2d_backward", "overwrites", "pool_backward_overwrites",
         ("dx[n, c, i * s + u, j * s + v] += dout[n, c, i, j]",
          "dx[n, c, i * s:i * s + k, j * s:j * s + k] = 0\n"
          "                    dx[n, c, i * s + u, j * s + v] = dout[n, c, i, j]"),
         note="clears the window and writes its gradient: an earlier overlapping window's gradient is lost")
cat.slip("maxpool2d_backward", "window_start", "pool_window_start",
         ("window = x[n, c, i * s:i * s + k, j * s:j * s + k]", "window = x[n, c, i:i + k, j:j + k]"),
         ("dx[n, c, i * s + u, j * s + v]", "dx[n, c, i + u, j + v]"))
cat.slip("maxpool2d_backward", "forgot_dout", "maxpool_backward_forgot_dout",
         ("dx[n, c, i * s + u, j * s + v] += dout[n, c, i, j]", "dx[n, c, i * s + u, j * s + v] += 1"))
cat.written("maxpool2d_backward", "last_tied_maximum", "maxpool_backward_last_tie", """
    def maxpool2d_backward(dout, cache):
        x, k, s = cache
        N, C, H, W = x.shape
        dx = np.zeros_like(x)
        for n in range(N):
            for c in range(C):
                for i in range(dout.shape[2]):
                    for j in range(dout.shape[3]):
                        best, bu, bv = -np.inf, 0, 0
                        for u in range(k):
                            for v in range(k):
                                if x[n, c, i * s + u, j * s + v] >= best:
                                    best, bu, bv = x[n, c, i * s + u, j * s + v], u, v
                        dx[n, c, i * s + bu, j * s + bv] += dout[n, c, i, j]
        return dx
    """, note=">= keeps the last of several equal maxima; forward's argmax picks the first")
cat.slip("maxpool2d_backward", "zeros_float64", "dtype_changed", ("dx = np.zeros_like(x)", "dx = np.zeros((N, C, H, W))"))


@cat.correct
def avgpool2d_forward(x, kernel_size, stride=None):
    k = kernel_size
    s = k if stride is None else stride
    N, C, H, W = x.shape
    Ho = (H - k) // s + 1
    Wo = (W - k) // s + 1
    out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * s:i * s + k, j * s:j * s + k].sum(axis=(2, 3)) / (k * k)
    cache = (x, k, s)
    return out, cache


cat.slip("avgpool2d_forward", "steps_by_kernel", "stride_ignored",
         ("Ho = (H - k) // s + 1", "Ho = (H - k) // k + 1"), ("Wo = (W - k) // s + 1", "Wo = (W - k) // k + 1"),
         ("x[:, :, i * s:i * s + k, j * s:j * s + k]", "x[:, :, i * k:i * k + k, j * k:j * k + k]"))
cat.slip("avgpool2d_forward", "size_off_by_one", "output_size_off_by_one",
         ("Ho = (H - k) // s + 1", "Ho = (H - k + 1) // s"), ("Wo = (W - k) // s + 1", "Wo = (W - k + 1) // s"),
         note="counts the positions as (H - k + 1) and divides by the stride")
cat.slip("avgpool2d_forward", "sum_not_mean", "avgpool_divisor", (".sum(axis=(2, 3)) / (k * k)", ".sum(axis=(2, 3))"))
cat.slip("avgpool2d_forward", "divided_by_k", "avgpool_divisor", (".sum(axis=(2, 3)) / (k * k)", ".sum(axis=(2, 3)) / k"))
cat.slip("avgpool2d_forward", "mean_over_everything", "pool_reduce_axes",
         (".sum(axis=(2, 3)) / (k * k)", ".mean()"))
cat.slip("avgpool2d_forward", "window_start", "pool_window_start",
         ("x[:, :, i * s:i * s + k, j * s:j * s + k]", "x[:, :, i:i + k, j:j + k]"))
cat.slip("avgpool2d_forward", "zeros_float64", "dtype_changed",
         ("out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)", "out = np.zeros((N, C, Ho, Wo))"))
cat.slip("avgpool2d_forward", "loop_past_the_end", "index_past_end", ("for i in range(Ho):", "for i in range(Ho + 1):"),
         note="one row too many: the loop writes past the end of out")
cat.slip("avgpool2d_forward", "cache_stride_none", "cache_contract", ("cache = (x, k, s)", "cache = (x, k, stride)"))


@cat.correct
def avgpool2d_backward(dout, cache):
    x, k, s = cache
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx[:, :, i * s:i * s + k, j * s:j * s + k] += dout[:, :, i, j][:, :, None, None] / (k * k)
    return dx


cat.slip("avgpool2d_backward", "not_scaled", "avgpool_backward_not_scaled",
         ("dout[:, :, i, j][:, :, None, None] / (k * k)", "dout[:, :, i, j][:, :, None, None]"))
cat.slip("avgpool2d_backward", "divided_by_k", "avgpool_backward_not_scaled",
         ("dout[:, :, i, j][:, :, None, None] / (k * k)", "dout[:, :, i, j][:, :, None, None] / k"))
cat.slip("avgpool2d_backward", "overwrites", "pool_backward_overwrites",
         ("dx[:, :, i * s:i * s + k, j * s:j * s + k] += ", "dx[:, :, i * s:i * s + k, j * s:j * s + k] = "))
cat.slip("avgpool2d_backward", "window_start", "pool_window_start",
         ("dx[:, :, i * s:i * s + k, j * s:j * s + k]", "dx[:, :, i:i + k, j:j + k]"))
cat.slip("avgpool2d_backward", "zeros_float64", "dtype_changed", ("dx = np.zeros_like(x)", "dx = np.zeros(x.shape)"))
cat.slip("avgpool2d_backward", "dout_not_spread", "pool_backward_broadcast",
         ("dout[:, :, i, j][:, :, None, None] / (k * k)", "dout[:, :, i, j] / (k * k)"),
         note="dout[:, :, i, j] has shape (N, C): lined up with the window's last two axes, not spread over them")
