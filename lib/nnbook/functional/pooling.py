"""Max and average pooling over (kh, kw) windows, NCHW, no padding.

Both loop over the kh*kw kernel offsets (see ``_windows``), never over pixels.
Output size: ``Ho = (H - kh) // sh + 1``, ``Wo = (W - kw) // sw + 1``; ``stride``
defaults to ``kernel_size`` (non-overlapping windows), as in PyTorch.
"""
import numpy as np

from .._checks import as_pair, check_array, check_cache, check_dout, conv_output_size
from ._windows import offset_slices


def _geometry(x, kernel_size, stride, who):
    check_array(x, who, "x", ndim=4)
    kernel = as_pair(kernel_size, who, "kernel_size")
    stride = kernel if stride is None else as_pair(stride, who, "stride")
    H, W = x.shape[2:]
    out_size = (conv_output_size(H, kernel[0], stride[0], 0, who),
                conv_output_size(W, kernel[1], stride[1], 0, who))
    return kernel, stride, out_size


def maxpool2d_forward(x, kernel_size, stride=None):
    """Largest value of each window.

    Args:
        x: input, shape (N, C, H, W).
        kernel_size, stride: int or (h, w) pair; ``stride=None`` means ``kernel_size``.
    Returns:
        out: shape (N, C, Ho, Wo).
        cache: ``(x, out, kernel, stride)`` for :func:`maxpool2d_backward`.
    """
    kernel, stride, out_size = _geometry(x, kernel_size, stride, "maxpool2d_forward")
    out = None
    for _, _, (rows, cols) in offset_slices(kernel, stride, out_size):
        window = x[:, :, rows, cols]
        if out is None:
            out = window.copy()
        else:
            np.maximum(out, window, out=out)
    return out, (x, out, kernel, stride)


def maxpool2d_backward(dout, cache):
    """Gradient of :func:`maxpool2d_forward`: each window's dout goes to its *first* maximum.

    Offsets are visited in row-major order; the first one whose input equals the window's
    maximum takes the gradient (``taken`` keeps later ties out), as PyTorch does.

    Args:
        dout: shape (N, C, Ho, Wo).
    Returns:
        dx: shape (N, C, H, W).
    """
    who = "maxpool2d_backward"
    check_cache(cache, who, 4)
    x, out, kernel, stride = cache
    check_dout(dout, out.shape, who)
    dx = np.zeros(x.shape, dtype=dout.dtype)
    taken = np.zeros(out.shape, dtype=bool)
    hit = np.empty(out.shape, dtype=bool)
    overlapping = stride[0] < kernel[0] or stride[1] < kernel[1]
    for _, _, (rows, cols) in offset_slices(kernel, stride, out.shape[2:]):
        np.equal(x[:, :, rows, cols], out, out=hit)
        hit &= ~taken
        taken |= hit
        if overlapping:            # windows share pixels: add up
            dx[:, :, rows, cols] += np.where(hit, dout, 0)
        else:                      # each pixel is in at most one window
            np.multiply(dout, hit, out=dx[:, :, rows, cols])
    return dx


def avgpool2d_forward(x, kernel_size, stride=None):
    """Mean of each window.

    Args:
        x: input, shape (N, C, H, W).
        kernel_size, stride: int or (h, w) pair; ``stride=None`` means ``kernel_size``.
    Returns:
        out: shape (N, C, Ho, Wo); cache for :func:`avgpool2d_backward`.
    """
    kernel, stride, out_size = _geometry(x, kernel_size, stride, "avgpool2d_forward")
    out = np.zeros(x.shape[:2] + out_size, dtype=x.dtype)
    for _, _, (rows, cols) in offset_slices(kernel, stride, out_size):
        out += x[:, :, rows, cols]
    out /= kernel[0] * kernel[1]
    return out, (x.shape, kernel, stride)


def avgpool2d_backward(dout, cache):
    """Gradient of :func:`avgpool2d_forward`: each window shares dout equally.

    Args:
        dout: shape (N, C, Ho, Wo).
    Returns:
        dx: shape (N, C, H, W).
    """
    who = "avgpool2d_backward"
    check_cache(cache, who, 3)
    x_shape, kernel, stride = cache
    H, W = x_shape[2:]
    out_size = ((H - kernel[0]) // stride[0] + 1, (W - kernel[1]) // stride[1] + 1)
    check_dout(dout, x_shape[:2] + out_size, who)
    share = dout / (kernel[0] * kernel[1])
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for _, _, (rows, cols) in offset_slices(kernel, stride, out_size):
        dx[:, :, rows, cols] += share
    return dx
