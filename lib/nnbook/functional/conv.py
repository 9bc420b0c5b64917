"""2-D convolution (cross-correlation, as in PyTorch's ``conv2d``), NCHW.

Forward is *im2col*: the input patches are copied into a matrix ``cols`` of
shape (C*kh*kw, N*Ho*Wo), one strided slice per kernel offset, and the whole
convolution becomes one matrix product ``W.reshape(F, -1) @ cols``.
Backward reuses ``cols`` for dW and scatters ``W.T @ dout`` back per offset (col2im).
"""
import numpy as np

from .._checks import as_pair, check_array, check_cache, check_dout, check_shape, conv_output_size
from ._windows import offset_slices


def _pad(x, ph, pw):
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def conv2d_forward(x, W, b, stride=1, padding=0):
    """Convolve a batch of images with F filters.

    ``out[n, f, y, x] = b[f] + sum_{c,i,j} W[f, c, i, j] * xpad[n, c, y*sh + i, x*sw + j]``

    Args:
        x: input, shape (N, C, H, W).
        W: filters, shape (F, C, kh, kw).
        b: bias, shape (F,), or None for no bias.
        stride, padding: int or (h, w) pair; zero padding on both sides.
    Returns:
        out: shape (N, F, Ho, Wo) with ``Ho = (H + 2*ph - kh) // sh + 1``
            and ``Wo = (W + 2*pw - kw) // sw + 1``.
        cache: for :func:`conv2d_backward`.
    """
    who = "conv2d_forward"
    check_array(x, who, "x", ndim=4)
    check_array(W, who, "W", ndim=4)
    N, C, H, Wd = x.shape
    F, Cw, kh, kw = W.shape
    if Cw != C:
        raise ValueError(f"{who}: x has {C} channels (shape {x.shape}) but W expects {Cw} "
                         f"(W shape (F, C, kh, kw) = {W.shape})")
    if b is not None:
        check_array(b, who, "b", ndim=1)
        check_shape(b, (F,), who, "b")
    sh, sw = as_pair(stride, who, "stride")
    ph, pw = as_pair(padding, who, "padding")
    Ho = conv_output_size(H, kh, sh, ph, who)
    Wo = conv_output_size(Wd, kw, sw, pw, who)

    # im2col: cols[c, i, j, n, y, x] = xpad[n, c, y*sh + i, x*sw + j]
    xpad_t = _pad(x, ph, pw).transpose(1, 0, 2, 3)            # (C, N, Hp, Wp) view
    cols = np.empty((C, kh, kw, N, Ho, Wo), dtype=x.dtype)
    for _, (i, j), (rows, cs) in offset_slices((kh, kw), (sh, sw), (Ho, Wo)):
        cols[:, i, j] = xpad_t[:, :, rows, cs]
    cols = cols.reshape(C * kh * kw, N * Ho * Wo)

    out_t = (W.reshape(F, -1).astype(x.dtype, copy=False) @ cols).reshape(F, N, Ho, Wo)
    out = np.empty((N, F, Ho, Wo), dtype=x.dtype)
    if b is None:
        np.copyto(out, out_t.transpose(1, 0, 2, 3))
    else:
        np.add(out_t.transpose(1, 0, 2, 3), b.astype(x.dtype, copy=False)[:, None, None], out=out)
    cache = (x.shape, W, b is not None, cols, (sh, sw), (ph, pw))
    return out, cache


def conv2d_backward(dout, cache):
    """Gradients of :func:`conv2d_forward`.

    Args:
        dout: upstream gradient, shape (N, F, Ho, Wo).
        cache: from :func:`conv2d_forward`.
    Returns:
        dx: shape (N, C, H, W); dW: shape (F, C, kh, kw); db: shape (F,) (None if no bias).
    """
    who = "conv2d_backward"
    check_cache(cache, who, 6)
    x_shape, W, has_bias, cols, (sh, sw), (ph, pw) = cache
    N, C, H, Wd = x_shape
    F, _, kh, kw = W.shape
    Ho = (H + 2 * ph - kh) // sh + 1
    Wo = (Wd + 2 * pw - kw) // sw + 1
    check_dout(dout, (N, F, Ho, Wo), who)

    dout_t = dout.transpose(1, 0, 2, 3).reshape(F, N * Ho * Wo)   # (F, N*Ho*Wo) copy
    db = dout_t.sum(axis=1) if has_bias else None
    dW = (dout_t @ cols.T).reshape(W.shape)
    dcols = (W.reshape(F, -1).T.astype(dout.dtype, copy=False) @ dout_t).reshape(C, kh, kw, N, Ho, Wo)

    # col2im: add each offset's patch gradient back where it came from
    dxpad_t = np.zeros((C, N, H + 2 * ph, Wd + 2 * pw), dtype=dout.dtype)
    for _, (i, j), (rows, cs) in offset_slices((kh, kw), (sh, sw), (Ho, Wo)):
        dxpad_t[:, :, rows, cs] += dcols[:, i, j]
    dx = np.ascontiguousarray(dxpad_t[:, :, ph:ph + H, pw:pw + Wd].transpose(1, 0, 2, 3))
    return dx, dW, db
