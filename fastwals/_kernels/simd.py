"""Explicit vector tiles for the small dense blocks of the subspace solver.

LLVM vectorises neither the short (16-32 element) rows of a block Hessian on
its own (the loop vectoriser's body is longer than the row, and the SLP
vectoriser cannot prove the rows of one array free of aliasing), so these
intrinsics emit the vector code directly: a tile is LANES consecutive elements
of a flat array (loads and stores unaligned). Every offset is in elements;
no bounds checks: the callers size and pad their arrays.
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

LANES = 16  # elements per tile (one zmm of float32, two of float64)


def _ptr(context, builder, aryty, ary, offset, lanes=LANES):
    """Pointer to element `offset` of the flat array `ary`, as a tile pointer."""
    data = context.make_array(aryty)(context, builder, ary).data
    elem = builder.gep(data, [offset])
    return builder.bitcast(elem, _vec_type(context, aryty.dtype, lanes).as_pointer())


def _elem_ptr(context, builder, aryty, ary, offset):
    data = context.make_array(aryty)(context, builder, ary).data
    return builder.gep(data, [offset])


def _vec_type(context, dtype, lanes=LANES):
    return ir.VectorType(context.get_value_type(dtype), lanes)


def _i64(context, builder, value, ty):
    return context.cast(builder, value, ty, types.int64)


def _splat(builder, scalar, vecty):
    undef = ir.Constant(vecty, ir.Undefined)
    v = builder.insert_element(undef, scalar, ir.Constant(ir.IntType(32), 0))
    n = vecty.count
    return builder.shuffle_vector(v, undef, ir.Constant(ir.VectorType(ir.IntType(32), n), [0] * n))


def _fma(builder, a, b, c):
    """a·b + c, elementwise (llvm.fma)."""
    vecty = a.type
    name = f"llvm.fma.v{vecty.count}{'f32' if vecty.element == ir.FloatType() else 'f64'}"
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vecty, [vecty] * 3), name)
    return builder.call(fn, [a, b, c])


def _load(builder, ptr, align):
    return builder.load(ptr, align=align)


def _make_tile_acc(rows, split, subtract=False, lanes=LANES, moded=False):
    """out[ooff + r·ldo + (0..lanes)] += Σ_{q<m} B[boff + q·ldb + r] · P[poff + q·ldp + (0..lanes)]
    for r < rows (−= with subtract): rows × split tile accumulators held in
    registers across the loop over q (split > 1 gives a single row independent
    chains, observation q going to chain q mod split, summed in a fixed order at
    the end). moded: the first argument, mode, chooses at run time: 0 +=, 1 −=,
    2 = (which neither reads out nor needs it cleared)."""

    def typer(*argtys):
        sig = types.void(*argtys)

        def codegen(context, builder, signature, args):
            at = signature.args[moded:]
            mode_ = _i64(context, builder, args[0], signature.args[0]) if moded else None
            out_, ooff_, ldo_, B_, boff_, ldb_, P_, poff_, ldp_, m_ = args[moded:]
            ooff_, ldo_, boff_, ldb_, poff_, ldp_, m_ = (
                _i64(context, builder, v, t) for v, t in
                zip((ooff_, ldo_, boff_, ldb_, poff_, ldp_, m_),
                    (at[1], at[2], at[4], at[5], at[7], at[8], at[9])))
            vecty = _vec_type(context, at[0].dtype, lanes)
            align = context.get_abi_sizeof(context.get_value_type(at[0].dtype))
            i64 = ir.IntType(64)
            accs = [[cgutils.alloca_once_value(builder, ir.Constant(vecty, None))
                     for _ in range(split)] for _ in range(rows)]

            def step(q, u):
                pv = _load(builder, _ptr(context, builder, at[6], P_,
                                         builder.add(poff_, builder.mul(q, ldp_)), lanes), align)
                bq = builder.add(boff_, builder.mul(q, ldb_))
                for r in range(rows):
                    bptr = _elem_ptr(context, builder, at[3], B_,
                                     builder.add(bq, ir.Constant(i64, r)))
                    sc = _splat(builder, builder.load(bptr, align=align), vecty)
                    builder.store(_fma(builder, sc, pv, builder.load(accs[r][u])), accs[r][u])

            groups = builder.udiv(m_, ir.Constant(i64, split)) if split > 1 else m_
            with cgutils.for_range(builder, groups) as loop:
                q0 = builder.mul(loop.index, ir.Constant(i64, split))
                for u in range(split):
                    step(builder.add(q0, ir.Constant(i64, u)), u)
            if split > 1:
                done = builder.mul(groups, ir.Constant(i64, split))
                with cgutils.for_range(builder, builder.sub(m_, done)) as loop:
                    step(builder.add(done, loop.index), 0)
            for r in range(rows):
                total = builder.load(accs[r][0])
                for u in range(1, split):
                    total = builder.fadd(total, builder.load(accs[r][u]))
                optr = _ptr(context, builder, at[0], out_,
                            builder.add(ooff_, builder.mul(ir.Constant(i64, r), ldo_)), lanes)
                cur = _load(builder, optr, align)  # unused with mode 2, where it may be anything
                if moded:
                    mode_is = [builder.icmp_signed("==", mode_, ir.Constant(i64, v))
                               for v in (1, 2)]
                    out = builder.select(mode_is[1], total, builder.select(
                        mode_is[0], builder.fsub(cur, total), builder.fadd(cur, total)))
                else:
                    out = builder.fsub(cur, total) if subtract else builder.fadd(cur, total)
                builder.store(out, optr, align=align)
            return context.get_dummy_value()

        return sig, codegen

    if moded:
        @intrinsic
        def tile_mode(typingctx, mode, out, ooff, ldo, B, boff, ldb, P, poff, ldp, m):
            return typer(mode, out, ooff, ldo, B, boff, ldb, P, poff, ldp, m)

        return tile_mode

    @intrinsic
    def tile_acc(typingctx, out, ooff, ldo, B, boff, ldb, P, poff, ldp, m):
        return typer(out, ooff, ldo, B, boff, ldb, P, poff, ldp, m)

    return tile_acc


tile_acc8 = _make_tile_acc(8, 1)
tile_sub8 = _make_tile_acc(8, 1, subtract=True)
# the Gram update's tiles, mode first (+=, −= or =), full and half width (the
# lower right 8 × 8 corner of a diagonal block, whose left half lies below the
# diagonal)
HALF = LANES // 2
tile8 = _make_tile_acc(8, 1, moded=True)
tile8h = _make_tile_acc(8, 1, lanes=HALF, moded=True)
tile_acc1 = _make_tile_acc(1, 4)


@intrinsic
def tile_axpy(typingctx, Y, yoff, X, xoff, alpha):
    """Y[yoff:yoff+LANES] += alpha · X[xoff:xoff+LANES]."""
    sig = types.void(Y, yoff, X, xoff, alpha)

    def codegen(context, builder, signature, args):
        at = signature.args
        Y_, yoff_, X_, xoff_, alpha_ = args
        vecty = _vec_type(context, at[0].dtype)
        align = context.get_abi_sizeof(context.get_value_type(at[0].dtype))
        alpha_ = context.cast(builder, alpha_, at[4], at[0].dtype)
        yp = _ptr(context, builder, at[0], Y_, _i64(context, builder, yoff_, at[1]))
        xp = _ptr(context, builder, at[2], X_, _i64(context, builder, xoff_, at[3]))
        x = _load(builder, xp, align)
        y = _load(builder, yp, align)
        builder.store(_fma(builder, _splat(builder, alpha_, vecty), x, y), yp, align=align)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def tile_scale(typingctx, Y, yoff, alpha):
    """Y[yoff:yoff+LANES] *= alpha."""
    sig = types.void(Y, yoff, alpha)

    def codegen(context, builder, signature, args):
        at = signature.args
        Y_, yoff_, alpha_ = args
        vecty = _vec_type(context, at[0].dtype)
        align = context.get_abi_sizeof(context.get_value_type(at[0].dtype))
        alpha_ = context.cast(builder, alpha_, at[2], at[0].dtype)
        yp = _ptr(context, builder, at[0], Y_, _i64(context, builder, yoff_, at[1]))
        y = _load(builder, yp, align)
        builder.store(builder.fmul(y, _splat(builder, alpha_, vecty)), yp, align=align)
        return context.get_dummy_value()

    return sig, codegen


def _reduce_many(builder, vecs):
    """LANES vectors of LANES lanes -> one vector whose lane i is the sum of vecs[i]
    (a fixed tree of shuffles and adds: each level halves the segments of a pair
    of vectors and packs them into one)."""
    i32 = ir.IntType(32)
    seg = LANES  # current segment length; each vector holds LANES // seg segments
    while len(vecs) > 1:
        half = seg // 2
        lo_idx, hi_idx = [], []
        for src in range(2):  # first operand, then second
            for start in range(0, LANES, seg):
                base = src * LANES + start
                lo_idx += list(range(base, base + half))
                hi_idx += list(range(base + half, base + seg))
        lo_c = ir.Constant(ir.VectorType(i32, LANES), lo_idx)
        hi_c = ir.Constant(ir.VectorType(i32, LANES), hi_idx)
        vecs = [builder.fadd(builder.shuffle_vector(a, b, lo_c), builder.shuffle_vector(a, b, hi_c))
                for a, b in zip(vecs[0::2], vecs[1::2])]
        seg = half
    return vecs[0]


def _reduce_one(builder, total):
    """The sum of one vector's lanes, by pairwise halving (a fixed order)."""
    n = LANES
    while n > 1:
        n //= 2
        lo = builder.shuffle_vector(total, total, ir.Constant(
            ir.VectorType(ir.IntType(32), n), list(range(n))))
        hi = builder.shuffle_vector(total, total, ir.Constant(
            ir.VectorType(ir.IntType(32), n), list(range(n, 2 * n))))
        total = builder.fadd(lo, hi)
    return builder.extract_element(total, ir.Constant(ir.IntType(32), 0))


@intrinsic
def rows_dot_add(typingctx, r, P, poff, ldp, m, D, ntiles):
    """r[q] += P[poff + q·ldp + (0..ntiles·LANES)] · D[0..ntiles·LANES] for q < m,
    LANES rows at a time (their sums reduced together into one vector)."""
    sig = types.void(r, P, poff, ldp, m, D, ntiles)

    def codegen(context, builder, signature, args):
        at = signature.args
        r_, P_, poff_, ldp_, m_, D_, nt_ = args
        poff_ = _i64(context, builder, poff_, at[2])
        ldp_ = _i64(context, builder, ldp_, at[3])
        m_ = _i64(context, builder, m_, at[4])
        nt_ = _i64(context, builder, nt_, at[6])
        dt = at[1].dtype
        vecty = _vec_type(context, dt)
        align = context.get_abi_sizeof(context.get_value_type(dt))
        i64 = ir.IntType(64)
        lanes = ir.Constant(i64, LANES)
        accs = [cgutils.alloca_once_value(builder, ir.Constant(vecty, None))
                for _ in range(LANES)]
        groups = builder.udiv(m_, lanes)
        with cgutils.for_range(builder, groups) as loop:
            q0 = builder.mul(loop.index, lanes)
            for acc in accs:
                builder.store(ir.Constant(vecty, None), acc)
            with cgutils.for_range(builder, nt_) as inner:
                off = builder.mul(inner.index, lanes)
                dv = _load(builder, _ptr(context, builder, at[5], D_, off), align)
                for u, acc in enumerate(accs):
                    q = builder.add(q0, ir.Constant(i64, u))
                    row = builder.add(poff_, builder.mul(q, ldp_))
                    pv = _load(builder, _ptr(context, builder, at[1], P_, builder.add(row, off)),
                               align)
                    builder.store(_fma(builder, pv, dv, builder.load(acc)), acc)
            sums = _reduce_many(builder, [builder.load(acc) for acc in accs])
            rp = _ptr(context, builder, at[0], r_, q0)
            builder.store(builder.fadd(_load(builder, rp, align), sums), rp, align=align)
        done = builder.mul(groups, lanes)
        acc = accs[0]
        with cgutils.for_range(builder, builder.sub(m_, done)) as loop:
            q = builder.add(done, loop.index)
            row = builder.add(poff_, builder.mul(q, ldp_))
            builder.store(ir.Constant(vecty, None), acc)
            with cgutils.for_range(builder, nt_) as inner:
                off = builder.mul(inner.index, lanes)
                pv = _load(builder, _ptr(context, builder, at[1], P_, builder.add(row, off)), align)
                dv = _load(builder, _ptr(context, builder, at[5], D_, off), align)
                builder.store(_fma(builder, pv, dv, builder.load(acc)), acc)
            s = _reduce_one(builder, builder.load(acc))
            rp = _elem_ptr(context, builder, at[0], r_, q)
            builder.store(builder.fadd(builder.load(rp, align=align), s), rp, align=align)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def tile_inverse(typingctx, H, hoff):
    """In-place Gauss-Jordan inverse of the LANES × LANES block H[hoff:] (row
    stride LANES), held in registers: the same operations, in the same order,
    as one _pivot per column in memory (so the same bits), without a store and
    reload per row and pivot. No pivoting (the block is SPD). Returns 1 when
    every pivot was positive, else 0 (the block then holds garbage)."""
    sig = types.int64(H, hoff)

    def codegen(context, builder, signature, args):
        at = signature.args
        H_, hoff_ = args
        hoff_ = _i64(context, builder, hoff_, at[1])
        dt = context.get_value_type(at[0].dtype)
        vecty = _vec_type(context, at[0].dtype)
        align = context.get_abi_sizeof(dt)
        i32 = ir.IntType(32)
        ptrs = [_ptr(context, builder, at[0], H_,
                     builder.add(hoff_, ir.Constant(ir.IntType(64), i * LANES)))
                for i in range(LANES)]
        rows = [_load(builder, p, align) for p in ptrs]
        one = ir.Constant(dt, 1.0)
        zero = ir.Constant(dt, 0.0)
        ok = ir.Constant(ir.IntType(1), 1)
        for j in range(LANES):
            lane = ir.Constant(i32, j)
            p = builder.extract_element(rows[j], lane)
            ok = builder.and_(ok, builder.fcmp_ordered(">", p, zero))  # false for NaN too
            ip = builder.fdiv(one, p)
            rj = builder.fmul(builder.insert_element(rows[j], one, lane),
                              _splat(builder, ip, vecty))
            for i in range(LANES):
                if i == j:
                    continue
                f = builder.extract_element(rows[i], lane)
                ri = builder.insert_element(rows[i], zero, lane)
                rows[i] = _fma(builder, _splat(builder, builder.fneg(f), vecty), rj, ri)
            rows[j] = rj
        for p, row in zip(ptrs, rows):
            builder.store(row, p, align=align)
        return builder.zext(ok, ir.IntType(64))

    return sig, codegen


# ---------------------------------------------------------------------------
# Dot products of contiguous rows in a fixed order. A floating-point sum left to
# the compiler under the `reassoc` fast-math flag is grouped however LLVM sees fit,
# and the in-process JIT and the object code Numba caches on disk did not see fit
# alike (CG's factors differed in the last bits between a process that compiled
# and one that loaded the cache). These emit the grouping themselves: tiles fused
# into vector accumulators in index order, a tail tile read under a mask (no
# element past the row is touched), the lanes summed by a fixed tree.


def _masked_load(builder, ptr, count, vecty, align):
    """The first `count` (< LANES) elements of the tile at ptr, zeros in the other lanes."""
    i64 = ir.IntType(64)
    idxty = ir.VectorType(i64, LANES)
    mask = builder.icmp_unsigned("<", ir.Constant(idxty, list(range(LANES))),
                                 _splat(builder, count, idxty))
    suffix = "f32" if vecty.element == ir.FloatType() else "f64"
    fnty = ir.FunctionType(vecty, [ptr.type, ir.IntType(32), mask.type, vecty])
    fn = cgutils.get_or_insert_function(builder.module, fnty,
                                        f"llvm.masked.load.v{LANES}{suffix}.p0")
    return builder.call(fn, [ptr, ir.Constant(ir.IntType(32), align), mask,
                             ir.Constant(vecty, None)])


def _reduce_few(builder, vecs):
    """len(vecs) (a power of two <= LANES) vectors -> the list of their lane sums: the
    pairing levels of _reduce_many (which stop at one vector holding a segment per
    input), then each segment halved in place (a fixed tree)."""
    i32 = ir.IntType(32)
    n = len(vecs)
    seg = LANES // n
    v = _reduce_many(builder, vecs)  # segment i (seg lanes) sums vecs[i]
    while seg > 1:
        half = seg // 2
        lo_idx = [s * seg + j for s in range(n) for j in range(half)]
        hi_idx = [s * seg + half + j for s in range(n) for j in range(half)]
        v = builder.fadd(
            builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(i32, len(lo_idx)), lo_idx)),
            builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(i32, len(hi_idx)), hi_idx)))
        seg = half
    return [builder.extract_element(v, ir.Constant(i32, s)) for s in range(n)]


def _rows_dot_codegen(context, builder, dtype, row_ptrs, b_ptr, n):
    """Σ_j row[j]·b[j] for each row of row_ptrs (element pointers of n-long rows) with
    the row b_ptr: one vector accumulator per row takes the full tiles in order, then
    the tail under a mask; the lanes summed by _reduce_few. (Two chains of tiles per
    row measured no faster at k = 64..128: the four rows of rows4_dot already give
    independent chains.)"""
    vecty = _vec_type(context, dtype)
    align = context.get_abi_sizeof(context.get_value_type(dtype))
    i64 = ir.IntType(64)
    lanes = ir.Constant(i64, LANES)
    vptr = vecty.as_pointer()
    accs = [cgutils.alloca_once_value(builder, ir.Constant(vecty, None)) for _ in row_ptrs]

    def tile(off, load):
        bv = load(builder.bitcast(builder.gep(b_ptr, [off]), vptr))
        for rp, acc in zip(row_ptrs, accs):
            av = load(builder.bitcast(builder.gep(rp, [off]), vptr))
            builder.store(_fma(builder, av, bv, builder.load(acc)), acc)

    full = builder.udiv(n, lanes)
    with cgutils.for_range(builder, full) as loop:
        tile(builder.mul(loop.index, lanes), lambda p: _load(builder, p, align))
    start = builder.mul(full, lanes)
    rem = builder.sub(n, start)
    with builder.if_then(builder.icmp_unsigned(">", rem, ir.Constant(i64, 0)), likely=False):
        tile(start, lambda p: _masked_load(builder, p, rem, vecty, align))
    return _reduce_few(builder, [builder.load(acc) for acc in accs])


def _row_data(context, builder, aryty, ary):
    """(pointer to element 0, length) of the 1-d array ary."""
    a = context.make_array(aryty)(context, builder, ary)
    return a.data, cgutils.unpack_tuple(builder, a.shape, 1)[0]


def _contiguous_rows(*arys):
    return all(isinstance(a, types.Array) and a.ndim == 1 and a.layout == "C" for a in arys) \
        and len({a.dtype for a in arys}) == 1


@intrinsic
def row_dot(typingctx, a, b):
    """a · b for C-contiguous 1-d arrays of one float dtype and length (b read for
    a.size elements), summed in a fixed order."""
    if not _contiguous_rows(a, b):
        return None
    sig = a.dtype(a, b)

    def codegen(context, builder, signature, args):
        at = signature.args
        ap, n = _row_data(context, builder, at[0], args[0])
        bp, _ = _row_data(context, builder, at[1], args[1])
        return _rows_dot_codegen(context, builder, at[0].dtype, [ap], bp, n)[0]

    return sig, codegen


@intrinsic
def rows4_dot(typingctx, z0, z1, z2, z3, p):
    """(z0·p, z1·p, z2·p, z3·p) for C-contiguous 1-d arrays of one float dtype and
    length, p's tiles loaded once for the four rows: each sum in the order of
    row_dot, so the same bits as row_dot(zi, p)."""
    if not _contiguous_rows(z0, z1, z2, z3, p):
        return None
    sig = types.UniTuple(p.dtype, 4)(z0, z1, z2, z3, p)

    def codegen(context, builder, signature, args):
        at = signature.args
        ptrs = [_row_data(context, builder, t, v)[0] for t, v in zip(at[:4], args[:4])]
        pp, n = _row_data(context, builder, at[4], args[4])
        sums = _rows_dot_codegen(context, builder, at[4].dtype, ptrs, pp, n)
        return context.make_tuple(builder, signature.return_type, sums)

    return sig, codegen
