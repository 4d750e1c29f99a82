"""Training the pulse-radius architectures with torch: how far is SGD from the exact family?

The task is that of Dagès, Lindenbaum and Bruckstein (arXiv 2303.06638): a small CNN
(convolution, activation, global sum pooling, linear read-out) outputs the radius r of a
centred pulse. The lemmas and their exact solution families used here are exactnet's own
formulation (docs/definitions.md, ``exactnet.pulse``), not the paper's text:

* Lemma 1 (binary pulse, amplitude 1): Conv1d(1, 1, k=3) -> activation -> global sum S ->
  Linear(1, 1). Every window is all-ones, all-zeros or an edge window that does not depend
  on r, so S(r) is affine in r with slope 2 (sigma(sum w + b) - sigma(b)) for *any*
  activation sigma; y = alpha S + beta is exact iff alpha * slope = 1 (and beta matches),
  on the radii (k - 1)/2 <= r <= M - k + 1 (here 1..M - 2). So the softplus nets of
  Lemma 1 and of the CNN can be exact in real arithmetic too, but the exact engine
  (piecewise-linear networks only) cannot check them; and any rounded ReLU filter with a
  nonzero slope gives an exact network once the read-out is solved for.
* Lemma 2 (amplitude a uniform in [a_min, a_max]): the per-sample map g(x) (kernel-1
  convolution, activation, read-out weight) must satisfy 2 (g(a) - g(0)) = 1 for every
  a in [a_min, a_max]: a clamp that kinks at 0 and a_min is one member of that family
  (two ReLU channels, or one Hardtanh(0, 1) after a learned affine map); sigmoid cannot
  be flat on an interval, so it is never exact.
* A multi-filter CNN (4 filters, k = 3): the slopes of the filters add up,
  slope_total = sum_c alpha_c 2 (relu(sum w_c + b_c) - relu(b_c)).

Every model is trained full-batch with Adam on the MSE over ``exactnet.pulse.pulses``
(every radius, and a grid of amplitudes), without noise and with additive Gaussian noise
(fresh noise from the generator at every step; exactness is only ever claimed without
noise), in float64: 12 random (torch default) initialisations are screened by a short run
each, and the best is trained on with a cosine learning-rate schedule. For each trained
model the table gives

* ``good init``: how many of the 12 screened initialisations explain 90% of the variance
  of r (the others sit in a trap: a dead filter, or -- the usual fate of the two-ReLU
  Lemma 2 net -- the affine fit of r on the raw sum of the samples);
* ``clean mse``: the final MSE on the noise-free data;
* ``residual``: the distance to the exact family, |alpha * slope - 1| (Lemma 1, summed
  over filters) or max_a |2 (g(a) - g(0)) - 1| over [a_min, a_max] (Lemma 2);
* ``weights / kinks``: the slope for Lemma 1 nets; where each channel kinks in x for
  Lemma 2 (compared with 0 and a_min; for sigmoid the x where it reaches 1% and 99%);
* ``max err``: max |y - r| in float64 over every radius and 33 amplitudes
  (``exactnet.pulse.float_errors``);
* ``as trained``: ``exactnet.pulse.verify`` on the torch model as is (exact rational
  arithmetic, every radius, the whole amplitude segment): almost surely not exact, with
  its worst error;
* ``after rounding``: the convolution's weights rounded to nearby simple rationals
  (Fraction.limit_denominator(D), D = 4, 8, ..., 1024, the first D that works is shown),
  the read-out then solved exactly (``lemma1_readout`` for Lemma 1; for the others the
  exact read-out nearest to the rounded learned one, from the exact channel sums), and the
  result verified exactly. Smooth activations (softplus, sigmoid) do not lower to the
  exact engine: ``n/a (smooth)``.

Writes one figure (learned against analytic filters per architecture, per-sample maps of
the Lemma 2 models, loss curves), ``pulse_training.png`` by default.

    python examples/pulse_training.py [--quick] [--out FILE] [--seed S]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from fractions import Fraction

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from exactnet.net.network import Layer, Network
from exactnet.pulse import (
    GlobalSumPool,
    float_errors,
    lemma1_network,
    pulse_signal,
    pulses,
    verify,
)

F64 = torch.float64
DENOMINATORS = (4, 8, 16, 32, 64, 128, 256, 512, 1024)
SMOOTH = ("softplus", "sigmoid")


@dataclass(frozen=True)
class Spec:
    """One trained architecture: ``task`` "binary" (Lemma 1 data) or "amplitude" (Lemma 2)."""

    name: str
    task: str
    channels: int
    k: int
    act: str


SPECS = [
    Spec("L1 conv1x3", "binary", 1, 3, "relu"),
    Spec("L1 conv1x3", "binary", 1, 3, "softplus"),
    Spec("L2 conv2x1", "amplitude", 2, 1, "relu"),
    Spec("L2 conv1x1", "amplitude", 1, 1, "hardtanh"),
    Spec("L2 conv1x1", "amplitude", 1, 1, "sigmoid"),
    Spec("CNN conv4x3", "binary", 4, 3, "relu"),
    Spec("CNN conv4x3", "binary", 4, 3, "softplus"),
]


@dataclass(frozen=True)
class Config:
    M1: int  # Lemma 1 / CNN: N = 2 M1 + 1, radii 1..M1 - 2 (where Lemma 1 holds for k = 3)
    M2: int  # Lemma 2: radii 0..M2
    n_amp: int  # training amplitudes (a grid of [a_min, a_max])
    steps: int  # Adam steps from the best initialisation
    screen: int  # screening steps per candidate initialisation
    copies: int  # noisy copies of the binary data set per step
    inits: int = 12  # candidate initialisations
    lr: float = 0.03
    noise: float = 0.1
    a_min: float = 1.0
    a_max: float = 4.0

    def radii(self, task):
        return (1, self.M1 - 2) if task == "binary" else (0, self.M2)

    def M(self, task):
        return self.M1 if task == "binary" else self.M2

    def amplitude(self, task):
        return 1.0 if task == "binary" else (self.a_min, self.a_max)


FULL = Config(M1=10, M2=10, n_amp=16, steps=2500, screen=250, copies=8)
QUICK = Config(M1=6, M2=6, n_amp=6, steps=300, screen=60, copies=4)


# ----------------------------------------------------------------------------- models
def activation(act):
    return {"relu": nn.ReLU(), "softplus": nn.Softplus(), "hardtanh": nn.Hardtanh(0.0, 1.0), "sigmoid": nn.Sigmoid()}[
        act
    ]


def np_act(act, z):
    z = np.asarray(z, dtype=float)
    if act == "relu":
        return np.maximum(z, 0.0)
    if act == "softplus":
        return np.logaddexp(0.0, z)
    if act == "hardtanh":
        return np.clip(z, 0.0, 1.0)
    return 1.0 / (1.0 + np.exp(-z))


def build(spec):
    return nn.Sequential(
        nn.Conv1d(1, spec.channels, spec.k), activation(spec.act), GlobalSumPool((-1,)), nn.Linear(spec.channels, 1)
    ).to(F64)


def params(model):
    """(W (C, k), b (C,), alpha (C,), beta) as float64 numpy arrays."""
    conv, lin = model[0], model[3]
    return (
        conv.weight.detach().numpy()[:, 0, :].astype(float),
        conv.bias.detach().numpy().astype(float),
        lin.weight.detach().numpy()[0].astype(float),
        float(lin.bias.item()),
    )


# ----------------------------------------------------------------------------- data
def batch(task, cfg, noise=0.0, seed=0):
    """Every radius (and for the amplitude task every amplitude of the grid), in float64."""
    lo, hi = cfg.radii(task)
    if task == "binary":
        parts = [
            pulses(cfg.M1, hi, r_min=lo, amplitude=1.0, noise=noise, seed=seed + j, dtype=F64)
            for j in range(cfg.copies if noise else 1)
        ]
    else:
        parts = [
            pulses(cfg.M2, hi, r_min=lo, amplitude=float(a), noise=noise, seed=seed + j, dtype=F64)
            for j, a in enumerate(np.linspace(cfg.a_min, cfg.a_max, cfg.n_amp))
        ]
    return torch.cat([x for x, _ in parts]), torch.cat([r for _, r in parts])


def _fit(model, spec, cfg, noise, steps, rng, schedule):
    """``steps`` full-batch Adam steps on the MSE (fresh noise per step when noisy)."""
    x0, r0 = batch(spec.task, cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=cfg.lr * 1e-3) if schedule else None
    losses = []
    for _ in range(steps):
        x, r = batch(spec.task, cfg, noise, int(rng.integers(2**31))) if noise else (x0, r0)
        opt.zero_grad()
        loss = ((model(x).reshape(-1) - r) ** 2).mean()
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        losses.append(loss.item())
    with torch.no_grad():
        clean = ((model(x0).reshape(-1) - r0) ** 2).mean().item()
    return losses, clean


def train(spec, cfg, noise, seed):
    """Best of ``cfg.inits`` random (torch default) initialisations after a short screening
    run (``cfg.screen`` steps each, ranked by the clean MSE), then ``cfg.steps`` Adam steps
    with a cosine schedule from the best. An initialisation whose pooled features do not
    vary with the radius (a dead ReLU filter, a saturated clamp) gets no useful gradient and
    is drawn again. Returns the model, its loss per step, its final clean MSE and the
    screening MSEs of all candidates."""
    x0, _ = batch(spec.task, cfg)
    rng = np.random.default_rng(seed)
    candidates = []
    for c in range(cfg.inits):
        for redraw in range(50):
            torch.manual_seed(seed * 7919 + 101 * c + redraw)
            model = build(spec)
            with torch.no_grad():
                if model[:3](x0).std(0).max().item() > 1e-6:
                    break
        losses, clean = _fit(model, spec, cfg, noise, cfg.screen, rng, schedule=False)
        candidates.append((clean if np.isfinite(clean) else np.inf, c, model, losses))
    _, _, model, screen_losses = min(candidates, key=lambda t: t[:2])
    losses, clean = _fit(model, spec, cfg, noise, cfg.steps, rng, schedule=True)
    model.eval()
    return model, screen_losses + losses, clean, sorted(t[0] for t in candidates)


# ----------------------------------------------------------------------------- distance to the exact family
def lemma1_slopes(spec, model):
    """Each filter's contribution alpha_c * 2 (sigma(sum w_c + b_c) - sigma(b_c)) to dy/dr."""
    W, b, alpha, _ = params(model)
    return alpha * 2 * (np_act(spec.act, W.sum(1) + b) - np_act(spec.act, b))


def kinks(spec, model):
    """Per channel, the x where the activation kinks (ReLU: one, Hardtanh: two) or where the
    sigmoid reaches 1% and 99%."""
    W, b, _, _ = params(model)
    u, v = W[:, 0], b
    levels = {"relu": [0.0], "hardtanh": [0.0, 1.0], "sigmoid": [np.log(1 / 99), np.log(99)]}[spec.act]
    return [sorted((z - vc) / uc for z in levels) if uc != 0 else [] for uc, vc in zip(u, v)]


def where(x, cfg):
    """A kink's place relative to 0, a_min and a_max."""
    if x < 0:
        return "(<0)"
    if x <= cfg.a_min:
        return "(0..amin)"
    return "(amin..amax)" if x < cfg.a_max else "(>amax)"


def lemma2_residual(spec, model, cfg):
    """max over a in [a_min, a_max] of |2 (g(a) - g(0)) - 1|, g(x) = sum_c alpha_c sigma(u_c x + v_c)
    (piecewise linear: at the ends and the kinks inside; smooth: on a fine grid)."""
    W, b, alpha, _ = params(model)
    u = W[:, 0]

    def g(x):
        return float(np.sum(alpha * np_act(spec.act, u * x + b)))

    if spec.act in SMOOTH:
        pts = np.linspace(cfg.a_min, cfg.a_max, 2001)
    else:
        inner = [x for ks in kinks(spec, model) for x in ks if cfg.a_min < x < cfg.a_max]
        pts = [cfg.a_min, cfg.a_max] + inner
    return max(abs(2 * (g(a) - g(0.0)) - 1) for a in pts)


# ----------------------------------------------------------------------------- exact rounding
def _exact_act(act, z):
    if act == "relu":
        return z if z > 0 else Fraction(0)
    return min(max(z, Fraction(0)), Fraction(1))  # hardtanh(0, 1)


def channel_sums(Wq, bq, act, x):
    """Exact pooled features S_c = sum_p sigma(w_c . x[p:p+k] + b_c)."""
    k = len(Wq[0])
    return [
        sum(
            (
                _exact_act(act, sum((wi * xi for wi, xi in zip(w, x[p : p + k])), Fraction(0)) + bc)
                for p in range(len(x) - k + 1)
            ),
            Fraction(0),
        )
        for w, bc in zip(Wq, bq)
    ]


def exact_network(Wq, bq, act, alpha, beta, M, name):
    """conv (rational weights) -> ReLU or clamp (relu(z) - relu(z - 1)) -> sum -> alpha . S + beta."""
    N, k = 2 * M + 1, len(Wq[0])
    rows, bias, out = [], [], []
    for w, bc, ac in zip(Wq, bq, alpha):
        for p in range(N - k + 1):
            row = [Fraction(0)] * N
            row[p : p + k] = w
            rows.append(row), bias.append(bc), out.append(ac)
            if act == "hardtanh":
                rows.append(row), bias.append(bc - 1), out.append(-ac)
    return Network(
        [
            Layer(np.array(rows, dtype=object), np.array(bias, dtype=object)),
            Layer(np.array([out], dtype=object), np.array([beta], dtype=object), 1),
        ],
        name=name,
    )


def _solve(A, y):
    """Solve the square system A x = y over the rationals (Gauss-Jordan); None if singular."""
    n = len(A)
    Mx = [list(row) + [yi] for row, yi in zip(A, y)]
    for c in range(n):
        piv = next((i for i in range(c, n) if Mx[i][c] != 0), None)
        if piv is None:
            return None
        Mx[c], Mx[piv] = Mx[piv], Mx[c]
        for i in range(n):
            if i != c and Mx[i][c] != 0:
                f = Mx[i][c] / Mx[c][c]
                Mx[i] = [a - f * b for a, b in zip(Mx[i], Mx[c])]
    return [Mx[i][n] / Mx[i][i] for i in range(n)]


def nearest_readout(rows, targets, x0):
    """The exact (alpha, beta) with [S, 1] . (alpha, beta) = r on the independent rows that
    is nearest (Euclidean) to x0: x0 + A^T (A A^T)^-1 (t - A x0). Whether every row (hence
    every input) is then satisfied is left to the exact verifier."""
    basis, A, t = [], [], []
    for row, ti in zip(rows, targets):  # greedy rank-revealing elimination
        red = list(row)
        for piv, brow in basis:
            if red[piv] != 0:
                f = red[piv] / brow[piv]
                red = [a - f * b for a, b in zip(red, brow)]
        piv = next((j for j, v in enumerate(red) if v != 0), None)
        if piv is not None:
            basis.append((piv, red))
            A.append(list(row)), t.append(ti)
    if not A:
        return None
    resid = [ti - sum((a * x for a, x in zip(row, x0)), Fraction(0)) for row, ti in zip(A, t)]
    gram = [[sum((a * b for a, b in zip(ri, rj)), Fraction(0)) for rj in A] for ri in A]
    lam = _solve(gram, resid)
    if lam is None:
        return None
    return [x + sum((li * row[j] for li, row in zip(lam, A)), Fraction(0)) for j, x in enumerate(x0)]


def snap(spec, model, cfg):
    """Round the convolution to denominators D = 4, 8, ...; solve the read-out exactly; verify.
    Returns (D, (rounded W, rounded b, exact alpha, exact beta)) for the first D whose
    network verifies exact, or (None, None)."""
    if spec.act in SMOOTH:
        return None, None
    W, b, alpha, beta = params(model)
    M, radii, amp = cfg.M(spec.task), cfg.radii(spec.task), cfg.amplitude(spec.task)
    for D in DENOMINATORS:

        def q(v, D=D):
            return Fraction(float(v)).limit_denominator(D)

        Wq, bq = [[q(v) for v in row] for row in W], [q(v) for v in b]
        if spec.task == "binary" and spec.channels == 1:
            try:  # Lemma 1's read-out for the rounded filter: alpha = 1 / slope, beta = -alpha S(0)
                con = lemma1_network(Wq[0], bq[0], M)
                net, read = con, (con.info["alpha"], con.info["beta"])
            except ValueError:  # the rounded filter has slope 0: no read-out can see r
                continue
        else:
            if spec.task == "binary":
                pts = [(r, Fraction(1)) for r in range(radii[0], radii[1] + 1)]
            else:  # S is piecewise linear in a, kinked only where a channel kinks
                a_min, a_max = Fraction(cfg.a_min), Fraction(cfg.a_max)
                inner = {
                    a
                    for w, bc in zip(Wq, bq)
                    if w[0] != 0
                    for a in ([-bc / w[0]] + ([(1 - bc) / w[0]] if spec.act == "hardtanh" else []))
                    if a_min < a < a_max
                }
                pts = [(r, a) for r in range(radii[0], radii[1] + 1) for a in sorted({a_min, a_max} | inner)]
            rows = [channel_sums(Wq, bq, spec.act, pulse_signal(M, r, a)) + [Fraction(1)] for r, a in pts]
            x0 = [q(v) for v in alpha] + [q(beta)]
            sol = nearest_readout(rows, [Fraction(r) for r, _ in pts], x0)
            if sol is None:
                continue
            net = exact_network(Wq, bq, spec.act, sol[:-1], sol[-1], M, f"{spec.name} rounded D={D}")
            read = (sol[:-1] if len(sol) > 2 else sol[0], sol[-1])
        if verify(net, kind="pulse", M=M, radii=radii, amplitude=amp).exact:
            return D, (Wq, bq, *read)
    return None, None


# ----------------------------------------------------------------------------- one model
def evaluate(spec, cfg, noise, seed):
    t0 = time.perf_counter()
    model, losses, clean, screened = train(spec, cfg, noise, seed)
    M, radii, amp = cfg.M(spec.task), cfg.radii(spec.task), cfg.amplitude(spec.task)
    row = {"spec": spec, "noise": noise, "model": model, "losses": losses, "mse": clean, "screened": screened}
    # an initialisation is "good" when its screening run explains 90% of the variance of r
    # (the traps seen here -- a dead filter, the affine fit of r on the raw sum -- do not)
    var_r = float(np.var(np.arange(radii[0], radii[1] + 1)))
    row["good"] = f"{sum(m < 0.1 * var_r for m in screened)}/{len(screened)}"
    if spec.task == "binary":
        slopes = lemma1_slopes(spec, model)
        row["residual"] = abs(slopes.sum() - 1)
        row["slopes"] = slopes
        row["desc"] = (
            f"slope {slopes.sum():.4f}" if spec.channels == 1 else "slopes " + " ".join(f"{s:+.2f}" for s in slopes)
        )
    else:
        row["residual"] = lemma2_residual(spec, model, cfg)
        row["desc"] = "x " + ", ".join(
            f"{x:.3g}{'' if spec.act == 'sigmoid' else ' ' + where(x, cfg)}"
            for x in sorted(x for k in kinks(spec, model) for x in k)
        )
    row["max_err"] = float_errors(model, kind="pulse", M=M, radii=radii, amplitude=amp)["max_error"]
    if spec.act in SMOOTH:
        row["as_trained"] = row["rounded"] = "n/a (smooth)"
    else:
        v = verify(model, kind="pulse", M=M, radii=radii, amplitude=amp)
        row["as_trained"] = "yes" if v.exact else f"no ({float(v.worst_error):.1e})"
        D, vr = snap(spec, model, cfg)
        row["rounded"] = f"yes (D={D})" if D else f"no (D<={DENOMINATORS[-1]})"
        row["snapped"] = vr  # (rounded W, rounded b, exact alpha, exact beta) or None
    row["seconds"] = time.perf_counter() - t0
    return row


# ----------------------------------------------------------------------------- report
def print_table(rows, cfg):
    print(
        f"Pulse radius, trained (our formulation of arXiv 2303.06638). Lemma 1 / CNN: binary pulses, "
        f"M = {cfg.M1}, r = 1..{cfg.M1 - 2}; Lemma 2: amplitude in [{cfg.a_min:g}, {cfg.a_max:g}], "
        f"M = {cfg.M2}, r = 0..{cfg.M2}; {cfg.steps} Adam steps, noise sd {cfg.noise:g}"
    )
    head = (
        f"{'architecture':<12} {'act':<8} {'noise':>5} {'good init':>9} {'clean mse':>9} {'residual':>9}  "
        f"{'weights / kinks':<40} {'max err':>8}  {'as trained':<14} {'after rounding':<14}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['spec'].name:<12} {r['spec'].act:<8} {r['noise']:>5g} {r['good']:>9} {r['mse']:>9.2e} "
            f"{r['residual']:>9.2e}  {r['desc']:<40} {r['max_err']:>8.2e}  {r['as_trained']:<14} "
            f"{r['rounded']:<14}".rstrip()
        )


def print_rounded(rows):
    """The exact networks found by rounding (the CNN's four filters are left out)."""

    def fmt(v):
        return "(" + ", ".join(str(x) for x in v) + ")" if isinstance(v, (list, tuple)) else str(v)

    print("\nexact after rounding: conv weights W, biases b (rounded), read-out alpha, beta (solved exactly)")
    for r in rows:
        if r.get("snapped") and r["spec"].channels <= 2:
            W, b, alpha, beta = r["snapped"]
            print(
                f"  {r['spec'].name} {r['spec'].act}, noise {r['noise']:g}: W = {fmt([fmt(w) for w in W])}, "
                f"b = {fmt(b)}, alpha = {fmt(alpha)}, beta = {fmt(beta)}"
            )


def scaled_filters(row):
    """alpha_c * (w_c, b_c): invariant under the ReLU's positive rescaling."""
    W, b, alpha, _ = params(row["model"])
    return alpha[:, None] * np.concatenate([W, b[:, None]], 1)


def figure(rows, cfg, out):
    fig, axes = plt.subplots(2, 3, figsize=(17, 9.5))
    by = {(r["spec"].name, r["spec"].act, r["noise"] > 0): r for r in rows}

    # Lemma 1: alpha (w, b) against the analytic instance w = (1, 1, 1), b = -2, alpha = 1/2
    ax = axes[0, 0]
    series = [("analytic instance", np.array([0.5, 0.5, 0.5, -1.0]))]
    for act in ("relu", "softplus"):
        for noisy in (False, True):
            series.append((f"{act}{', noise' if noisy else ''}", scaled_filters(by[("L1 conv1x3", act, noisy)])[0]))
    width = 0.8 / len(series)
    for i, (lab, vals) in enumerate(series):
        ax.bar(np.arange(4) + (i - len(series) / 2 + 0.5) * width, vals, width, label=lab)
    ax.set_xticks(range(4), ["αw1", "αw2", "αw3", "αb"])
    ax.axhline(0, color="k", lw=0.5)
    ax.set_title("Lemma 1 (conv 1x3): learned α·(w, b) vs analytic\n(any filter with α·slope = 1 is exact)")
    ax.legend(fontsize=7)

    # multi-filter CNN: each filter's alpha_c (w_c, b_c)
    ax = axes[0, 1]
    for j, noisy in enumerate((False, True)):
        row = by[("CNN conv4x3", "relu", noisy)]
        vals = scaled_filters(row)
        for c in range(vals.shape[0]):
            x = np.arange(4) + c * 5 + (j - 0.5) * 0.4
            ax.bar(
                x,
                vals[c],
                0.4,
                color=f"C{c}",
                alpha=1.0 if not noisy else 0.5,
                hatch=None if not noisy else "//",
                label=(f"filter {c}: slope {row['slopes'][c]:+.2f}" + (" (noise)" if noisy else "")),
            )
    ax.bar(np.arange(4) + 20, [0.5, 0.5, 0.5, -1.0], 0.6, color="k", label="analytic instance")
    ax.set_xticks([1.5 + 5 * c for c in range(5)], [f"filter {c}" for c in range(4)] + ["analytic"])
    ax.axhline(0, color="k", lw=0.5)
    ax.set_title(
        "CNN 4 filters (ReLU): α_c·(w1, w2, w3, b) per filter\nslopes add up to 1 (solid: clean, hatched: noise)"
    )
    ax.legend(fontsize=6, ncol=2)

    # Lemma 2: the learned per-sample map 2 (g(x) - g(0)) against the analytic clamp
    ax = axes[0, 2]
    xs = np.linspace(-0.5, cfg.a_max + 0.5, 600)
    ax.axvspan(cfg.a_min, cfg.a_max, color="0.9", label="training amplitudes")
    ax.plot(xs, np.clip(xs / cfg.a_min, 0, 1), "k", lw=3, alpha=0.4, label="analytic clamp c(x)")
    for name, act in (("L2 conv2x1", "relu"), ("L2 conv1x1", "hardtanh"), ("L2 conv1x1", "sigmoid")):
        for noisy in (False, True):
            row = by[(name, act, noisy)]
            W, b, alpha, _ = params(row["model"])
            g = (alpha[None, :] * np_act(act, xs[:, None] * W[:, 0] + b)).sum(1)
            g0 = float(np.sum(alpha * np_act(act, b)))
            ax.plot(xs, 2 * (g - g0), ls="--" if noisy else "-", label=f"{name} {act}{' noise' if noisy else ''}")
    ax.set_xlabel("sample value x")
    ax.set_ylabel("2 (g(x) - g(0))")
    ax.set_title("Lemma 2: learned per-sample map 2 (g(x) - g(0))\n(exact iff it is 1 on all of [a_min, a_max])")
    ax.legend(fontsize=7)

    # Lemma 2 weights: |alpha_c| (u_c, v_c) for the ReLU channels; (u, v) for the clamp
    ax = axes[1, 0]
    labels, groups = ["analytic"], [[0.5 / cfg.a_min, 0.0, 0.5 / cfg.a_min, -0.5]]
    for noisy in (False, True):
        W, b, alpha, _ = params(by[("L2 conv2x1", "relu", noisy)]["model"])
        order = np.argsort(-b)  # the channel with the larger bias first (analytic: bias 0, then -1)
        groups.append([v for c in order for v in (abs(alpha[c]) * W[c, 0], abs(alpha[c]) * b[c])])
        labels.append("relu" + (", noise" if noisy else ""))
    lab4 = ["|α1|u1", "|α1|v1", "|α2|u2", "|α2|v2"]
    width = 0.8 / len(groups)
    for i, (lab, vals) in enumerate(zip(labels, groups)):
        ax.bar(np.arange(4) + (i - len(groups) / 2 + 0.5) * width, vals, width, label=f"2 ReLU channels: {lab}")
    clamp = [("analytic", [1 / cfg.a_min, 0.0])] + [
        (
            f"{act}{', noise' if noisy else ''}",
            list(params(by[("L2 conv1x1", act, noisy)]["model"])[0][0])
            + [params(by[("L2 conv1x1", act, noisy)]["model"])[1][0]],
        )
        for act in ("hardtanh",)
        for noisy in (False, True)
    ]
    width = 0.8 / len(clamp)
    for i, (lab, vals) in enumerate(clamp):
        ax.bar(
            np.arange(2) + 5 + (i - len(clamp) / 2 + 0.5) * width,
            vals,
            width,
            hatch="..",
            label=f"1 clamp channel: {lab}",
        )
    ax.set_xticks(list(range(4)) + [5, 6], lab4 + ["u", "v"])
    ax.axhline(0, color="k", lw=0.5)
    ax.set_title("Lemma 2: learned vs analytic kernel-1 weights\n(sigmoid weights grow without bound: not shown)")
    ax.legend(fontsize=7)

    for j, noisy in enumerate((False, True)):
        ax = axes[1, 1 + j]
        for row in rows:
            if (row["noise"] > 0) == noisy:
                ax.semilogy(row["losses"], label=f"{row['spec'].name} {row['spec'].act}", lw=1)
        ax.axvline(cfg.screen, color="k", ls=":", lw=1)
        ax.set_xlabel("full-batch Adam step (dotted: end of the best init's screening run)")
        ax.set_ylabel("MSE")
        ax.set_title(f"training loss, {f'noise sd {cfg.noise:g}' if noisy else 'no noise'}")
        ax.legend(fontsize=7)
    fig.suptitle("Pulse radius networks trained with torch (exactnet's formulation of arXiv 2303.06638)")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_pos", nargs="?", help="output PNG (same as --out)")
    ap.add_argument("--out", default=None, help="output PNG (default pulse_training.png)")
    ap.add_argument("--quick", action="store_true", help="few steps, small M (seconds)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    out = args.out or args.out_pos or "pulse_training.png"
    cfg = QUICK if args.quick else FULL
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread is fastest, and deterministic
    try:
        t0 = time.perf_counter()
        rows = []
        for i, spec in enumerate(SPECS):
            for noise in (0.0, cfg.noise):
                rows.append(evaluate(spec, cfg, noise, args.seed * 1000 + 10 * i + (noise > 0)))
        print_table(rows, cfg)
        print_rounded(rows)
        figure(rows, cfg, out)
        print(f"wrote {out}; {len(rows)} models in {time.perf_counter() - t0:.1f} s")
    finally:
        torch.set_num_threads(threads)
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
