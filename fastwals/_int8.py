"""int8 copies of the factors for the top-N gate (_kernels/vnni.py), with the
constants of a rigorous bound on what quantization hides.

Each row f is stored as q ≈ f / s rounded (|q| ≤ 127), s = max|f| / 127, and
e = f - s·q is measured, so f = s·q + e exactly as far as the bound goes.
For a user u and item y, with ũ = s_u·q_u, ỹ = s_y·q_y:
    u·y = ũ·ỹ + e_u·y + ũ·e_y ≤ ũ·ỹ + |e_u|·|y| + |ũ|·|e_y|,
and any float sum of k products lies within γ·|u|·|y| of u·y (γ ≈ k·eps), so
every exact score the kernels compute is at most
    ũ·ỹ + a_u·|y| + c_u·|e_y|,  a_u = |e_u| + δ·(|ũ| + |e_u|),  c_u = (1 + δ)·|ũ|,
where δ = γ + a margin that also covers the gate's own float32 arithmetic.
Every constant is rounded up to float32. The gate flags an item when this
bound reaches the user's worst kept score.
"""

import numpy as np

from ._kernels.quantize import quantize_rows

# float32 evaluation of the gate: scale products, the int → float conversion
# beyond 2^24, the fma and adds; a few units of 2^-24 each, generously
_GATE_MARGIN = 64 * 2.0 ** -24
# rows whose largest entry is outside this range (times √k at the top) could
# overflow the float32 gate or lose its small terms to underflow
_SAFE = (1e-12, 1e12)


def _usable(amax, k):
    """Whether the gate's float32 bounds are valid for rows with these largest
    entries: all finite, and each non-zero one in a range where float32 keeps
    relative precision and the products stay finite."""
    if not np.all(np.isfinite(amax)):
        return False
    a = amax[amax > 0]
    return a.size == 0 or (a.min() >= _SAFE[0] and a.max() * np.sqrt(k) <= _SAFE[1])


def _up(x):
    """float32 values no smaller than the float64 x."""
    f = x.astype(np.float32)
    return np.where(f < x, np.nextafter(f, np.float32(np.inf)), f)


def _quantize(F, block, offset, n_rows):
    """quantize_rows into a buffer of n_rows ≥ len(F) rows (padding: byte
    `offset`, i.e. q = 0): (bytes, amax, scale, |s·q|, |f - s·q|, Σ q), the last
    five for len(F) rows."""
    n, k = F.shape
    kp = -(-max(k, 1) // 4) * 4
    out = np.full(n_rows * kp, offset, np.uint8)
    amax, scale, norm, err = (np.empty(n) for _ in range(4))
    qsum = np.empty(n, np.int64)
    quantize_rows(F, out, block, offset, amax, scale, norm, err, qsum)
    return out, amax, scale, norm, err, qsum


def users(U):
    """(Uq uint8 len(U) × kp: q + 128, Ubound float32 len(U) × 3: s, a, c), or
    None when the gate cannot be used on U (k = 0, or see _usable)."""
    k = U.shape[1]
    if k == 0:
        return None
    out, amax, scale, norm, err, _ = _quantize(U, 0, 128, U.shape[0])
    if not _usable(amax, k):
        return None
    delta = 1.01 * k * np.finfo(U.dtype).eps + _GATE_MARGIN
    bound = np.stack([scale, err + delta * (norm + err), (1 + delta) * norm], axis=1)
    return out.reshape(U.shape[0], -1), _up(bound)


def items(Y, ynorm, block, multiple):
    """(Yq, cs, P, npad), or None as for users. Yq: int8 in blocks of `block`
    items (each kp/4 groups of block × 4 bytes), npad = len(Y) rounded up to a
    `multiple` of block; cs int32 = 128·Σ q per item; P float32 3 × npad rows:
    s, |y| (= ynorm, float64), |y - ỹ| (zero beyond len(Y))."""
    n, k = Y.shape
    npad = -(-max(n, 1) // (multiple * block)) * (multiple * block)
    out, amax, scale, _, err, qsum = _quantize(Y, block, 0, npad)
    if k == 0 or not _usable(amax, k):
        return None
    cs = np.zeros(npad, np.int32)
    cs[:n] = 128 * qsum
    P = np.zeros((3, npad), np.float64)
    P[0, :n] = scale
    P[1, :n] = ynorm
    P[2, :n] = err
    return out.view(np.int8), cs, _up(P).ravel(), npad
