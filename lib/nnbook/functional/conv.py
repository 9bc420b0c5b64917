"""2-D convolution (cross-correlation, as in PyTorch's ``conv2d``), NCHW.

Two formulations, both loops over the kh*kw kernel offsets only, each a few matrix
products; :func:`conv2d_forward` picks the faster one for the shapes at hand.

* **im2col** (any stride): the input patches are copied into a matrix ``cols`` of
  shape (C*kh*kw, N*Ho*Wo), one strided slice per kernel offset, and the whole
  convolution is one product with ``W.reshape(F, -1)``. Backward reuses ``cols`` for
  dW and scatters ``W.T @ dout`` back per offset (col2im) for dx. For small images the
  working copies keep the batch as the last axis (long contiguous runs to copy). The bias
  rides along as the weight of an extra all-ones row of ``cols``, so the same products
  add it in the forward pass and sum ``dout`` into db in the backward pass.
* **shifted** (stride 1, 8 or more channels, maps of about 16x16 and up): flatten the
  zero-padded input to (C, N*Hp*Wp). On that flat grid the pixel seen by kernel offset
  (i, j) is the pixel ``i*Wp + j`` columns further on, so each offset's contribution is
  ``W[:, :, i, j] @ xflat[:, shift:shift + L]``, a product on a *view*. The outputs that
  wrap around a row or image edge are computed and dropped. Block by block, the kh*kw
  shifted views are stacked into one cache-sized matrix so that a single product sums
  them. dx is the same trick run backwards (a transposed convolution); dW adds up the
  products of the same stacked blocks with the matching columns of dout.
"""
import sys
import threading

import numpy as np

from .._checks import as_pair, check_array, check_cache, check_dout, check_shape, conv_output_size
from ._windows import offset_slices

_local = threading.local()
_CHUNK = 512           # columns per block in the shifted method: keeps the stacked slices in cache


def _scratch(name, shape, dtype):
    """A reusable work array for temporaries that never leave this module.

    Fresh large arrays cost page faults on first touch (a noticeable part of a big
    convolution), so temporaries are kept per thread and reused.
    """
    pool = _local.__dict__.setdefault("pool", {})
    buf = pool.get(name)
    size = int(np.prod(shape))
    if buf is None or buf.dtype != dtype or buf.size < size:
        buf = pool[name] = np.empty(size, dtype=dtype)
    return buf[:size].reshape(shape)


def _recycled(name, shape, dtype):
    """A work array that outlives the call (it goes into the cache), reused once nothing holds it.

    An array in the pool whose only owner is the pool (checked by its reference count)
    is free: the forward pass whose cache held it has been dropped or replaced.
    """
    pool = _local.__dict__.setdefault("recycled", {}).setdefault((name, shape, np.dtype(dtype)), [])
    for buf in pool:
        if sys.getrefcount(buf) <= 3:        # the pool's list, the loop variable, getrefcount's argument
            return buf
    if len(pool) < 4:
        pool.append(np.empty(shape, dtype=dtype))
        return pool[-1]
    return np.empty(shape, dtype=dtype)


def _use_shifted(C, F, stride, padded_size, out_size):
    """The shifted method wins for stride 1 when the input has enough channels for its
    stacked products (measured: from about 8) and the padded grid it computes on is not
    much larger than the output (3x3 on 16x16 maps and up; 15x15 is still im2col's)."""
    waste = padded_size[0] * padded_size[1] / (out_size[0] * out_size[1])
    return stride == (1, 1) and C >= 8 and waste <= 1.28


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
    stride, padding = as_pair(stride, who, "stride"), as_pair(padding, who, "padding")
    out_size = (conv_output_size(H, kh, stride[0], padding[0], who),
                conv_output_size(Wd, kw, stride[1], padding[1], who))
    W = W.astype(x.dtype, copy=False)
    b = None if b is None else b.astype(x.dtype, copy=False)
    if _use_shifted(C, F, stride, (H + 2 * padding[0], Wd + 2 * padding[1]), out_size):
        out, saved = _shifted_forward(x, W, b, padding, out_size)
    else:
        out, saved = _im2col_forward(x, W, b, stride, padding, out_size)
    return out, (x.shape, W, b is not None, stride, padding, saved)


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
    x_shape, W, has_bias, stride, padding, saved = cache
    N, C, H, Wd = x_shape
    F, _, kh, kw = W.shape
    out_size = ((H + 2 * padding[0] - kh) // stride[0] + 1, (Wd + 2 * padding[1] - kw) // stride[1] + 1)
    check_dout(dout, (N, F) + out_size, who)
    if _use_shifted(C, F, stride, (H + 2 * padding[0], Wd + 2 * padding[1]), out_size):
        return _shifted_backward(dout, x_shape, W, has_bias, padding, saved)
    return _im2col_backward(dout, x_shape, W, has_bias, stride, padding, saved)


# --- im2col ----------------------------------------------------------------------------
# Working layout of the padded input: channels first, then either (N, Hp, Wp) or, for
# small images, (Hp, Wp, N). With the batch last, each kernel offset's slice is a long
# contiguous run (Wo * N values) instead of a short row of Wo values, which makes the
# im2col / col2im copies about twice as fast on 14x14 or smaller maps.

def _batch_last(H, W):
    return H * W <= 256


def _window(rows, cols, batch_last):
    """Index of one kernel offset's slice in the working layout."""
    return (slice(None), rows, cols, slice(None)) if batch_last else (slice(None), slice(None), rows, cols)


def _im2col_forward(x, W, b, stride, padding, out_size):
    (N, C, H, Wd), (F, _, kh, kw), (ph, pw), (Ho, Wo) = x.shape, W.shape, padding, out_size
    last = _batch_last(H, Wd)
    Hp, Wp = H + 2 * ph, Wd + 2 * pw
    xpad = _scratch("xpad", (C, Hp, Wp, N) if last else (C, N, Hp, Wp), x.dtype)
    if ph or pw:
        xpad.fill(0)
    inner = _window(slice(ph, ph + H), slice(pw, pw + Wd), last)
    xpad[inner] = x.transpose(1, 2, 3, 0) if last else x.transpose(1, 0, 2, 3)
    # cols[c, i, j, positions] = xpad[c, positions shifted by (i, j)]; with a bias, one more
    # row of ones: the bias is then the weight of a constant input, and the products below
    # add it (forward) and sum dout for db (backward) on their own
    K = C * kh * kw
    cols = _recycled("cols", (K + (b is not None), N * Ho * Wo), x.dtype)
    patches = cols[:K].reshape((C, kh, kw) + ((Ho, Wo, N) if last else (N, Ho, Wo)))
    for _, (i, j), (rows, cs) in offset_slices((kh, kw), stride, out_size):
        patches[:, i, j] = xpad[_window(rows, cs, last)]
    weights = W.reshape(F, K).T
    if b is not None:
        cols[K] = 1
        weights = np.concatenate([weights, b[None, :]])
    # one product, (positions, K) @ (K, F): the faster orientation here
    out_t = np.matmul(cols.T, weights, out=_scratch("out", (N * Ho * Wo, F), x.dtype))
    # to (N, Ho*Wo, F), then to NCHW: two transposes with short strides beat one with a long one
    if last:
        by_image = _scratch("by_image", (N, Ho * Wo, F), x.dtype)
        np.copyto(by_image, out_t.reshape(Ho * Wo, N, F).transpose(1, 0, 2))
    else:
        by_image = out_t.reshape(N, Ho * Wo, F)
    out = np.empty((N, F, Ho, Wo), dtype=x.dtype)
    np.copyto(out.reshape(N, F, Ho * Wo), by_image.transpose(0, 2, 1))
    return out, cols


def _im2col_backward(dout, x_shape, W, has_bias, stride, padding, cols):
    (N, C, H, Wd), (F, _, kh, kw), (ph, pw) = x_shape, W.shape, padding
    Ho, Wo = dout.shape[2:]
    last = _batch_last(H, Wd)
    dout_t = _scratch("dout", (F, Ho, Wo, N) if last else (F, N, Ho, Wo), dout.dtype)
    dout_t[...] = dout.transpose(1, 2, 3, 0) if last else dout.transpose(1, 0, 2, 3)
    dout_t = dout_t.reshape(F, N * Ho * Wo)
    K = C * kh * kw
    dweights = cols @ dout_t.T                      # (K, F), and db in row K when there is a bias
    dW = dweights[:K].T.reshape(W.shape)
    db = dweights[K].copy() if has_bias else None
    dcols = np.matmul(W.reshape(F, K).T, dout_t, out=_scratch("dcols", (K, N * Ho * Wo), dout.dtype))
    dcols = dcols.reshape((C, kh, kw) + ((Ho, Wo, N) if last else (N, Ho, Wo)))
    # col2im: add each offset's patch gradient back where the patch came from
    Hp, Wp = H + 2 * ph, Wd + 2 * pw
    dxpad = _scratch("dxpad", (C, Hp, Wp, N) if last else (C, N, Hp, Wp), dout.dtype)
    dxpad.fill(0)
    for _, (i, j), (rows, cs) in offset_slices((kh, kw), stride, (Ho, Wo)):
        dxpad[_window(rows, cs, last)] += dcols[:, i, j]
    inner = dxpad[_window(slice(ph, ph + H), slice(pw, pw + Wd), last)]
    dx = np.empty((N, C, H, Wd), dtype=dout.dtype)
    np.copyto(dx, inner.transpose(3, 0, 1, 2) if last else inner.transpose(1, 0, 2, 3))
    return dx, dW, db


# --- shifted (stride 1) -------------------------------------------------------------------

def _flat_geometry(x_shape, W_shape, padding):
    (N, C, H, Wd), (F, _, kh, kw), (ph, pw) = x_shape, W_shape, padding
    Hp, Wp = H + 2 * ph, Wd + 2 * pw
    return Hp, Wp, N * Hp * Wp, (kh - 1) * Wp + (kw - 1)        # ..., L, largest shift


def _shifted_blocks(src, base, shifts, L):
    """Yield ``(s, e, block)`` for column blocks [s, e) of at most ``_CHUNK`` columns, with
    ``block[k*rows + r, p] = src[r, base + shifts[k] + s + p]``: the shifted views of
    ``src`` (rows, ...) stacked into one matrix small enough to stay in cache. One long
    product with a stacked block is faster than one short product per shift."""
    rows = src.shape[0]
    stack = _scratch("shift_stack", (len(shifts), rows, min(_CHUNK, L)), src.dtype)
    stacked = stack.reshape(len(shifts) * rows, -1)
    for s in range(0, L, _CHUNK):
        e = min(L, s + _CHUNK)
        for k, shift in enumerate(shifts):
            stack[k, :, :e - s] = src[:, base + shift + s: base + shift + e]
        yield s, e, stacked[:, :e - s]


def _shifted_sum(weights, src, base, shifts, out):
    """``out[:, p] = sum_k weights[k] @ src[:, base + shifts[k] + p]``, one product per block."""
    K, F, rows = weights.shape
    side_by_side = weights.transpose(1, 0, 2).reshape(F, K * rows)
    for s, e, block in _shifted_blocks(src, base, shifts, out.shape[1]):
        np.matmul(side_by_side, block, out=out[:, s:e])


def _shifted_forward(x, W, b, padding, out_size):
    (N, C, H, Wd), (F, _, kh, kw), (ph, pw), (Ho, Wo) = x.shape, W.shape, padding, out_size
    Hp, Wp, L, max_shift = _flat_geometry(x.shape, W.shape, padding)
    xflat = np.zeros((C, L + max_shift), dtype=x.dtype)      # kept for dW
    xflat[:, :L].reshape(C, N, Hp, Wp)[:, :, ph:ph + H, pw:pw + Wd] = x.transpose(1, 0, 2, 3)
    shifts = [i * Wp + j for i in range(kh) for j in range(kw)]
    weights = W.transpose(2, 3, 0, 1).reshape(kh * kw, F, C)
    out_flat = _scratch("out_flat", (F, L), x.dtype)
    _shifted_sum(weights, xflat, 0, shifts, out_flat)
    out = np.ascontiguousarray(out_flat.reshape(F, N, Hp, Wp)[:, :, :Ho, :Wo].transpose(1, 0, 2, 3))
    if b is not None:
        out += b[:, None, None]
    return out, xflat


def _shifted_backward(dout, x_shape, W, has_bias, padding, xflat):
    (N, C, H, Wd), (F, _, kh, kw), (ph, pw) = x_shape, W.shape, padding
    Ho, Wo = dout.shape[2:]
    Hp, Wp, L, max_shift = _flat_geometry(x_shape, W.shape, padding)
    shifts = [i * Wp + j for i in range(kh) for j in range(kw)]
    # dout on the flat padded grid, zero where no output exists, with max_shift zeros on each side
    dflat = _scratch("dflat", (F, L + 2 * max_shift), dout.dtype)
    dflat.fill(0)
    dflat[:, max_shift:max_shift + L].reshape(F, N, Hp, Wp)[:, :, :Ho, :Wo] = dout.transpose(1, 0, 2, 3)
    dvalid = dflat[:, max_shift:max_shift + L]
    db = dvalid.sum(axis=1) if has_bias else None
    # dW[:, :, i, j].T = sum_p xflat[:, shift + p] dvalid[:, p].T, block by block
    dW_t = np.zeros((kh * kw * C, F), dtype=dout.dtype)
    part = _scratch("dW_part", dW_t.shape, dout.dtype)
    for s, e, block in _shifted_blocks(xflat, 0, shifts, L):
        dW_t += np.matmul(block, dvalid[:, s:e].T, out=part)
    dW = dW_t.reshape(kh, kw, C, F).transpose(3, 2, 0, 1).copy()
    # dx[:, q] = sum_k W_k.T @ dout[:, q - shift_k]   (a transposed convolution)
    weights_t = W.transpose(2, 3, 1, 0).reshape(kh * kw, C, F)
    dx_flat = _scratch("dx_flat", (C, L), dout.dtype)
    _shifted_sum(weights_t, dflat, max_shift, [-s for s in shifts], dx_flat)
    dx = np.ascontiguousarray(dx_flat.reshape(C, N, Hp, Wp)[:, :, ph:ph + H, pw:pw + Wd].transpose(1, 0, 2, 3))
    return dx, dW, db
