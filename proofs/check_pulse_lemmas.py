"""Machine check of proofs/pulse_lemmas.md (run by pytest; exact arithmetic and sympy only).

exactnet's own formulation (docs/definitions.md) of the pulse / disk radius task of
Dagès, Lindenbaum, Bruckstein (arXiv 2303.06638), whose full text we could not consult.

1. Lemma 1, symbolically: for k = 1..4 and symbolic r, M (every r >= (k-1)//2 with
   M - r >= k - 1), the windows of the valid convolution are partitioned into the five
   classes of the proof, each class has the claimed content, S(r) has the closed form with
   symbolic w, b (ReLU as sympy Max), the slope identity holds, and in every sign case of
   (b, sum(w) + b) the read-out alpha = 1/slope, beta = -alpha S(0) gives y - r == 0; the
   read-out is unique (two radii) and several filters add their weighted slopes.
2. Lemma 1, exhaustively: every filter over a grid of rationals (k = 1..4), every bias of a
   grid, several M, every radius 0..M: the closed form against a brute-force convolution of
   exactnet.pulse.pulse_signal on the sharp range, witnesses that the range is sharp,
   lemma1_readout / lemma1_network against the brute force, the instance and its failure
   at r = 0, pairs of filters.
3. Lemma 2: the clamp symbolically (a = a_min + t, t >= 0), y == r symbolically, hardtanh
   = the two-ReLU clamp, the networks exactly on amplitudes up to 10^6, the raw sum does
   not determine r.
4. Smooth activations: the kernel-1 reduction with a symbolic activation, the one-channel
   corollary (sigmoid, tanh strictly increasing), exact least-squares read-outs of sigmoid
   networks that stay inexact, and the C-infinity (non-analytic) step that is exact.
5. The disk: lattice counts against brute force, the read-out through (L(r), r), the
   neuron count of Theorem 2 recomputed by hand, smaller read-outs exact on integer radii,
   the disk network on every radius, real radii with identical images.
"""

from __future__ import annotations

import itertools
from fractions import Fraction as F

import pytest
import sympy as sp

from exactnet.pulse import (
    disk_image,
    disk_network,
    disk_readout,
    lattice_count,
    lemma1_instance,
    lemma1_network,
    lemma1_readout,
    lemma2_clamp,
    lemma2_relu,
    pulse_signal,
)
from exactnet.theory.thresholds import minimal_neurons


def _relu(z):
    return z if z > 0 else F(0)


def _conv_relu_sum(w, b, x):
    """S = sum_p relu(sum_i w_i x_{p+i} + b): a direct valid convolution, no formula."""
    k = len(w)
    return sum(
        (_relu(sum((wi * xi for wi, xi in zip(w, x[p : p + k])), F(0)) + b) for p in range(len(x) - k + 1)), F(0)
    )


def _closed_form(w, b, M, r):
    """Lemma 1's S(r) = C_edge + (N - 2k - 2r + 1) relu(b) + (2r + 2 - k) relu(sum w + b)."""
    k, n = len(w), 2 * M + 1
    edge = sum((_relu(sum(w[:m], F(0)) + b) + _relu(sum(w[k - m :], F(0)) + b) for m in range(1, k)), F(0))
    return edge + (n - 2 * k - 2 * r + 1) * _relu(b) + (2 * r + 2 - k) * _relu(sum(w, F(0)) + b)


def _sharp_range(k, M):
    """The radii where the proof's window classification holds: 2r + 2 >= k, M - r >= k - 1."""
    return (k - 1) // 2, M - k + 1


# ============================================================== 1. Lemma 1, symbolic
def _window_classes(k, r, M):
    """The proof's classes in order of the window start p: (name, p_lo, p_hi, taps equal to 1)."""
    out = [("zeros-left", sp.Integer(0), M - r - k, ())]
    out += [(f"left-edge {j}", M - r - j, M - r - j, tuple(range(j, k))) for j in range(k - 1, 0, -1)]
    out.append(("ones", M - r, M + r - k + 1, tuple(range(k))))
    out += [(f"right-edge {j}", M + r - k + 1 + j, M + r - k + 1 + j, tuple(range(k - j))) for j in range(1, k)]
    out.append(("zeros-right", M + r + 1, 2 * M + 1 - k, ()))
    return out


def _sym_relu(z):
    return sp.Max(0, z)


def _sym_closed_form(w, b, r, N):
    k = len(w)
    edge = sum((_sym_relu(sum(w[:m]) + b) + _sym_relu(sum(w[k - m :]) + b) for m in range(1, k)), sp.Integer(0))
    return edge + (N - 2 * k - 2 * r + 1) * _sym_relu(b) + (2 * r + 2 - k) * _sym_relu(sum(w) + b)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_lemma1_window_classification_symbolic(k):
    """For every r >= (k-1)//2 and M >= r + k - 1 (r = r0 + u, M = r + k - 1 + v with
    symbolic integers u, v >= 0) the classes tile 0..N-k and have the claimed contents.

    Tap i of window p is 1 iff lo = p + i - (M - r) >= 0 and hi = M + r - p - i >= 0. In a
    class p_lo <= p <= p_hi, lo grows and hi decreases with p: a tap is 1 on the whole class
    if lo(p_lo) >= 0 and hi(p_hi) >= 0, and 0 on the whole class if lo(p_hi) < 0 or
    hi(p_lo) < 0. sympy decides each sign from u, v >= 0 alone."""
    r, M = sp.symbols("r M", integer=True)
    u, v = sp.symbols("u v", integer=True, nonnegative=True)
    at = {r: (k - 1) // 2 + u, M: (k - 1) // 2 + u + k - 1 + v}
    classes = _window_classes(k, r, M)
    assert classes[0][1] == 0 and sp.expand(classes[-1][2] - (2 * M + 1 - k)) == 0
    for (_, _, hi_prev, _), (_, lo_next, _, _) in itertools.pairwise(classes):
        assert sp.expand(lo_next - hi_prev - 1) == 0  # consecutive: no gap, no overlap
    counts = {}
    for name, p_lo, p_hi, ones in classes:
        count = sp.expand(p_hi - p_lo + 1)
        assert sp.expand(count.subs(at)).is_nonnegative, (k, name, count)
        counts[name] = count
        for i in range(k):

            def lo_at(p, i=i):
                return sp.expand((p + i - (M - r)).subs(at))

            def hi_at(p, i=i):
                return sp.expand((M + r - p - i).subs(at))

            if i in ones:
                assert lo_at(p_lo).is_nonnegative and hi_at(p_hi).is_nonnegative, (k, name, i)
            else:
                assert lo_at(p_hi).is_negative or hi_at(p_lo).is_negative, (k, name, i)
    # the counts of the proof
    N = 2 * M + 1
    assert sp.expand(counts["ones"] - (2 * r + 2 - k)) == 0
    assert sp.expand(counts["zeros-left"] + counts["zeros-right"] - (N - 2 * k - 2 * r + 1)) == 0
    assert all(counts[f"{side}-edge {j}"] == 1 for side in ("left", "right") for j in range(1, k))
    assert sp.expand(sum(counts.values()) - (N - k + 1)) == 0  # every window of the valid conv
    # S(r) summed class by class, with symbolic w and b, is the closed form
    w = sp.symbols(f"w0:{k}", real=True)
    b = sp.Symbol("b", real=True)
    S = sum(
        (
            c * _sym_relu(sum((w[i] for i in ones), sp.Integer(0)) + b)
            for (name, _, _, ones), c in zip(classes, counts.values())
        ),
        sp.Integer(0),
    )
    assert sp.expand(S - _sym_closed_form(w, b, r, N)) == 0


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_lemma1_slope_and_readout_symbolic(k):
    """Slope identity at fixed N; the four sign cases of (b, sum(w) + b) with the read-out
    alpha = 1/slope, beta = -alpha S(0): y - r == 0 identically whenever slope != 0."""
    r, N = sp.symbols("r N", integer=True)
    w = list(sp.symbols(f"w0:{k}", real=True))
    b = sp.Symbol("b", real=True)
    S = _sym_closed_form(w, b, r, N)
    slope = 2 * (_sym_relu(sum(w) + b) - _sym_relu(b))
    assert sp.expand(S.subs(r, r + 1) - S - slope) == 0
    assert sp.expand(S - S.subs(r, 0) - slope * r) == 0  # affine in r
    B, T = sp.symbols("B T", positive=True)
    for sb, st in itertools.product((-1, 0, 1), repeat=2):
        # b has sign sb, sum(w) + b has sign st: b = sb B, w_{k-1} = st T - b - (other taps)
        case = {b: sb * B, w[-1]: st * T - sb * B - sum(w[:-1])}
        s_case = sp.simplify(slope.subs(case))
        assert sp.simplify(s_case - 2 * (max(st, 0) * T - max(sb, 0) * B)) == 0, (sb, st)
        S_case = S.subs(case)
        if st <= 0 and sb <= 0:  # relu(sum w + b) = relu(b) = 0: S does not depend on r
            assert s_case == 0 and sp.diff(S_case, r) == 0
            continue
        alpha = 1 / s_case
        beta = -alpha * S_case.subs(r, 0)
        assert sp.simplify(alpha * S_case + beta - r) == 0, (k, sb, st)
    # sb = st = 1 with T = B (sum(w) = 0, b > 0): slope 0 again
    assert sp.simplify(slope.subs({b: B, w[-1]: B - B - sum(w[:-1])})) == 0


def test_lemma1_readout_is_unique_and_filters_add_slopes():
    """y = alpha (S0 + s r) + beta equals r at two radii r1 != r2 iff alpha = 1/s,
    beta = -S0/s; with s = 0 there is no solution. C filters: y - r is affine in r with
    coefficients (sum_c alpha_c s_c - 1, sum_c alpha_c S_c0 + beta)."""
    alpha, beta, S0, s, r, r1 = sp.symbols("alpha beta S0 s r r1", real=True)
    d = sp.Symbol("d", positive=True)  # r2 = r1 + d
    eqs = [alpha * (S0 + s * q) + beta - q for q in (r1, r1 + d)]
    sol = sp.solve(eqs, [alpha, beta], dict=True)
    assert len(sol) == 1 and sp.simplify(sol[0][alpha] - 1 / s) == 0 and sp.simplify(sol[0][beta] + S0 / s) == 0
    assert sp.linsolve([e.subs(s, 0) for e in eqs], [alpha, beta]) == sp.EmptySet
    for C in (1, 2, 3):
        a = sp.symbols(f"a0:{C}", real=True)
        s_c = sp.symbols(f"s0:{C}", real=True)
        S_c0 = sp.symbols(f"S0:{C}", real=True)
        y = sum(a[c] * (S_c0[c] + s_c[c] * r) for c in range(C)) + beta
        poly = sp.Poly(sp.expand(y - r), r)
        assert poly.degree() <= 1
        assert sp.expand(poly.coeff_monomial(r) - (sum(a[c] * s_c[c] for c in range(C)) - 1)) == 0
        assert sp.expand(poly.coeff_monomial(1) - (sum(a[c] * S_c0[c] for c in range(C)) + beta)) == 0


# ============================================================== 2. Lemma 1, exhaustive
W_GRID = (F(-1), F(-1, 2), F(0), F(1, 2), F(1))
W_GRID_4 = (F(-1), F(0), F(1))  # k = 4 on a coarser grid
B_GRID = (F(-3, 2), F(-1, 2), F(0), F(1, 2), F(1))
M_VALUES = (3, 4, 6)


def _filters():
    for k in (1, 2, 3):
        yield from itertools.product(W_GRID, repeat=k)
    yield from itertools.product(W_GRID_4, repeat=4)


def test_lemma1_exhaustive_closed_form_and_readout():
    outside_mismatch = {}  # (k, "below" / "above") -> a witness that the range is sharp
    n_checked = n_readouts = 0
    for w in _filters():
        k = len(w)
        for b, M in itertools.product(B_GRID, M_VALUES):
            lo, hi = _sharp_range(k, M)
            S = {r: _conv_relu_sum(w, b, pulse_signal(M, r)) for r in range(M + 1)}
            for r in range(M + 1):
                closed = _closed_form(w, b, M, r)
                if lo <= r <= hi:
                    assert S[r] == closed, (w, b, M, r)
                    n_checked += 1
                elif S[r] != closed:
                    outside_mismatch.setdefault((k, "below" if r < lo else "above"), (w, b, M, r))
            slope = 2 * (_relu(sum(w, F(0)) + b) - _relu(b))
            code_lo, code_hi = -(-(k - 1) // 2), M - k + 1  # the code's range: ceil((k-1)/2) <= r <= M-k+1
            if code_lo > code_hi:
                with pytest.raises(ValueError):
                    lemma1_readout(w, b, M)
                continue
            if slope == 0:  # the filter cannot see r: S constant on the range, no read-out
                assert len({S[r] for r in range(lo, hi + 1)}) == 1
                with pytest.raises(ValueError, match="does not depend on r"):
                    lemma1_readout(w, b, M)
                continue
            alpha, beta, radii = lemma1_readout(w, b, M)
            assert radii == (code_lo, code_hi) and lo <= code_lo
            # y = r on the code's radii and on the whole sharp range (one more radius for even k)
            for r in range(lo, hi + 1):
                assert alpha * S[r] + beta == r, (w, b, M, r)
            if hi - lo >= 1:  # uniqueness: the read-out is forced by two radii of the brute force
                a2 = F(1) / (S[lo + 1] - S[lo])
                assert (alpha, beta) == (a2, lo - a2 * S[lo])
            n_readouts += 1
    assert n_checked == 8020 and n_readouts > 1000, (n_checked, n_readouts)
    # the sharp range cannot be widened: the closed form fails just outside it for some filter
    for k in (2, 3, 4):
        assert (k, "above") in outside_mismatch
    for k in (3, 4):
        assert (k, "below") in outside_mismatch
    # the witness named in the proof: w = (1, 0, ..., 0), b = 0 at r = M - k + 2 (S is 1 short)
    for k in (2, 3, 4):
        w, M = (F(1),) + (F(0),) * (k - 1), 6
        r = M - k + 2
        assert 2 * r + 2 >= k  # only the upper condition of (H) fails
        assert _closed_form(w, F(0), M, r) - _conv_relu_sum(w, F(0), pulse_signal(M, r)) == 1


def test_lemma1_networks_forward_exactly():
    """lemma1_network's exact network on every radius of its claim, for every k = 2 filter
    of the grid with a nonzero slope, and on the extra radius r = 0 of the sharp range."""
    M, seen = 4, 0
    for w in itertools.product(W_GRID, repeat=2):
        for b in B_GRID:
            if _relu(sum(w) + b) == _relu(b):
                continue
            c = lemma1_network(w, b, M)
            for r in range(M):  # 0..M-1: (H)'s range for k = 2, one more radius than the code's
                assert c.network.forward_exact(pulse_signal(M, r))[0] == r, (w, b, r)
            seen += 1
    assert seen > 50


def test_lemma1_instance_and_its_failure_at_zero():
    w, b = (F(1), F(1), F(1)), F(-2)
    for M in range(2, 9):
        c = lemma1_instance(M)
        assert c.radii == (1, M)
        for r in range(M + 1):
            S = _conv_relu_sum(w, b, pulse_signal(M, r))
            assert S == (2 * r - 1 if r >= 1 else 0)  # only all-ones windows fire
            y = c.network.forward_exact(pulse_signal(M, r))[0]
            assert y == (S + 1) / 2
            assert y == (r if r >= 1 else F(1, 2))  # exact for 1 <= r <= M; fails at r = 0
        # S(0), S(1), S(2) = 0, 1, 3 are not affine in r: no read-out of this filter is exact on 0..2
        S = [_conv_relu_sum(w, b, pulse_signal(M, r)) for r in range(3)]
        assert S[2] - S[1] != S[1] - S[0]


def test_several_filters_add_slopes():
    """Two filters of length 2: any alpha_1, alpha_2 with alpha_1 s_1 + alpha_2 s_2 = 1 and
    the matching beta are exact; perturbing the slope condition is not."""
    M, grid = 5, (F(-1), F(0), F(1))
    singles = [(w, b) for w in itertools.product(grid, repeat=2) for b in grid]
    n = 0
    for (w1, b1), (w2, b2) in itertools.product(singles, repeat=2):
        s1 = 2 * (_relu(sum(w1) + b1) - _relu(b1))
        s2 = 2 * (_relu(sum(w2) + b2) - _relu(b2))
        if s2 == 0:
            continue
        lo, hi = _sharp_range(2, M)
        S1 = {r: _conv_relu_sum(w1, b1, pulse_signal(M, r)) for r in range(lo, hi + 1)}
        S2 = {r: _conv_relu_sum(w2, b2, pulse_signal(M, r)) for r in range(lo, hi + 1)}
        for a1 in (F(-1, 3), F(0), F(2)):
            a2 = (1 - a1 * s1) / s2
            beta = -(a1 * _closed_form(w1, b1, M, 0) + a2 * _closed_form(w2, b2, M, 0))
            assert all(a1 * S1[r] + a2 * S2[r] + beta == r for r in S1)
            bad = a2 + F(1, 7)  # a1 s1 + bad s2 != 1
            assert any(a1 * S1[r] + bad * S2[r] + beta != r for r in S1)
            n += 1
    assert n > 500


def test_binary_pulse_radius_is_linear_in_the_sum():
    for M in range(1, 9):
        for r in range(M + 1):
            assert (sum(pulse_signal(M, r)) - 1) / 2 == r


# ============================================================== 3. Lemma 2
def test_lemma2_clamp_and_readout_symbolic():
    a_min = sp.Symbol("a_min", positive=True)
    t = sp.Symbol("t", nonnegative=True)  # a = a_min + t ranges over [a_min, oo)
    s = sp.Symbol("s", nonnegative=True)
    r, N = sp.symbols("r N", integer=True)

    def clamp(x):
        return sp.Max(0, x / a_min) - sp.Max(0, x / a_min - 1)

    a = a_min + t
    assert sp.simplify(clamp(a) - 1) == 0 and clamp(sp.Integer(0)) == 0
    # below a_min the clamp is a / a_min < 1 (so a_min is needed): a = a_min / (1 + s)
    assert sp.simplify(clamp(a_min / (1 + s)) - 1 / (1 + s)) == 0
    # two ReLU channels (weights 1/a_min, biases 0 and -1), sums over 2r+1 pulse samples and
    # N-2r-1 zeros, y = (S_1 - S_2 - 1)/2
    S1 = (2 * r + 1) * sp.Max(0, a / a_min) + (N - 2 * r - 1) * sp.Max(0, 0)
    S2 = (2 * r + 1) * sp.Max(0, a / a_min - 1) + (N - 2 * r - 1) * sp.Max(0, -1)
    assert sp.simplify((S1 - S2 - 1) / 2 - r) == 0
    # the single clamp activation: hardtanh(z; 0, 1) = relu(z) - relu(z - 1) for every real z
    for z in (-s, s / (1 + s), 1 + s):  # z <= 0, 0 <= z < 1, z >= 1
        assert sp.simplify(sp.Min(1, sp.Max(0, z)) - (sp.Max(0, z) - sp.Max(0, z - 1))) == 0


def test_lemma2_networks_exact_on_amplitudes():
    amps_rel = (F(1), F(1001, 1000), F(3, 2), F(2), F(7, 3), F(4), F(10**6))
    for M, a_min in ((3, F(1)), (5, F(1, 3)), (4, F(5, 2))):
        for make in (lemma2_relu, lemma2_clamp):
            net = make(M, a_min, a_min * 10**6).network
            for r in range(M + 1):
                for q in amps_rel:
                    x = pulse_signal(M, r, a_min * q)
                    assert net.forward_exact(x)[0] == r
                    c = sum((_relu(xi / a_min) - _relu(xi / a_min - 1) for xi in x), F(0))
                    assert c == 2 * r + 1  # the clamp binarises every sample
                # below a_min the output is (2r+1) a / (2 a_min) - 1/2 != r
                a = a_min * F(2, 3)
                assert net.forward_exact(pulse_signal(M, r, a))[0] == (2 * r + 1) * F(1, 3) - F(1, 2) != r


def test_raw_sum_does_not_determine_the_radius():
    """(a (2r+3)/(2r+1), r) and (a, r+1) have the same raw sum; both amplitudes are >= a_min."""
    M, a_min = 6, F(1)
    for r in range(M):
        for a in (a_min, F(3, 2), F(5)):
            a_big = a * (2 * r + 3) / (2 * r + 1)
            assert a_big >= a_min
            x, x2 = pulse_signal(M, r, a_big), pulse_signal(M, r + 1, a)
            assert sum(x) == sum(x2) and x != x2
    # in the default range [1, 4]: (a = 3, r = 0) and (a = 1, r = 1) both sum to 3
    assert sum(pulse_signal(4, 0, 3)) == sum(pulse_signal(4, 1, 1)) == 3


# ============================================================== 4. Smooth activations
@pytest.mark.parametrize("C", [1, 2, 3])
def test_kernel1_reduction_with_any_activation(C):
    """Kernel-1 conv with C channels, any activation sigma, sum pooling, affine read-out:
    y(a, r) = (2r+1)(g(a) - g(0)) + N g(0) + beta with g(a) = sum_c alpha_c sigma(w_c a + b_c);
    exactness at r = 0 and r = 1 for one amplitude a forces g(a) - g(0) = 1/2 and
    beta = -1/2 - N g(0), and these give y = r for every r. At a = 0 the input is the zero
    signal for every r, and y(0, r) does not depend on r."""
    sigma = sp.Function("sigma")
    a, r, N = sp.symbols("a r N", real=True)
    w = sp.symbols(f"w0:{C}", real=True)
    b = sp.symbols(f"b0:{C}", real=True)
    al = sp.symbols(f"alpha0:{C}", real=True)
    beta = sp.Symbol("beta", real=True)

    def g(q):
        return sum(al[c] * sigma(w[c] * q + b[c]) for c in range(C))

    # sum pooling of each channel over 2r+1 samples of value a and N-2r-1 zeros
    y = sum(al[c] * ((2 * r + 1) * sigma(w[c] * a + b[c]) + (N - 2 * r - 1) * sigma(b[c])) for c in range(C)) + beta
    assert sp.expand(y - ((2 * r + 1) * (g(a) - g(0)) + N * g(0) + beta)) == 0
    G, G0 = sp.symbols("G G0", real=True)  # stand-ins for g(a), g(0)
    yy = (2 * r + 1) * (G - G0) + N * G0 + beta
    sol = sp.solve([yy.subs(r, 0) - 0, yy.subs(r, 1) - 1], [G, beta], dict=True)
    assert len(sol) == 1 and sp.expand(sol[0][G] - G0 - sp.Rational(1, 2)) == 0
    assert sp.expand(sol[0][beta] + sp.Rational(1, 2) + N * G0) == 0
    assert sp.expand(yy.subs(sol[0]) - r) == 0
    assert sp.diff(y.subs(a, 0), r) == 0  # the all-zero input: same output for every radius


def test_sigmoid_and_tanh_are_strictly_increasing():
    """The one-channel corollary's hypothesis: sigma' > 0 on R (sympy decides the sign)."""
    z = sp.Symbol("z", real=True)
    sig = 1 / (1 + sp.exp(-z))
    assert sp.diff(sig, z).is_positive
    d_tanh = sp.simplify(sp.diff(sp.tanh(z), z).rewrite(sp.exp))
    assert d_tanh.is_positive
    assert sp.simplify((sp.tanh(z) - (2 * sig.subs(z, 2 * z) - 1)).rewrite(sp.exp)) == 0


def _sigmoid_features(lam, M, a, r, channels):
    """Channel c has pre-activation kappa_c (a - h_c) with e^(kappa_c / 2) = lam_c and
    h_c = 1/2, so sigma = q/(1 + q), q = lam_c^(2a - 1): rational for integer a >= 0."""
    N = 2 * M + 1
    feats = []
    for e in channels:
        lam_c = lam**e

        def sig(a_, lam_c=lam_c):
            q = F(lam_c) ** (2 * a_ - 1)
            return q / (1 + q)

        feats.append((2 * r + 1) * sig(a) + (N - 2 * r - 1) * sig(0))
    return feats + [F(1)]


@pytest.mark.parametrize("channels", [(1,), (1, 2)])
def test_sigmoid_networks_are_never_exact_on_an_amplitude_range(channels):
    """For sigmoid steps of growing steepness, the exact least-squares read-out over
    amplitudes {1, 2, 3, 4} and radii 0..R has a positive residual (so no read-out is exact
    on [1, 4]); it shrinks with steepness (approximation, never exactness). One channel:
    the least-squares outputs at r = 1 differ between two amplitudes."""
    M, R, amps = 5, 4, (1, 2, 3, 4)
    residuals = []
    for lam in (3, 10, 100):
        rows = [(_sigmoid_features(lam, M, a, r, channels), r) for a in amps for r in range(R + 1)]
        X = sp.Matrix([[sp.Rational(v.numerator, v.denominator) for v in f] for f, _ in rows])
        yv = sp.Matrix([r for _, r in rows])
        coef = (X.T * X).LUsolve(X.T * yv)
        assert X.T * (X * coef - yv) == sp.zeros(X.cols, 1)  # normal equations hold exactly
        fit = X * coef
        res = sum((fit[i] - yv[i]) ** 2 for i in range(len(rows)))
        assert res > 0
        residuals.append(res)
        if len(channels) == 1:
            y_at = {a: fit[amps.index(a) * (R + 1) + 1] for a in (1, 4)}  # r = 1
            assert y_at[1] != y_at[4]
    assert residuals[0] > residuals[1] > residuals[2] > 0


def test_steep_sigmoid_error_bound():
    """One channel sigma(kappa (a - 1/2)) (a_min = 1), alpha = 1/2, beta = -1/2 - N g(0):
    0 < |y - r| <= (2r + 1) sigma(-kappa/2) for every a >= 1, checked exactly at integer a
    (e^(kappa/2) = lam makes every value rational): arbitrarily small, never zero."""
    M = 5
    N = 2 * M + 1
    for lam in (2, 3, 10, 1000):

        def sig(a, lam=lam):  # sigma(kappa (a - 1/2)) with e^(kappa/2) = lam
            q = F(lam) ** (2 * a - 1)
            return q / (1 + q)

        g0 = sig(0) / 2
        beta = -F(1, 2) - N * g0
        for a in range(1, 9):
            for r in range(M + 1):
                S = (2 * r + 1) * sig(a) + (N - 2 * r - 1) * sig(0)
                y = S / 2 + beta
                assert 0 < abs(y - r) <= (2 * r + 1) / F(1 + lam)


def test_cinf_non_analytic_step_is_exact():
    """The hypothesis 'analytic' cannot be weakened to 'smooth': psi(z) = f(z)/(f(z) + f(1-z)),
    f(z) = exp(-1/z) for z > 0 and 0 otherwise, is C-infinity, 0 at 0 and 1 on [1, oo);
    one channel psi(x / a_min) with y = (S - 1)/2 is exact for every a >= a_min."""
    a_min = sp.Symbol("a_min", positive=True)
    t = sp.Symbol("t", nonnegative=True)
    r, N = sp.symbols("r N", integer=True)

    def f(z):
        return sp.Piecewise((sp.exp(-1 / z), z > 0), (0, True))

    def psi(z):
        return f(z) / (f(z) + f(1 - z))

    assert psi(sp.Integer(0)) == 0 and sp.simplify(psi(1 + t / a_min)) == 1
    S = (2 * r + 1) * psi((a_min + t) / a_min) + (N - 2 * r - 1) * psi(sp.Integer(0))
    assert sp.simplify((S - 1) / 2 - r) == 0


# ============================================================== 5. The disk
def _lattice_brute(rho):
    rho = F(rho)
    k = int(rho) + 1
    return sum(1 for i in range(-k, k + 1) for j in range(-k, k + 1) if i * i + j * j <= rho * rho)


def _disk_pixels(M, rho):
    rho2 = F(rho) ** 2
    return tuple((i - M) ** 2 + (j - M) ** 2 <= rho2 for i in range(2 * M + 1) for j in range(2 * M + 1))


def test_lattice_count_and_disk_sum():
    for r in range(13):
        assert lattice_count(r) == _lattice_brute(r)
        M = r + 1  # the code needs r < M; M >= r already holds every lattice point of the disk
        img = disk_image(M, r, F(7, 3))
        assert sum((_relu(x) - _relu(x - 1) for x in img), F(0)) == _lattice_brute(r)  # clamp (a_min = 1), sum
    for rho in (F(1, 2), F(3, 2), F(7, 5), F(5, 2), F(49, 10), F(26, 3)):
        assert lattice_count(rho) == _lattice_brute(rho)
    L = [_lattice_brute(r) for r in range(14)]
    assert all(L[r + 1] >= L[r] + 4 for r in range(13))  # (r+1, 0) and its 3 rotations are new


def test_disk_readout_through_lattice_counts():
    for R in range(1, 13):
        f = disk_readout(R)
        for r in range(R + 1):
            assert f(_lattice_brute(r)) == r


def _theorem2_count(xs, ys):
    """Theorem 2 of proofs/neuron_threshold.md for the interpolant of the points, by hand:
    breakpoints = interior points where the chord slope changes; n or n + 1 by subset sum."""
    slopes = [F(ys[i + 1] - ys[i], xs[i + 1] - xs[i]) for i in range(len(xs) - 1)]
    jumps = [s2 - s1 for s1, s2 in itertools.pairwise(slopes) if s2 != s1]
    n = len(jumps)
    if n == 0:
        return 1 if slopes[0] != 0 else 0
    subset = any(sum(c, F(0)) == slopes[-1] for m in range(n + 1) for c in itertools.combinations(jumps, m))
    return n if subset else n + 1


def test_disk_readout_neurons_and_smaller_exact_readouts():
    """minimal_neurons of the interpolant matches Theorem 2 recomputed by hand; but a read-out
    only required to be exact at the lattice counts can be smaller (R = 2: 1 neuron instead
    of 2; R = 3: 2 neurons instead of 3)."""
    L = [_lattice_brute(r) for r in range(13)]
    for R in range(1, 13):
        assert minimal_neurons(disk_readout(R)) == _theorem2_count(L[: R + 1], list(range(R + 1)))
    assert _theorem2_count(L[:3], [0, 1, 2]) == 2 and _theorem2_count(L[:4], [0, 1, 2, 3]) == 3

    def one(S):  # R = 2, one neuron
        return 2 - _relu(9 - S) / 4

    def two(S):  # R = 3, two neurons
        return _relu(S) / 4 - F(3, 16) * _relu(S - F(23, 3)) - F(1, 4)

    assert [one(L[r]) for r in range(3)] == [0, 1, 2]
    assert [two(L[r]) for r in range(4)] == [0, 1, 2, 3]

    # R = 3 needs 2: one neuron is affine on one side of its kink and constant on the other;
    # the four values differ, so at most one point lies on the constant side and the other
    # three would be collinear, which they are not
    def collinear(p, q, s):
        return (q[1] - p[1]) * (s[0] - p[0]) == (s[1] - p[1]) * (q[0] - p[0])

    pts = [(L[r], r) for r in range(4)]
    assert not collinear(*pts[:3]) and not collinear(*pts[1:])


@pytest.mark.parametrize("M", [2, 3, 4])
def test_disk_network_exact_on_integer_radii(M):
    c = disk_network(M)
    for r in range(M):
        for a in (F(1), F(5, 2), F(4)):
            assert c.network.forward_exact(disk_image(M, r, a))[0] == r


def test_real_radii_share_images():
    """Radii rho, rho' with no sum of two squares in (rho^2, rho'^2] give the same image, so
    any function of the image (any network) gives the same output on both; on [0, 1) the
    image is the centre pixel alone, so the sup error over [0, 1) is at least 1/2."""
    M = 5
    sums = sorted({i * i + j * j for i in range(M + 1) for j in range(M + 1)})
    grid = [F(n, 7) for n in range(7 * (M - 1) + 1)]
    same = 0
    for rho, rho2 in itertools.combinations(grid, 2):
        between = any(rho * rho < n <= rho2 * rho2 for n in sums)
        assert (_disk_pixels(M, rho) == _disk_pixels(M, rho2)) == (not between)
        same += not between
    assert same > 20
    assert all(_disk_pixels(M, F(q, 100)) == _disk_pixels(M, 0) for q in range(100))
    assert sum(_disk_pixels(M, F(99, 100))) == 1
    net = disk_network(3).network
    y0 = net.forward_exact(disk_image(3, 0))[0]
    x_half = [F(1) if p else F(0) for p in _disk_pixels(3, F(1, 2))]
    assert net.forward_exact(x_half)[0] == y0 == 0  # y(1/2) = 0: error 1/2 at rho = 1/2
