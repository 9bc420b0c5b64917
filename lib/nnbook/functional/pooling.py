"""Max and average pooling over (kh, kw) windows, NCHW, as in PyTorch's ``max_pool2d`` and
``avg_pool2d``.

Both loop over the kh*kw kernel offsets (see ``_windows``), never over pixels.
``stride`` defaults to ``kernel_size`` (non-overlapping windows), as in PyTorch.

Output size, per axis, for an input of size ``n``, kernel ``k``, stride ``s``, padding ``p``:

* ``ceil_mode=False`` (default): ``(n + 2p - k) // s + 1``, the convolution's formula;
* ``ceil_mode=True``: ``ceil((n + 2p - k) / s) + 1``: one more window when rows are left
  over, which may hang over the end of the padded input; as in PyTorch, a window that would
  start in the bottom/right padding is dropped, so every window holds at least one input value.

Padding is implicit and ``p <= k // 2`` (PyTorch's rule). Max pooling pads with -inf (padding
never wins). Average pooling pads with zeros; ``count_include_pad=True`` (default) divides
by the window's size counted up to the end of the padded input (``k * k`` in floor mode),
``count_include_pad=False`` by the number of input values in the window.

nnbook's max pooling does not store the winners' positions: its backward pass finds them again
by comparing each offset's slice with the output (PyTorch stores an index per output instead).
"""
import numpy as np

from .._checks import as_pair, check_array, check_cache, check_dout, conv_output_size
from ._windows import offset_slices


def pool_output_size(size, kernel, stride, padding, ceil_mode, who):
    """Number of windows along one axis (see the module docstring); checked to be >= 1."""
    floor = conv_output_size(size, kernel, stride, padding, who)
    if not ceil_mode:
        return floor
    out = -(-(size + 2 * padding - kernel) // stride) + 1          # ceil division
    if (out - 1) * stride >= size + padding:                          # would start in the far padding
        out -= 1
    return out


def _geometry(x, kernel_size, stride, padding, ceil_mode, who):
    check_array(x, who, "x", ndim=4)
    kernel = as_pair(kernel_size, who, "kernel_size")
    stride = kernel if stride is None else as_pair(stride, who, "stride")
    padding = as_pair(padding, who, "padding")
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{who}: padding must be at most half the kernel size (as in PyTorch), "
                         f"got padding {padding} for kernel_size {kernel}")
    if not isinstance(ceil_mode, (bool, np.bool_)):
        raise TypeError(f"{who}: ceil_mode must be True or False, got {ceil_mode!r}")
    H, W = x.shape[2:]
    out_size = tuple(pool_output_size(n, k, s, p, bool(ceil_mode), who)
                     for n, k, s, p in zip((H, W), kernel, stride, padding))
    return kernel, stride, padding, out_size


def _padded(x, kernel, stride, padding, out_size, fill):
    """``x`` inside a canvas just large enough for every window: ``padding`` rows/columns of
    ``fill`` before, and after as many as the windows reach (at least ``padding``)."""
    H, W = x.shape[2:]
    need = [(o - 1) * s + k for o, s, k in zip(out_size, stride, kernel)]       # extent of the windows
    after = [max(p, e - n - p) for p, e, n in zip(padding, need, (H, W))]
    if not any(padding) and not any(after):
        return x
    xp = np.full(x.shape[:2] + (H + padding[0] + after[0], W + padding[1] + after[1]), fill, dtype=x.dtype)
    xp[:, :, padding[0]:padding[0] + H, padding[1]:padding[1] + W] = x
    return xp


def _crop(dxp, x_shape, padding):
    H, W = x_shape[2:]
    if dxp.shape == tuple(x_shape):
        return dxp
    return np.ascontiguousarray(dxp[:, :, padding[0]:padding[0] + H, padding[1]:padding[1] + W])


def maxpool2d_forward(x, kernel_size, stride=None, padding=0, ceil_mode=False):
    """Largest value of each window.

    Args:
        x: input, shape (N, C, H, W).
        kernel_size, stride: int or (h, w) pair; ``stride=None`` means ``kernel_size``.
        padding: int or (h, w) pair, at most half the kernel; padded values are -inf.
        ceil_mode: round the number of windows up instead of down (see the module docstring).
    Returns:
        out: shape (N, C, Ho, Wo), ``Ho = (H + 2*ph - kh) // sh + 1`` without ``ceil_mode``.
        cache: ``(x or its padded copy, out, kernel, stride, padding, x.shape)`` for
            :func:`maxpool2d_backward`, which finds each window's winner again from it.
    """
    kernel, stride, padding, out_size = _geometry(x, kernel_size, stride, padding, ceil_mode,
                                                  "maxpool2d_forward")
    xp = _padded(x, kernel, stride, padding, out_size, -np.inf)
    out = None
    for _, _, (rows, cols) in offset_slices(kernel, stride, out_size):
        window = xp[:, :, rows, cols]
        if out is None:
            out = window.copy()
        else:
            np.maximum(out, window, out=out)
    return out, (xp, out, kernel, stride, padding, x.shape)


def maxpool2d_backward(dout, cache):
    """Gradient of :func:`maxpool2d_forward`: each window's dout goes to its *first* maximum.

    The forward pass keeps no winner positions: this pass visits the kernel offsets in
    row-major order and compares each offset's slice of the input with the output; the first
    offset whose input equals the window's maximum takes the gradient (``taken`` keeps later
    ties out), as PyTorch does.

    Args:
        dout: shape (N, C, Ho, Wo).
    Returns:
        dx: shape (N, C, H, W).
    """
    who = "maxpool2d_backward"
    check_cache(cache, who, 6)
    xp, out, kernel, stride, padding, x_shape = cache
    check_dout(dout, out.shape, who)
    dx = np.zeros(xp.shape, dtype=dout.dtype)
    taken = np.zeros(out.shape, dtype=bool)
    hit = np.empty(out.shape, dtype=bool)
    overlapping = stride[0] < kernel[0] or stride[1] < kernel[1]
    for _, _, (rows, cols) in offset_slices(kernel, stride, out.shape[2:]):
        np.equal(xp[:, :, rows, cols], out, out=hit)
        hit &= ~taken
        taken |= hit
        if overlapping:            # windows share pixels: add up
            dx[:, :, rows, cols] += np.where(hit, dout, 0)
        else:                      # each pixel is in at most one window
            np.multiply(dout, hit, out=dx[:, :, rows, cols])
    return _crop(dx, x_shape, padding)


def _divisor(x_shape, kernel, stride, padding, out_size, count_include_pad):
    """What each window's sum is divided by: a number, or an array (Ho, Wo) when windows differ."""
    counts = []
    for n, k, s, p, o in zip(x_shape[2:], kernel, stride, padding, out_size):
        start = np.arange(o) * s - p                       # window start, in input coordinates
        end = np.minimum(start + k, n + p)                 # clipped to the end of the padded input
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        counts.append(end - start)
    div = np.outer(counts[0], counts[1]).astype(np.float64)
    return float(div[0, 0]) if np.all(div == div[0, 0]) else div


def avgpool2d_forward(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean of each window.

    Args:
        x: input, shape (N, C, H, W).
        kernel_size, stride: int or (h, w) pair; ``stride=None`` means ``kernel_size``.
        padding: int or (h, w) pair, at most half the kernel; padded values are 0.
        ceil_mode: round the number of windows up instead of down (see the module docstring).
        count_include_pad: divide by the window size including padding (True, PyTorch's
            default) or by the number of input values in the window (False).
    Returns:
        out: shape (N, C, Ho, Wo); cache for :func:`avgpool2d_backward`.
    """
    kernel, stride, padding, out_size = _geometry(x, kernel_size, stride, padding, ceil_mode,
                                                  "avgpool2d_forward")
    if not isinstance(count_include_pad, (bool, np.bool_)):
        raise TypeError(f"avgpool2d_forward: count_include_pad must be True or False, got {count_include_pad!r}")
    xp = _padded(x, kernel, stride, padding, out_size, 0.0)
    out = np.zeros(x.shape[:2] + out_size, dtype=x.dtype)
    for _, _, (rows, cols) in offset_slices(kernel, stride, out_size):
        out += xp[:, :, rows, cols]
    div = _divisor(x.shape, kernel, stride, padding, out_size, bool(count_include_pad))
    out /= div if np.isscalar(div) else div.astype(x.dtype)
    return out, (x.shape, xp.shape, kernel, stride, padding, out_size, div)


def avgpool2d_backward(dout, cache):
    """Gradient of :func:`avgpool2d_forward`: each window shares dout equally among the
    values it divided by.

    Args:
        dout: shape (N, C, Ho, Wo).
    Returns:
        dx: shape (N, C, H, W).
    """
    who = "avgpool2d_backward"
    check_cache(cache, who, 7)
    x_shape, padded_shape, kernel, stride, padding, out_size, div = cache
    check_dout(dout, x_shape[:2] + out_size, who)
    share = dout / (div if np.isscalar(div) else div.astype(dout.dtype))
    dx = np.zeros(padded_shape, dtype=dout.dtype)
    for _, _, (rows, cols) in offset_slices(kernel, stride, out_size):
        dx[:, :, rows, cols] += share
    return _crop(dx, x_shape, padding)
