"""Numba kernels: arrays and scalars in, arrays out. No validation here."""
