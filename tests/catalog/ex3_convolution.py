"""Mistake catalog of ex3_convolution: conv2d forward and backward (see catalog/slips.py)."""
import numpy as np

from catalog.slips import Catalog

CATALOG = cat = Catalog("ex3_convolution")


@cat.correct
def conv2d_forward(x, W, b, stride=1, padding=0):
    N, C, H, Wd = x.shape
    F, _, kh, kw = W.shape
    Ho = (H + 2 * padding - kh) // stride + 1
    Wo = (Wd + 2 * padding - kw) // stride + 1
    xpad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.zeros((N, F, Ho, Wo), dtype=x.dtype)
    for i in range(Ho):
        for j in range(Wo):
            window = xpad[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            for f in range(F):
                out[:, f, i, j] = np.sum(window * W[f], axis=(1, 2, 3)) + b[f]
    cache = (x, W, b, stride, padding)
    return out, cache


cat.slip("conv2d_forward", "stride_ignored", "stride_ignored",
         ("Ho = (H + 2 * padding - kh) // stride + 1", "Ho = H + 2 * padding - kh + 1"),
         ("Wo = (Wd + 2 * padding - kw) // stride + 1", "Wo = Wd + 2 * padding - kw + 1"),
         ("window = xpad[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]",
          "window = xpad[:, :, i:i + kh, j:j + kw]"))
cat.slip("conv2d_forward", "window_start", "conv_window_start",
         ("window = xpad[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]",
          "window = xpad[:, :, i:i + kh, j:j + kw]"),
         note="the output size uses the stride, but every window starts at (i, j)")
cat.slip("conv2d_forward", "no_padding", "padding_ignored",
         ("xpad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))", "xpad = x"),
         note="the input is never padded, so windows run off its edge")
cat.slip("conv2d_forward", "bias_missing", "conv_bias_missing", (" + b[f]", ""))
cat.slip("conv2d_forward", "flipped_kernel", "conv_kernel_flipped", ("window * W[f]", "window * W[f, :, ::-1, ::-1]"),
         note="a convolution in the textbook sense; the layer is a cross-correlation")
cat.slip("conv2d_forward", "size_off_by_one", "output_size_off_by_one",
         ("Ho = (H + 2 * padding - kh) // stride + 1", "Ho = (H + 2 * padding - kh) // stride"),
         ("Wo = (Wd + 2 * padding - kw) // stride + 1", "Wo = (Wd + 2 * padding - kw) // stride"))
cat.slip("conv2d_forward", "summed_over_batch", "conv_summed_over_batch",
         ("np.sum(window * W[f], axis=(1, 2, 3))", "np.sum(window * W[f])"),
         note="np.sum without axis adds up the whole batch too")
cat.slip("conv2d_forward", "zeros_float64", "dtype_changed",
         ("out = np.zeros((N, F, Ho, Wo), dtype=x.dtype)", "out = np.zeros((N, F, Ho, Wo))"))
cat.slip("conv2d_forward", "cache_padded_x", "cache_contract",
         ("cache = (x, W, b, stride, padding)", "cache = (xpad, W, b, stride, padding)"),
         note="keeps the padded input in the cache (the backward needs it, so why not)")


@cat.correct
def conv2d_backward(dout, cache):
    x, W, b, stride, padding = cache
    N, C, H, Wd = x.shape
    F, _, kh, kw = W.shape
    Ho, Wo = dout.shape[2], dout.shape[3]
    xpad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dxpad = np.zeros_like(xpad)
    dW = np.zeros_like(W)
    for i in range(Ho):
        for j in range(Wo):
            rows = slice(i * stride, i * stride + kh)
            cols = slice(j * stride, j * stride + kw)
            for f in range(F):
                g = dout[:, f, i, j][:, None, None, None]
                dW[f] += np.sum(g * xpad[:, :, rows, cols], axis=0)
                dxpad[:, :, rows, cols] += g * W[f]
    dx = dxpad[:, :, padding:padding + H, padding:padding + Wd]
    db = dout.sum(axis=(0, 2, 3))
    return dx, dW, db


cat.slip("conv2d_backward", "overwrites", "conv_backward_overwrites",
         ("dxpad[:, :, rows, cols] += g * W[f]", "dxpad[:, :, rows, cols] = g * W[f]"))
cat.slip("conv2d_backward", "not_cropped", "conv_backward_padding_not_cropped",
         ("dx = dxpad[:, :, padding:padding + H, padding:padding + Wd]", "dx = dxpad"))
cat.slip("conv2d_backward", "db_not_summed", "conv_db_not_summed",
         ("db = dout.sum(axis=(0, 2, 3))", "db = dout.sum(axis=(2, 3))"))
cat.slip("conv2d_backward", "db_mean", "conv_db_mean", ("db = dout.sum(axis=(0, 2, 3))", "db = dout.mean(axis=(0, 2, 3))"))
cat.slip("conv2d_backward", "flipped_kernel", "conv_backward_flipped_kernel",
         ("dxpad[:, :, rows, cols] += g * W[f]", "dxpad[:, :, rows, cols] += g * W[f, :, ::-1, ::-1]"),
         note="dx is a 'full convolution with the flipped kernel' in the textbooks, but this loop already "
              "sends each output's gradient back to its own window: flipping as well flips twice (issue 15)")
cat.slip("conv2d_backward", "stride_ignored", "conv_backward_stride",
         ("rows = slice(i * stride, i * stride + kh)", "rows = slice(i, i + kh)"),
         ("cols = slice(j * stride, j * stride + kw)", "cols = slice(j, j + kw)"))
cat.slip("conv2d_backward", "dW_overwrites", "conv_dW_not_accumulated",
         ("dW[f] += np.sum(g * xpad[:, :, rows, cols], axis=0)", "dW[f] = np.sum(g * xpad[:, :, rows, cols], axis=0)"),
         note="dW keeps only the last window's contribution")
cat.slip("conv2d_backward", "zeros_float64", "dtype_changed",
         ("dxpad = np.zeros_like(xpad)", "dxpad = np.zeros(xpad.shape)"))
