"""Mistake catalog of ex1_fully_connected: linear, ReLU, softmax cross-entropy (see catalog/slips.py)."""
import numpy as np

from catalog.slips import Catalog

CATALOG = cat = Catalog("ex1_fully_connected")


@cat.correct
def linear_forward(x, W, b):
    N = x.shape[0]
    x_flat = x.reshape(N, -1)
    out = x_flat @ W + b
    cache = (x, W, b)
    return out, cache


cat.slip("linear_forward", "bias_missing", "linear_bias_missing", ("x_flat @ W + b", "x_flat @ W"),
         note="forgot to add b")
cat.slip("linear_forward", "not_flattened", "linear_not_flattened", ("x_flat @ W + b", "x @ W + b"),
         note="multiplies x as it comes, so image-shaped x fails")
cat.slip("linear_forward", "cache_flattened_x", "cache_contract", ("cache = (x, W, b)", "cache = (x_flat, W, b)"),
         note="keeps the flattened x in the cache instead of x as it came in")
cat.slip("linear_forward", "cache_without_b", "cache_contract", ("cache = (x, W, b)", "cache = (x, W)"),
         note="the backward does not need b, so it was left out of the cache")
cat.written("linear_forward", "loop_float64", "dtype_changed", """
    def linear_forward(x, W, b):
        N = x.shape[0]
        x_flat = x.reshape(N, -1)
        out = np.zeros((N, W.shape[1]))
        for n in range(N):
            out[n] = x_flat[n] @ W + b
        cache = (x, W, b)
        return out, cache
    """, note="a loop over the examples into np.zeros((N, M)): float64 whatever x is")
cat.written("linear_forward", "bias_inside_loop", "linear_bias_repeated", """
    def linear_forward(x, W, b):
        N = x.shape[0]
        x_flat = x.reshape(N, -1)
        out = np.zeros((N, W.shape[1]), dtype=x.dtype)
        for d in range(x_flat.shape[1]):
            out += x_flat[:, d:d + 1] * W[d]
            out += b
        cache = (x, W, b)
        return out, cache
    """, note="sums over d in a loop and adds b inside the loop: D times")
cat.written("linear_forward", "loop_stops_short", "loop_stops_short", """
    def linear_forward(x, W, b):
        N = x.shape[0]
        x_flat = x.reshape(N, -1)
        out = np.zeros((N, W.shape[1]), dtype=x.dtype)
        for n in range(N - 1):
            out[n] = x_flat[n] @ W + b
        cache = (x, W, b)
        return out, cache
    """, note="range(N - 1): the last example is never computed")


@cat.correct
def linear_backward(dout, cache):
    x, W, b = cache
    N = x.shape[0]
    x_flat = x.reshape(N, -1)
    dx = (dout @ W.T).reshape(x.shape)
    dW = x_flat.T @ dout
    db = dout.sum(axis=0)
    return dx, dW, db


cat.slip("linear_backward", "db_not_summed", "linear_db_not_summed", ("db = dout.sum(axis=0)", "db = dout"))
cat.slip("linear_backward", "db_mean", "linear_db_mean", ("db = dout.sum(axis=0)", "db = dout.mean(axis=0)"))
cat.slip("linear_backward", "db_wrong_axis", "linear_db_axis", ("db = dout.sum(axis=0)", "db = dout.sum(axis=1)"))
cat.slip("linear_backward", "dW_transposed", "linear_dW_transposed", ("dW = x_flat.T @ dout", "dW = dout.T @ x_flat"))
cat.slip("linear_backward", "dx_not_reshaped", "linear_not_flattened",
         ("dx = (dout @ W.T).reshape(x.shape)", "dx = dout @ W.T"))
cat.slip("linear_backward", "dW_from_unflattened_x", "linear_not_flattened", ("dW = x_flat.T @ dout", "dW = x.T @ dout"),
         note="dW from x as it came in: for image-shaped x, x.T is not the flattened transpose")
cat.slip("linear_backward", "dx_W_not_transposed", "linear_dx_transpose",
         ("dx = (dout @ W.T).reshape(x.shape)", "dx = (dout @ W).reshape(x.shape)"),
         note="dout @ W: the shapes (N, M) and (D, M) do not fit")


@cat.correct
def relu_forward(x):
    out = x.copy()
    out[out < 0] = 0
    cache = x
    return out, cache


cat.slip("relu_forward", "np_max", "relu_max_not_maximum", ("out = x.copy()\n    out[out < 0] = 0", "out = np.max(x, 0)"),
         note="np.max(x, 0) takes the largest value along axis 0 instead of comparing with 0")
cat.slip("relu_forward", "in_place", "input_modified", ("out = x.copy()\n    out[out < 0] = 0", "x[x < 0] = 0\n    out = x"),
         ("cache = x", "cache = x.copy()"))
cat.slip("relu_forward", "minimum", "relu_negative_kept", ("out = x.copy()\n    out[out < 0] = 0", "out = np.minimum(x, 0)"))
cat.slip("relu_forward", "zeros_float64", "dtype_changed",
         ("out = x.copy()\n    out[out < 0] = 0", "out = np.zeros(x.shape)\n    out[x > 0] = x[x > 0]"))
cat.slip("relu_forward", "cache_out", "cache_contract", ("cache = x", "cache = out"),
         note="keeps the output, not the input, in the cache")
cat.slip("relu_forward", "abs", "relu_negative_kept", ("out = x.copy()\n    out[out < 0] = 0", "out = np.abs(x)"),
         note="abs turns negatives positive instead of zeroing them")
cat.written("relu_forward", "images_only", "too_many_indices", """
    def relu_forward(x):
        out = x.copy()
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                out[n, c, :, :] = np.maximum(x[n, c, :, :], 0)
        cache = x
        return out, cache
    """, note="written for images (N, C, H, W) only: a 2-D input has fewer axes than it indexes")


@cat.correct
def relu_backward(dout, cache):
    x = cache
    dx = dout.copy()
    dx[x <= 0] = 0
    return dx


cat.slip("relu_backward", "gate_on_dout", "relu_gate_on_dout", ("dx[x <= 0] = 0", "dx[dout <= 0] = 0"))
cat.slip("relu_backward", "gate_at_zero", "relu_backward_kink", ("dx[x <= 0] = 0", "dx[x < 0] = 0"),
         note="x < 0 lets the gradient through where x is exactly 0")
cat.slip("relu_backward", "dout_in_place", "input_modified", ("dx = dout.copy()", "dx = dout"))
cat.slip("relu_backward", "forgot_dout", "relu_forgot_dout", ("dx = dout.copy()\n    dx[x <= 0] = 0",
                                                              "dx = (x > 0).astype(dout.dtype)"))
cat.slip("relu_backward", "zeros_float64", "dtype_changed",
         ("dx = dout.copy()\n    dx[x <= 0] = 0", "dx = np.zeros(x.shape)\n    dx[x > 0] = dout[x > 0]"))
cat.slip("relu_backward", "times_relu", "relu_backward_times_x", ("dx = dout.copy()\n    dx[x <= 0] = 0",
                                                                  "dx = dout * np.maximum(x, 0)"),
         note="multiplies by the forward's output instead of its slope")


@cat.correct
def softmax_cross_entropy(logits, y):
    N, K = logits.shape
    loss = 0.0
    dlogits = np.zeros_like(logits)
    for n in range(N):
        z = logits[n] - logits[n].max()
        logp = z - np.log(np.exp(z).sum())
        loss -= logp[y[n]]
        dlogits[n] = np.exp(logp)
        dlogits[n, y[n]] -= 1
    loss = float(loss / N)
    dlogits /= N
    return loss, dlogits


cat.slip("softmax_cross_entropy", "no_shift", "softmax_overflow", ("z = logits[n] - logits[n].max()", "z = logits[n]"))
cat.slip("softmax_cross_entropy", "shift_by_global_max", "softmax_overflow",
         ("z = logits[n] - logits[n].max()", "z = logits[n] - logits.max()"),
         note="one max for the whole batch: another row's exponentials all underflow to 0")
cat.slip("softmax_cross_entropy", "grad_not_divided", "softmax_grad_not_divided", ("    dlogits /= N\n", ""),
         note="the gradient of the summed loss (the issue's step not divided by the batch size)")
cat.slip("softmax_cross_entropy", "loss_sum", "softmax_loss_sum", ("loss = float(loss / N)", "loss = float(loss)"))
cat.slip("softmax_cross_entropy", "sign_flipped", "softmax_grad_sign",
         ("dlogits[n] = np.exp(logp)\n        dlogits[n, y[n]] -= 1",
          "dlogits[n] = -np.exp(logp)\n        dlogits[n, y[n]] += 1"))
cat.written("softmax_cross_entropy", "log_of_probability", "softmax_log_underflow", """
    def softmax_cross_entropy(logits, y):
        N, K = logits.shape
        loss = 0.0
        dlogits = np.zeros_like(logits)
        for n in range(N):
            z = logits[n] - logits[n].max()
            p = np.exp(z) / np.exp(z).sum()
            loss -= np.log(p[y[n]] + 1e-12)
            dlogits[n] = p
            dlogits[n, y[n]] -= 1
        loss = float(loss / N)
        dlogits /= N
        return loss, dlogits
    """, note="the log of a probability that underflowed to 0 (the 1e-12 hides the -inf)")
cat.written("softmax_cross_entropy", "labels_as_columns", "softmax_label_indexing", """
    def softmax_cross_entropy(logits, y):
        N, K = logits.shape
        z = logits - logits.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = float(-logp[:, y].mean())
        dlogits = np.exp(logp)
        dlogits[:, y] -= 1
        dlogits /= N
        return loss, dlogits
    """, note="p[:, y] picks whole columns (N x N entries), not one entry per row")
cat.slip("softmax_cross_entropy", "zeros_float64", "dtype_changed",
         ("dlogits = np.zeros_like(logits)", "dlogits = np.zeros((N, K))"))
