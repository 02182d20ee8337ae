"""Register-resident LANES × LANES tiles of a Cholesky factorisation (see spd.py).

A panel of the factorisation is one diagonal tile, factored in registers
(potrf_tile), and the tiles to its right, each solved against it in
registers (trsm_tile): done with one vector row at a time through memory,
every row update was a load and a store (measured here: the factorisation at
35–46 GFLOP/s for k = 64–128, below the Gram update's 80).

Tiles are LANES consecutive rows of LANES elements, ld elements apart, in a
flat array; only the upper triangle of a diagonal tile is read, and lanes
below it are left holding scratch.
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .simd import LANES, _elem_ptr, _fma, _i64, _load, _ptr, _splat, _vec_type


def _tile_rows(context, builder, aryty, ary, off, ld):
    """The LANES row pointers of the tile at flat offset off (rows ld apart)."""
    return [_ptr(context, builder, aryty, ary,
                 builder.add(off, builder.mul(ld, ir.Constant(ir.IntType(64), i))))
            for i in range(LANES)]


@intrinsic
def potrf_tile(typingctx, A, off, ld):
    """Factor the SPD tile at A[off:] (rows ld apart) as UᵀU in place, U in its
    upper triangle. Returns 1 when every pivot was positive, else 0."""
    sig = types.int64(A, off, ld)

    def codegen(context, builder, signature, args):
        at = signature.args
        A_, off_, ld_ = args
        off_ = _i64(context, builder, off_, at[1])
        ld_ = _i64(context, builder, ld_, at[2])
        dt = context.get_value_type(at[0].dtype)
        vecty = _vec_type(context, at[0].dtype)
        align = context.get_abi_sizeof(dt)
        i32 = ir.IntType(32)
        ptrs = _tile_rows(context, builder, at[0], A_, off_, ld_)
        rows = [_load(builder, p, align) for p in ptrs]
        sqrt = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(dt, [dt]),
            "llvm.sqrt.f32" if dt == ir.FloatType() else "llvm.sqrt.f64")
        one = ir.Constant(dt, 1.0)
        zero = ir.Constant(dt, 0.0)
        ok = ir.Constant(ir.IntType(1), 1)
        for i in range(LANES):
            lane = ir.Constant(i32, i)
            p = builder.extract_element(rows[i], lane)
            ok = builder.and_(ok, builder.fcmp_ordered(">", p, zero))  # false for NaN too
            d = builder.call(sqrt, [p])
            row = builder.fmul(rows[i], _splat(builder, builder.fdiv(one, d), vecty))
            rows[i] = builder.insert_element(row, d, lane)
            for r in range(i + 1, LANES):
                f = builder.fneg(builder.extract_element(rows[i], ir.Constant(i32, r)))
                rows[r] = _fma(builder, _splat(builder, f, vecty), rows[i], rows[r])
        for p, row in zip(ptrs, rows):
            builder.store(row, p, align=align)
        return builder.zext(ok, ir.IntType(64))

    return sig, codegen


@intrinsic
def trsm_tile(typingctx, A, uoff, xoff, ld):
    """X ← U⁻ᵀ X in place for the factored diagonal tile U at A[uoff:] and the
    tile X at A[xoff:] (both with rows ld apart): row i of X becomes
    (X_i − Σ_{j<i} U[j, i]·X_j) / U[i, i], all sixteen rows held in registers."""
    sig = types.void(A, uoff, xoff, ld)

    def codegen(context, builder, signature, args):
        at = signature.args
        A_, uoff_, xoff_, ld_ = args
        uoff_ = _i64(context, builder, uoff_, at[1])
        xoff_ = _i64(context, builder, xoff_, at[2])
        ld_ = _i64(context, builder, ld_, at[3])
        dt = context.get_value_type(at[0].dtype)
        vecty = _vec_type(context, at[0].dtype)
        align = context.get_abi_sizeof(dt)
        i64 = ir.IntType(64)
        one = ir.Constant(dt, 1.0)
        ptrs = _tile_rows(context, builder, at[0], A_, xoff_, ld_)
        rows = [_load(builder, p, align) for p in ptrs]

        def u(i, j):  # U[i, j], a scalar load
            off = builder.add(uoff_, builder.add(builder.mul(ld_, ir.Constant(i64, i)),
                                                 ir.Constant(i64, j)))
            return builder.load(_elem_ptr(context, builder, at[0], A_, off), align=align)

        for i in range(LANES):
            rows[i] = builder.fmul(rows[i], _splat(builder, builder.fdiv(one, u(i, i)), vecty))
            for r in range(i + 1, LANES):
                rows[r] = _fma(builder, _splat(builder, builder.fneg(u(i, r)), vecty), rows[i],
                               rows[r])
        for p, row in zip(ptrs, rows):
            builder.store(row, p, align=align)
        return context.get_dummy_value()

    return sig, codegen
