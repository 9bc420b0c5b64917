"""Sliding-window geometry shared by convolution and pooling.

A window op with kernel (kh, kw) and stride (sh, sw) over a (padded) map of
size (Hp, Wp) has ``Ho = (Hp - kh) // sh + 1`` rows of windows. Instead of a
Python loop over output pixels, every op here loops over the kh*kw *kernel
offsets*: for offset (i, j) the slice ``[i : i + sh*Ho : sh, j : j + sw*Wo : sw]``
holds the input pixel that offset sees in every window at once.
"""


def offset_slices(kernel, stride, out_size):
    """Yield ``(k, (i, j), (rows, cols))`` for each kernel offset, row-major.

    ``k`` is the flat offset index ``i * kw + j``; ``rows``/``cols`` are slices.
    """
    (kh, kw), (sh, sw), (Ho, Wo) = kernel, stride, out_size
    for i in range(kh):
        for j in range(kw):
            yield i * kw + j, (i, j), (slice(i, i + sh * (Ho - 1) + 1, sh),
                                       slice(j, j + sw * (Wo - 1) + 1, sw))
