"""Rows to int8, with what the rounding lost: the input of the VNNI gate."""

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True, nogil=True)
def quantize_rows(F, out, block, offset, scale, norm, err, qsum):
    """Row i of F (n × k) as q = rint(f / s), s = max|f| / 127 (1 for a zero
    row), written as bytes q + offset into out: row-major rows of kp bytes when
    block == 0, else in blocks of `block` rows, each kp / 4 groups of block × 4
    bytes (kp ≥ k a multiple of 4; the padding is left as it is). Also
    scale[i] = s, norm[i] = |s·q|, err[i] = |f - s·q| (float64) and qsum[i] = Σ q."""
    n, k = F.shape
    kp = 4 * ((k + 3) // 4)
    for i in prange(n):
        amax = 0.0
        for t in range(k):
            amax = max(amax, abs(np.float64(F[i, t])))
        s = amax / 127.0 if amax > 0 else 1.0
        nn = 0.0
        ee = 0.0
        total = 0
        for t in range(k):
            f = np.float64(F[i, t])
            q = min(127.0, max(-127.0, np.rint(f / s)))
            a = q * s
            nn += a * a
            ee += (f - a) * (f - a)
            qi = np.int64(q)
            total += qi
            if block == 0:
                pos = i * kp + t
            else:
                pos = ((i // block) * (kp // 4) + t // 4) * (4 * block) + (i % block) * 4 + t % 4
            out[pos] = np.uint8((qi + offset) & 255)
        scale[i] = s
        norm[i] = np.sqrt(nn)
        err[i] = np.sqrt(ee)
        qsum[i] = total
