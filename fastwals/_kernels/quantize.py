"""Rows to int8, with what the rounding lost: the input of the VNNI gate."""

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True, nogil=True)
def quantize_rows(F, out, block, offset, amax, scale, norm, err, qsum):
    """Row i of F (n × k) as q = rint(f · (1/s)) clipped to ±127, s = max|f| / 127
    (1 for a zero row); e = f - s·q is measured from that q, whatever its
    rounding. Written as bytes q + offset into out: row-major rows of kp bytes when
    block == 0, else in blocks of `block` rows, each kp / 4 groups of block × 4
    bytes (kp ≥ k a multiple of 4; the padding is left as it is). Also
    amax[i] = max|f|, scale[i] = s, norm[i] = |s·q|, err[i] = |f - s·q|
    (float64; NaN or inf when the row is not finite) and qsum[i] = Σ q."""
    n, k = F.shape
    kp = 4 * ((k + 3) // 4)
    for i in prange(n):
        a = 0.0
        finite = True
        for t in range(k):
            f = np.float64(F[i, t])
            finite &= np.isfinite(f)
            a = max(a, abs(f))
        amax[i] = a if finite else np.inf
        s = a / 127.0 if a > 0 and finite else 1.0
        inv = 1.0 / s
        if block == 0:
            base, group = i * kp, 4
        else:
            base, group = (i // block) * kp * block + (i % block) * 4, 4 * block
        nn = 0.0
        ee = 0.0
        total = 0
        for t in range(k):
            f = np.float64(F[i, t])
            q = min(127.0, max(-127.0, np.rint(f * inv)))
            d = f - q * s
            nn += (q * s) * (q * s)
            ee += d * d
            qi = np.int64(q) if finite else 0
            total += qi
            out[base + (t >> 2) * group + (t & 3)] = np.uint8((qi + offset) & 255)
        scale[i] = s
        norm[i] = np.sqrt(nn)
        err[i] = np.sqrt(ee)
        qsum[i] = total
