"""Non-linearity signatures of torchvision architectures, compared in one figure.

Bouniot, Redko et al. (arXiv 2310.11439, CVPR 2025) score every activation of a network
with the affinity score (how far the activation is from an affine map, measured by
optimal transport) and compare architectures by these signatures. Here the models have
random (seeded) weights, since nothing can be downloaded, and the inputs are random images,
so the curves show what the architectures do at initialisation, not after training.

For each model: capture every activation call site (channel mean over the spatial axes,
the reference's reduction; channels-last GELUs of ConvNeXt and Swin are reduced over the
right axis), score each with ``exactnet.affinity_score`` (layers with d >= n get
Ledoit-Wolf shrinkage and are marked), print the table, and draw all signatures against
relative depth. Writes ``nonlinearity_signature.png`` (or ``--out``).

    python examples/nonlinearity_signature.py [--models alexnet,resnet18,...] [--samples 256]
        [--image-size 224] [--device cpu|cuda] [--quick] [--out FILE]

All seven models with ``--samples 128`` take 5 to 8 minutes on a 2-core CPU (ViT-B/16
about 3 of them; AlexNet's and VGG's 4096-wide classifier layers are scored with
Ledoit-Wolf shrinkage, since d >= n).
"""

from __future__ import annotations

import argparse
import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from exactnet.probe.data import random_images, torchvision_model
from exactnet.probe.nonlinearity import plot_signatures, signature

DEFAULT_MODELS = "alexnet,vgg11,resnet18,resnet50,convnext_tiny,swin_t,vit_b_16"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=DEFAULT_MODELS)
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=987)
    ap.add_argument(
        "--quick",
        action="store_true",
        help="two small models (SqueezeNet 1.1, ResNet-18), 48 inputs of 64 x 64 (for tests)",
    )
    ap.add_argument("--out", default="nonlinearity_signature.png")
    args = ap.parse_args(argv)
    if args.quick:
        args.models, args.samples, args.image_size = "squeezenet1_1,resnet18", 48, 64
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    images = random_images(args.samples, args.image_size, seed=args.seed)
    sigs = []
    for name in names:
        size = 224 if name.startswith("vit") else args.image_size  # ViT's patch grid is fixed
        x = images if size == args.image_size else random_images(args.samples, size, seed=args.seed)
        t = time.perf_counter()
        sig = signature(
            torchvision_model(name, seed=args.seed),
            x,
            name=name,
            samples=args.samples,
            batch_size=args.batch_size,
            device=args.device,
            seed=args.seed,
            progress=False,
        )
        sigs.append(sig)
        scores = sig.scores
        print(
            f"{name}: {len(sig.layers)} activations, affinity score mean {scores.mean():.3f}, "
            f"min {scores.min():.3f} (layer {sig.layers[int(scores.argmin())].name}), "
            f"{time.perf_counter() - t:.1f} s"
        )
        print(sig.table())
        print()
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    plot_signatures(
        sigs,
        ax=axes[0],
        normalized_depth=True,
        title=f"signatures at random init ({args.samples} random {args.image_size}px inputs)",
    )
    axes[1].boxplot([s.scores for s in sigs], showmeans=True)
    axes[1].set_xticks(range(1, len(sigs) + 1))
    axes[1].set_xticklabels([s.model for s in sigs], rotation=30, fontsize=8)
    axes[1].set_ylabel("affinity score")
    axes[1].set_title("spread over the activations")
    axes[1].grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    plt.close(fig)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
