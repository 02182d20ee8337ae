"""One query against many items: the serving path for calls too small to sort.

    python bench/single_query.py [CHECKOUT]

Median milliseconds of `fastwals.serving.top_n` for one user against 40,981
random items (Gowalla's count), N = 20, k = 64 and 256, BLAS at one thread,
300 calls after a warm-up. CHECKOUT: another fastwals tree to time instead
(put first on sys.path), to compare versions alternately in one session.
"""

import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

if len(sys.argv) > 1:
    sys.path.insert(0, sys.argv[1])

from fastwals import serving  # noqa: E402


def main():
    rng = np.random.default_rng(0)
    out = []
    with threadpool_limits(1, "blas"):
        for k in (64, 256):
            U = rng.standard_normal((1, k)).astype(np.float32)
            Y = rng.standard_normal((40981, k)).astype(np.float32)
            serving.top_n(U, Y, 20)
            times = []
            for _ in range(300):
                start = time.perf_counter()
                serving.top_n(U, Y, 20)
                times.append(time.perf_counter() - start)
            out.append(f"k={k}: {1e3 * np.median(times):.3f} ms")
    print(serving.__file__, *out)


if __name__ == "__main__":
    main()
