"""Numba kernels: arrays and scalars in, arrays out. No validation here."""

import os as _os

from .._kernel_cache import refresh as _refresh

# before any kernel module is imported: Numba's cache of each kernel looks at
# its own file only, not at the helpers it inlines from the others
_refresh(_os.path.dirname(__file__), __name__)
