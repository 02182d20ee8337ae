"""int8 dot products (AVX-512 VNNI) that flag which items may enter a top-N.

At k = 256 the exact float32 product of all users and items already runs at
the machine's sgemm rate, and the item-norm bound prunes little. vpdpbusd does
64 byte products per instruction, four times an fp32 FMA's 16: the scores of
int8-quantized factors, widened by a rigorous bound on the quantization error,
say which items can beat a user's current N-th score. Only those are scored
exactly (topk.gated_pass), so the result is the exact one.

Layout (bytes): a user is kq groups of 4 unsigned bytes (its int8 values + 128;
vpdpbusd multiplies unsigned by signed bytes); items come in blocks of LANES,
a block being kq groups of 64 bytes (4 consecutive dimensions of each of its
LANES items): one zmm, so that one instruction adds 4 products to each of 16
items' sums. The + 128 is taken back out per item: cs[j] = 128·Σ_t q[j, t].

Only compile on a CPU with avx512vnni (see `available`): LLVM cannot lower the
instruction elsewhere.
"""

import llvmlite.binding as llvm
from llvmlite import ir
from numba import types
from numba.core import cgutils, config
from numba.extending import intrinsic

# LANES items per block: one zmm of int32 sums, as simd's tiles are one of float32
from .simd import LANES, _elem_ptr, _fma, _i64, _splat


def available():
    """Whether Numba compiles for a CPU with AVX-512 VNNI (the host's, unless
    NUMBA_CPU_NAME / NUMBA_CPU_FEATURES say otherwise), and compiles at all."""
    if config.DISABLE_JIT:
        return False
    features = config.CPU_FEATURES if config.CPU_FEATURES is not None else \
        llvm.get_host_cpu_features().flatten() if config.CPU_NAME is None else ""
    have = set(f[1:] for f in features.split(",") if f.startswith("+"))
    return {"avx512f", "avx512bw", "avx512vnni"} <= have


def _vec_ptr(context, builder, aryty, ary, offset, vecty):
    """Element `offset` of the flat array `ary`, as a pointer to vecty."""
    return builder.bitcast(_elem_ptr(context, builder, aryty, ary, offset), vecty.as_pointer())


def _make_flag_tile(rows, blocks):
    """flag_tile(masks, moff, ldm, A, aoff, lda, B, boff, kq, cs, P, npad, ioff, Q, qoff)
    for `rows` users against `blocks` blocks of items: sets bit l of
    masks[moff + r·ldm + b] (uint16) when item j = ioff + b·LANES + l passes
    user r's gate,
        (Σ_t A[aoff + r·lda + t]·B[...] - cs[j])·(s_r·P[j]) + a_r·P[npad + j]
            + c_r·P[2·npad + j] >= thr_r,
    with (s_r, a_r, c_r, thr_r) = Q[qoff + 4r : qoff + 4r + 4] (float32): the
    quantized score plus the bound (see _int8.py), in float32. B holds the
    blocks from byte boff on, kq groups of 64 bytes each; A's users start at
    byte aoff, lda bytes apart. No bounds checks: the caller pads."""

    @intrinsic
    def flag_tile(typingctx, masks, moff, ldm, A, aoff, lda, B, boff, kq, cs, P, npad, ioff, Q,
                  qoff):
        sig = types.void(masks, moff, ldm, A, aoff, lda, B, boff, kq, cs, P, npad, ioff, Q, qoff)

        def codegen(context, builder, signature, args):
            at = signature.args
            (masks_, moff_, ldm_, A_, aoff_, lda_, B_, boff_, kq_, cs_, P_, npad_, ioff_, Q_,
             qoff_) = args
            moff_, ldm_, aoff_, lda_, boff_, kq_, npad_, ioff_, qoff_ = (
                _i64(context, builder, v, at[i]) for v, i in
                zip((moff_, ldm_, aoff_, lda_, boff_, kq_, npad_, ioff_, qoff_),
                    (1, 2, 4, 5, 7, 8, 11, 12, 14)))
            i16, i32, i64 = (ir.IntType(b) for b in (16, 32, 64))
            f32 = ir.FloatType()
            v16i = ir.VectorType(i32, LANES)
            v16f = ir.VectorType(f32, LANES)
            dpbusd = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(v16i, [v16i] * 3), "llvm.x86.avx512.vpdpbusd.512")
            accs = [[cgutils.alloca_once_value(builder, ir.Constant(v16i, None))
                     for _ in range(blocks)] for _ in range(rows)]
            block_bytes = builder.mul(kq_, ir.Constant(i64, 64))
            with cgutils.for_range(builder, kq_) as loop:
                t4 = builder.mul(loop.index, ir.Constant(i64, 4))
                bvec = [builder.load(_vec_ptr(context, builder, at[6], B_, builder.add(
                    boff_, builder.add(builder.mul(ir.Constant(i64, b), block_bytes),
                                       builder.mul(loop.index, ir.Constant(i64, 64)))), v16i),
                    align=1) for b in range(blocks)]
                for r in range(rows):
                    off = builder.add(aoff_,
                                      builder.add(builder.mul(ir.Constant(i64, r), lda_), t4))
                    word = builder.load(_vec_ptr(context, builder, at[3], A_, off, i32), align=1)
                    avec = _splat(builder, word, v16i)
                    for b in range(blocks):
                        acc = accs[r][b]
                        builder.store(builder.call(dpbusd, [builder.load(acc), avec, bvec[b]]), acc)
            for b in range(blocks):
                item = builder.add(ioff_, ir.Constant(i64, b * LANES))
                csv = builder.load(_vec_ptr(context, builder, at[9], cs_, item, v16i), align=4)
                sv, ny, ey = (builder.load(_vec_ptr(context, builder, at[10], P_, builder.add(
                    builder.mul(ir.Constant(i64, p), npad_), item), v16f), align=4)
                    for p in range(3))
                for r in range(rows):
                    qr = builder.add(qoff_, ir.Constant(i64, 4 * r))
                    su, a, c, thr = (_splat(builder, builder.load(_elem_ptr(
                        context, builder, at[13], Q_, builder.add(qr, ir.Constant(i64, p)))), v16f)
                        for p in range(4))
                    x = builder.sitofp(builder.sub(builder.load(accs[r][b]), csv), v16f)
                    ub = _fma(builder, x, builder.fmul(su, sv), _fma(builder, a, ny,
                                                                     builder.fmul(c, ey)))
                    bits = builder.bitcast(builder.fcmp_ordered(">=", ub, thr), i16)
                    mp = _elem_ptr(context, builder, at[0], masks_, builder.add(
                        moff_, builder.add(builder.mul(ir.Constant(i64, r), ldm_),
                                           ir.Constant(i64, b))))
                    builder.store(bits, mp)
            return context.get_dummy_value()

        return sig, codegen

    return flag_tile


# users × item blocks per call: 8 × 32 items, 16 zmm sums (measured at k = 256:
# 4 × 4, 6 × 3, 8 × 2, 8 × 3 and 12 × 2 all within 10%; 16 × 1 20% slower);
# topk.gated_pass reads the 16 masks as four 64-bit words
ROWS, BLOCKS = 8, 2
flag_tile = _make_flag_tile(ROWS, BLOCKS)
