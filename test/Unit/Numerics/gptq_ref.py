# ===- gptq_ref.py - NumPy reference of RTN and GPTQ ---------------------===#
#
# A straightforward implementation of the algorithms of lib/Numerics, to
# check the C++ against:
#
#  - find_params / quantize: GPTQ's Quantizer in float32 arithmetic (this is
#    the exact specification: the C++ must match it bit for bit);
#  - gptq: the *unblocked* algorithm (every column's error is propagated to
#    all later columns at once) in float64, with the inverse Hessian factor
#    computed as chol((H + damp I)^-1). The C++ uses lazy block updates in
#    float32 and another (equivalent) route to the factor, so the two agree
#    up to rounding: a few codes near a rounding boundary may differ.
#
# ===----------------------------------------------------------------------===#

import numpy as np

F32 = np.float32


def round_scale(scale, scale_type):
    """Rounds float32 scales to the storage type, kept positive and finite
    (as GroupQuantizer::roundScale)."""
    scale = np.asarray(scale, dtype=F32)
    if scale_type == "f32":
        lo, hi, r = np.finfo(F32).smallest_subnormal, np.finfo(F32).max, scale
    elif scale_type == "f16":
        with np.errstate(over="ignore"):
            r = scale.astype(np.float16).astype(F32)
        lo, hi = F32(2.0**-24), F32(65504.0)
    elif scale_type == "bf16":
        u = scale.view(np.uint32).astype(np.uint64)
        u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
        r = u.astype(np.uint32).view(F32)
        lo, hi = F32(2.0**-133), F32(np.float32(3.3895313892515355e38))
    else:
        raise ValueError(scale_type)
    r = np.where(r >= lo, r, lo)
    return np.where(r > hi, hi, r).astype(F32)


def quantize(x, scale, zero, maxq):
    """Codes (as float32) of x for per-row scale/zero; float32 arithmetic."""
    q = np.round(x.astype(F32) / scale[:, None]) + zero[:, None]
    return np.clip(q, F32(0), F32(maxq)).astype(F32)


def find_params(x, bits, sym, mse=False, norm=2.4, grid=100, maxshrink=0.8,
                scale_type="f32"):
    """Per-row scale and zero point of x [rows, cols] (float32)."""
    x = np.asarray(x, dtype=F32)
    maxq = F32(2**bits - 1)
    z32 = np.zeros(x.shape[0], F32)
    xmin = np.minimum(x.min(1), z32)
    xmax = np.maximum(x.max(1), z32)
    if sym:
        xmax = np.maximum(np.abs(xmin), xmax)
        xmin = np.where(xmin < 0, -xmax, xmin)
    both = (xmin == 0) & (xmax == 0)
    xmin = np.where(both, F32(-1), xmin).astype(F32)
    xmax = np.where(both, F32(1), xmax).astype(F32)

    def params(lo, hi):
        scale = round_scale((hi - lo) / maxq, scale_type)
        if sym:
            zero = np.full_like(scale, F32(2**(bits - 1)))
        else:
            zero = np.round(np.clip(-lo / scale, F32(0), maxq)).astype(F32)
        return scale, zero

    scale, zero = params(xmin, xmax)
    if not mse:
        return scale, zero
    best = np.full(x.shape[0], np.inf)
    for i in range(int(maxshrink * grid)):
        p = F32(1 - i / grid)
        s1, z1 = params(p * xmin, p * xmax)
        q = quantize(x, s1, z1, maxq)
        d = np.abs(s1[:, None] * (q - z1[:, None]) - x).astype(np.float64)
        err = (d**norm).sum(1)
        better = err < best
        best[better] = err[better]
        scale[better] = s1[better]
        zero[better] = z1[better]
    return scale, zero


def rtn(W, bits, group_size, sym, **kw):
    """Round-to-nearest: codes [N, K] u8, scales [N, G], zeros [N, G]."""
    N, K = W.shape
    width = K if group_size == -1 else group_size
    G = (K + width - 1) // width
    codes = np.zeros((N, K), np.uint8)
    scales = np.zeros((N, G), F32)
    zeros = np.zeros((N, G), F32)
    for g in range(G):
        x = W[:, g * width:(g + 1) * width].astype(F32)
        s, z = find_params(x, bits, sym, **kw)
        scales[:, g], zeros[:, g] = s, z
        codes[:, g * width:(g + 1) * width] = quantize(x, s, z, 2**bits - 1)
    return codes, scales, zeros


def gptq(W, H, bits, group_size, sym, act_order=False, static_groups=False,
         damp=0.01, **kw):
    """Unblocked GPTQ in float64. Returns codes [N, K] (original column
    order), scales [N, G], zeros [N, G], perm (or None) and the loss."""
    W = np.array(W, dtype=np.float64)
    H = np.array(H, dtype=np.float64)
    N, K = W.shape
    maxq = 2**bits - 1
    per_channel = group_size == -1
    static = static_groups and not per_channel
    dynamic = not per_channel and not static
    width = K if per_channel else group_size
    G = (K + width - 1) // width

    dead = np.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0

    scales = np.zeros((N, G), F32)
    zeros = np.zeros((N, G), F32)
    if not dynamic:
        for g in range(G):
            s, z = find_params(W[:, g * width:(g + 1) * width].astype(F32),
                               bits, sym, **kw)
            scales[:, g], zeros[:, g] = s, z

    perm = np.arange(K)
    if act_order:
        perm = np.argsort(-np.diag(H).astype(F32), kind="stable")
    W = W[:, perm]
    H = H[perm][:, perm]
    H[np.diag_indices(K)] += damp * np.mean(np.diag(H))
    L = np.linalg.cholesky(H)
    Linv = np.linalg.inv(L)
    U = np.linalg.cholesky(Linv.T @ Linv).T  # (H)^-1 = U^T U

    codes = np.zeros((N, K), np.uint8)
    loss = 0.0
    s = z = None
    for c in range(K):
        if dynamic and c % width == 0:
            s, z = find_params(W[:, c:c + width].astype(F32), bits, sym, **kw)
            scales[:, c // width], zeros[:, c // width] = s, z
        if not dynamic:
            g = 0 if per_channel else perm[c] // width
            s, z = scales[:, g], zeros[:, g]
        w = W[:, c].astype(F32)
        q = quantize(w[:, None], s, z, maxq)[:, 0]
        dq = (s * (q - z)).astype(F32)
        codes[:, perm[c]] = q.astype(np.uint8)
        err = (W[:, c] - dq) / U[c, c]
        loss += float((err**2).sum())
        W[:, c + 1:] -= np.outer(err, U[c, c + 1:])
    has_perm = act_order and dynamic
    return codes, scales, zeros, (perm if has_perm else None), loss / 2


def group_index(K, group_size, perm):
    if group_size == -1:
        return np.zeros(K, np.int64)
    if perm is None:
        return np.arange(K) // group_size
    g = np.zeros(K, np.int64)
    g[perm] = np.arange(K) // group_size
    return g


def dequantize(codes, scales, zeros, group_size, perm):
    g = group_index(codes.shape[1], group_size, perm)
    return (scales[:, g] * (codes.astype(F32) - zeros[:, g])).astype(F32)


def relative_error(W, Q, H):
    """tr((W - Q) H (W - Q)^T) / tr(W H W^T) in float64."""
    W = W.astype(np.float64)
    D = W - Q.astype(np.float64)
    H = H.astype(np.float64)
    return float(np.einsum("ij,jk,ik->", D, H, D) /
                 np.einsum("ij,jk,ik->", W, H, W))
