"""Small inlined pieces shared by the kernels."""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import populate_array

# The one fastmath set of the kernels: "reassoc" lets LLVM vectorise the dot
# products (a scalar dot of length k is latency-bound, 4x slower here),
# "contract" fuses multiply-adds. No nnan/ninf: the NaN checks must survive.
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}

# confidence transforms f(r); the public names live in fastwals/weights.py
CONF_LINEAR = 0    # f(r) = r
CONF_LOG = 1       # f(r) = log(1 + r/epsilon)
CONF_CONSTANT = 2  # f(r) = 1
CONF_TOTAL = 3     # w = alpha·|r|·ρ·κ in total (not added to w0), t = 1 if r > 0 else 0


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def observed_weight(r, w0, alpha, conf_kind, epsilon, row_weight, col_weight):
    """(w − w0, w) of an observation r, in the dtype of its arguments, where w0 is
    the entry's unobserved weight (w0·a_u·b_i): w − w0 = alpha·f(r)·ρ_u·κ_i, or for
    CONF_TOTAL w = alpha·|r|·ρ_u·κ_i (then w − w0 may be negative)."""
    if conf_kind == CONF_TOTAL:
        w = alpha * abs(r) * row_weight * col_weight
        return w - w0, w
    if conf_kind == CONF_CONSTANT:
        extra = alpha * row_weight * col_weight
    elif conf_kind == CONF_LOG:
        extra = alpha * np.log1p(r / epsilon) * row_weight * col_weight
    else:
        extra = alpha * r * row_weight * col_weight
    return extra, w0 + extra


@njit(cache=True, nogil=True, inline="always")
def unobserved_weight(weights, j):
    """weights[j], or 1 when `weights` is empty: the kernels take the unobserved
    entries' weights a (per row) and b (per column) as arrays, empty for all ones
    (the default, which then neither reads them nor changes its arithmetic)."""
    if weights.size == 0:
        return weights.dtype.type(1)
    return weights[j]


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def observation(p, indices, values, w0u, alpha, conf_kind, epsilon, explicit, row_weight,
                col_weights, col_unobserved):
    """(column i, w − w0·a_u·b_i, w·t) of stored entry p of row u, given w0u = w0·a_u
    and b = col_unobserved (empty: all ones), with t = r (explicit), else 1, but 0
    for CONF_TOTAL's r < 0."""
    i = indices[p]
    r = values[p]
    w0i = w0u if col_unobserved.size == 0 else w0u * col_unobserved[i]
    extra, wt = observed_weight(r, w0i, alpha, conf_kind, epsilon, row_weight, col_weights[i])
    if explicit:
        wt *= r
    elif conf_kind == CONF_TOTAL and not r > 0:
        wt = w0u - w0u  # zero in the dtype of the weights
    return i, extra, wt


# how many observations ahead the gather loops prefetch the other side's rows:
# gathering factor rows at random is latency-bound (measured here: 20-30% of a
# gather pass saved at k = 64..128)
PREFETCH_AHEAD = 8


@intrinsic
def _prefetch_line(typingctx, arr, row, col):
    """Hint the CPU to bring the cache line holding arr[row, col] into cache (LLVM's
    prefetch: no fault, no effect on results)."""
    sig = types.void(arr, row, col)

    def codegen(context, builder, signature, args):
        aryty, rowty, colty = signature.args
        ary = context.make_array(aryty)(context, builder, args[0])
        r = context.cast(builder, args[1], rowty, types.intp)
        c = context.cast(builder, args[2], colty, types.intp)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [r, c])
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        # read, high locality, data cache
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3),
                          ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, nogil=True, inline="always")
def prefetch_row(arr, row):
    """Prefetch every cache line of arr[row, :] (a C-contiguous row)."""
    step = max(1, 64 // arr.itemsize)
    for col in range(0, arr.shape[1], step):
        _prefetch_line(arr, row, col)


@intrinsic
def next_chunk(typingctx, counter):
    """Atomically counter[0] += 1, returning the old value: the parallel sweeps'
    threads take chunks of rows from one shared counter as they finish the
    previous ones (prange alone splits its range statically, so a thread slowed
    by anything else on its core held the whole sweep back)."""
    sig = types.int64(counter)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        one = ir.Constant(ir.IntType(64), 1)
        return builder.atomic_rmw("add", ary.data, one, "monotonic")

    return sig, codegen


@intrinsic
def borrowed(typingctx, values):
    """The tuple `values` with each array in it rebuilt without its reference
    count (the same data, shape and strides, no meminfo). The views a kernel
    takes of such an array, a row per observation in its hottest loops, then
    skip two atomic updates of the count each (a cg half-sweep called from
    Python, MovieLens 1M, k = 64: 50.5 ms before, 36.7 after). Numba passes a
    parallel loop's body its arrays the same way. Only for arrays that outlive
    the call, as a kernel's arguments do."""
    if not isinstance(values, types.BaseTuple):
        return None
    sig = types.Tuple(tuple(values))(values)

    def codegen(context, builder, signature, args):
        out = []
        for i, ty in enumerate(signature.args[0]):
            v = builder.extract_value(args[0], i)
            if isinstance(ty, types.Array):
                ary = context.make_array(ty)(context, builder, v)
                view = context.make_array(ty)(context, builder)
                populate_array(view, data=ary.data, shape=ary.shape, strides=ary.strides,
                               itemsize=ary.itemsize, meminfo=None)
                v = view._getvalue()
            else:
                context.nrt.incref(builder, ty, v)  # returned: a new reference
            out.append(v)
        return context.make_tuple(builder, signature.return_type, out)

    return sig, codegen
