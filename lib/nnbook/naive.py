"""Loop versions that follow the definitions one pixel at a time, as a learner first writes them.

They are slow on purpose: the tests use them as an independent check of the fast
ops in :mod:`nnbook.functional`, and the benchmarks as the "naive" baseline.
Same signatures and results as the functional versions (forward returns ``out, cache``).
"""
import numpy as np

from ._checks import as_pair


def conv2d_forward(x, W, b, stride=1, padding=0):
    """Shape: x (N, C, H, W), W (F, C, kh, kw), b (F,) -> (N, F, Ho, Wo)."""
    (sh, sw), (ph, pw) = as_pair(stride, "naive", "stride"), as_pair(padding, "naive", "padding")
    N, C, H, Wd = x.shape
    F, _, kh, kw = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (Wd + 2 * pw - kw) // sw + 1
    out = np.zeros((N, F, Ho, Wo), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    patch = xp[n, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    out[n, f, i, j] = np.sum(patch * W[f]) + (0 if b is None else b[f])
    return out, (x, W, b, (sh, sw), (ph, pw))


def conv2d_backward(dout, cache):
    """Returns dx (N, C, H, W), dW (F, C, kh, kw), db (F,)."""
    x, W, b, (sh, sw), (ph, pw) = cache
    N, C, H, Wd = x.shape
    F, _, kh, kw = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dxp, dW = np.zeros_like(xp), np.zeros_like(W)
    for n in range(N):
        for f in range(F):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    window = (n, slice(None), slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw))
                    dW[f] += dout[n, f, i, j] * xp[window]
                    dxp[window] += dout[n, f, i, j] * W[f]
    db = None if b is None else dout.sum(axis=(0, 2, 3))
    return dxp[:, :, ph:ph + H, pw:pw + Wd], dW, db


def _pool_geometry(x_shape, kernel_size, stride):
    """Output shape (N, C, Ho, Wo) and every window as ``(output index, input index)``."""
    (kh, kw) = as_pair(kernel_size, "naive", "kernel_size")
    (sh, sw) = (kh, kw) if stride is None else as_pair(stride, "naive", "stride")
    N, C, H, W = x_shape
    Ho, Wo = (H - kh) // sh + 1, (W - kw) // sw + 1
    windows = [((n, c, i, j), (n, c, slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)))
               for n in range(N) for c in range(C) for i in range(Ho) for j in range(Wo)]
    return (N, C, Ho, Wo), windows


def _pool_forward(x, kernel_size, stride, reduce):
    out_shape, windows = _pool_geometry(x.shape, kernel_size, stride)
    out = np.zeros(out_shape, dtype=x.dtype)
    for o, window in windows:
        out[o] = reduce(x[window])
    return out, (x, kernel_size, stride)


def maxpool2d_forward(x, kernel_size, stride=None):
    """Shape: (N, C, H, W) -> (N, C, Ho, Wo)."""
    return _pool_forward(x, kernel_size, stride, np.max)


def maxpool2d_backward(dout, cache):
    """Each window's gradient goes to its first maximum (row-major)."""
    x, kernel_size, stride = cache
    dx = np.zeros_like(x)
    for o, window in _pool_geometry(x.shape, kernel_size, stride)[1]:
        patch = x[window]
        i, j = np.unravel_index(np.argmax(patch), patch.shape)
        dx[window][i, j] += dout[o]
    return dx


def avgpool2d_forward(x, kernel_size, stride=None):
    """Shape: (N, C, H, W) -> (N, C, Ho, Wo)."""
    return _pool_forward(x, kernel_size, stride, np.mean)


def avgpool2d_backward(dout, cache):
    x, kernel_size, stride = cache
    dx = np.zeros_like(x)
    for o, window in _pool_geometry(x.shape, kernel_size, stride)[1]:
        dx[window] += dout[o] / x[window].size
    return dx


def linear_forward(x, W, b):
    """Shape: (N, D) -> (N, M), one dot product at a time."""
    x2 = x.reshape(x.shape[0], -1)
    out = np.zeros((x.shape[0], W.shape[1]), dtype=x.dtype)
    for n in range(x2.shape[0]):
        for m in range(W.shape[1]):
            out[n, m] = np.dot(x2[n], W[:, m]) + b[m]
    return out, (x, W)


def linear_backward(dout, cache):
    """Returns dx (shape of x), dW (D, M), db (M,), one example at a time."""
    x, W = cache
    x2 = x.reshape(x.shape[0], -1)
    dx, dW = np.zeros_like(x2), np.zeros_like(W)
    for n in range(x2.shape[0]):
        dx[n] = W @ dout[n]
        dW += np.outer(x2[n], dout[n])
    return dx.reshape(x.shape), dW, dout.sum(axis=0)
