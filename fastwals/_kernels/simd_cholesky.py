"""Register-resident LANES × LANES tiles of a Cholesky factorisation and of its
triangular solves (see spd.py).

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

from .simd import LANES, _elem_ptr, _fma, _i64, _load, _ptr, _reduce_one, _splat, _vec_type


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


def _panel(context, builder, at, A_, uoff_, ld_):
    """The LANES rows of the factored diagonal tile at A[uoff:] and the vector of
    reciprocals of its diagonal (one vector division for the whole panel)."""
    vecty = _vec_type(context, at.dtype)
    align = context.get_abi_sizeof(context.get_value_type(at.dtype))
    rows = [_load(builder, p, align) for p in _tile_rows(context, builder, at, A_, uoff_, ld_)]
    diag = ir.Constant(vecty, None)
    for i, row in enumerate(rows):
        lane = ir.Constant(ir.IntType(32), i)
        diag = builder.insert_element(diag, builder.extract_element(row, lane), lane)
    one = ir.Constant(vecty, [1.0] * LANES)
    return rows, builder.fdiv(one, diag), vecty, align


@intrinsic
def trsv_tile_t(typingctx, A, uoff, ld, b, boff):
    """b[boff:boff+LANES] ← U⁻ᵀ b[boff:boff+LANES] for the factored diagonal tile U
    at A[uoff:] (rows ld apart), in registers: z_i = b_i / U[i, i], then every
    later lane b_r −= U[i, r]·z_i at once (the scalar loop's chain of divisions and
    short loops took most of a row's solve)."""
    sig = types.void(A, uoff, ld, b, boff)

    def codegen(context, builder, signature, args):
        at = signature.args
        A_, uoff_, ld_, b_, boff_ = args
        uoff_ = _i64(context, builder, uoff_, at[1])
        ld_ = _i64(context, builder, ld_, at[2])
        rows, rdiag, vecty, align = _panel(context, builder, at[0], A_, uoff_, ld_)
        bp = _ptr(context, builder, at[3], b_, _i64(context, builder, boff_, at[4]))
        bv = _load(builder, bp, align)
        z = ir.Constant(vecty, None)
        for i in range(LANES):
            lane = ir.Constant(ir.IntType(32), i)
            zi = builder.fmul(builder.extract_element(bv, lane),
                              builder.extract_element(rdiag, lane))
            z = builder.insert_element(z, zi, lane)
            if i + 1 < LANES:  # lanes ≤ i of bv are spent (z holds them)
                bv = _fma(builder, _splat(builder, builder.fneg(zi), vecty), rows[i], bv)
        builder.store(z, bp, align=align)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def trsv_tile(typingctx, A, uoff, ld, b, boff, w):
    """b[boff:boff+LANES] ← U⁻¹ (b[boff:boff+LANES] − w[:LANES]) for the factored
    diagonal tile U at A[uoff:] (rows ld apart), in registers, from the last lane
    up: x_i = (c_i − U[i, i+1:]·x[i+1:]) / U[i, i], each product a masked row
    (the lanes below the diagonal hold scratch) reduced in a fixed order."""
    sig = types.void(A, uoff, ld, b, boff, w)

    def codegen(context, builder, signature, args):
        at = signature.args
        A_, uoff_, ld_, b_, boff_, w_ = args
        uoff_ = _i64(context, builder, uoff_, at[1])
        ld_ = _i64(context, builder, ld_, at[2])
        rows, rdiag, vecty, align = _panel(context, builder, at[0], A_, uoff_, ld_)
        zero = ir.Constant(vecty, None)
        i1 = ir.IntType(1)
        bp = _ptr(context, builder, at[3], b_, _i64(context, builder, boff_, at[4]))
        wp = _ptr(context, builder, at[5], w_, ir.Constant(ir.IntType(64), 0))
        c = builder.fsub(_load(builder, bp, align), _load(builder, wp, align))
        x = zero
        for i in range(LANES - 1, -1, -1):
            lane = ir.Constant(ir.IntType(32), i)
            ci = builder.extract_element(c, lane)
            if i + 1 < LANES:
                above = ir.Constant(ir.VectorType(i1, LANES), [int(j > i) for j in range(LANES)])
                ci = builder.fsub(ci, _reduce_one(builder, builder.select(
                    above, builder.fmul(rows[i], x), zero)))
            x = builder.insert_element(x, builder.fmul(ci, builder.extract_element(rdiag, lane)),
                                       lane)
        builder.store(x, bp, align=align)
        return context.get_dummy_value()

    return sig, codegen
