"""Deterministic data for the binarized CIFAR-10 network, and its forward pass.

The network is nine layers of 3x3 convolutions and fully-connected layers:

| layer | core     | in ch | out ch | input | pool |
| L0    | FP_CONV  | 3 i8  | 128    | 32x32 | no   |
| L1    | BIN_CONV | 128   | 128    | 32x32 | yes  |
| L2    | BIN_CONV | 128   | 256    | 16x16 | no   |
| L3    | BIN_CONV | 256   | 256    | 16x16 | yes  |
| L4    | BIN_CONV | 256   | 512    | 8x8   | no   |
| L5    | BIN_CONV | 512   | 512    | 8x8   | yes  -> 512x4x4 = 8192 bits
| L6    | BIN_FC   | 8192  | 1024   |
| L7    | BIN_FC   | 1024  | 1024   |
| L8    | BIN_FC   | 1024  | 10 (last) -> i32[10] scores

``generate(seed, images)`` returns every buffer of the network but ``scores``,
each in its natural dtype and C-order shape:

* ``images``: int8 ``(N, 3, 32, 32)``, uniform over −128..127;
* ``w0``..``w8``: the packed bits tensors (see ``aci/cores/bits.py``) as 1-D
  little-endian uint64 word arrays; every weight is ±1 with probability 1/2;
* ``t0``..``t7``: int16 ``(n_out,)`` thresholds; ``t8``: int16 ``(10, 2)``
  ``(k, h)`` pairs with k in 1..3 and h in −16..16.

Everything comes from ``np.random.Generator(np.random.PCG64(seed))``.  The
weights and thresholds are drawn before the images, so they do not depend on
the number of images.

Thresholds are set from the spread of the layer's sums, not from the data:
with independent ±1 (or uniform 8-bit) inputs, a sum over ``n`` terms has
standard deviation ``σ = sqrt(n)·σ_input``.  A layer without pooling gets
thresholds around 0 (half of the outputs +1); a pooled layer, whose output is
+1 when any of four is, gets thresholds around ``σ`` so that about
``0.84^4 ≈ 1/2`` of the pooled outputs are −1.  A spread of ``σ/4`` between
channels keeps them distinct.

``forward(data)`` runs the nine layers with the fast models of
``aci/cores/bnn.py`` and returns the int32 ``(N, 10)`` scores;
``layer_outputs(data)`` returns every layer's output port.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .bits import pack_bits
from .bnn import MODELS

IMAGE_SHAPE = (3, 32, 32)
CLASSES = 10

# Standard deviation of an int8 uniform over −128..127: sqrt((256² − 1) / 12).
_PIXEL_SIGMA = math.sqrt((256**2 - 1) / 12)
# Φ⁻¹(2^(−1/4)): a sum below σ·z with probability 0.84, so four independent
# outputs are all −1 with probability 1/2.
_POOL_Z = 0.998
_SPREAD = 0.25


@dataclass(frozen=True)
class Layer:
    """One layer of the network: its core, parameters and buffer names."""

    name: str
    core: str
    params: Mapping[str, int]
    weights: str
    thresholds: str

    @property
    def weight_bits(self) -> int:
        """Elements of the layer's weight tensor."""
        p = self.params
        if self.core == "FP_CONV":
            return p["n_out"] * IMAGE_SHAPE[0] * 9
        if self.core == "BIN_CONV":
            return p["n_out"] * p["n_in"] * 9
        return p["n_out"] * p["n_in"]

    @property
    def terms(self) -> int:
        """Number of products in one sum (for an output away from the border)."""
        return self.weight_bits // self.params["n_out"]


def _conv(name: str, n_in: int, n_out: int, size: int, pool: int) -> Layer:
    i = name[1:]
    return Layer(
        name,
        "BIN_CONV",
        {"n_in": n_in, "n_out": n_out, "size": size, "pool": pool},
        f"w{i}",
        f"t{i}",
    )


def _fc(name: str, n_in: int, n_out: int, last: int) -> Layer:
    i = name[1:]
    return Layer(name, "BIN_FC", {"n_in": n_in, "n_out": n_out, "last": last}, f"w{i}", f"t{i}")


LAYERS: tuple[Layer, ...] = (
    Layer("L0", "FP_CONV", {"n_out": 128}, "w0", "t0"),
    _conv("L1", 128, 128, 32, 1),
    _conv("L2", 128, 256, 16, 0),
    _conv("L3", 256, 256, 16, 1),
    _conv("L4", 256, 512, 8, 0),
    _conv("L5", 512, 512, 8, 1),
    _fc("L6", 8192, 1024, 0),
    _fc("L7", 1024, 1024, 0),
    _fc("L8", 1024, CLASSES, 1),
)


def _thresholds(rng: np.random.Generator, layer: Layer) -> np.ndarray:
    p = layer.params
    sigma = math.sqrt(layer.terms) * (_PIXEL_SIGMA if layer.core == "FP_CONV" else 1.0)
    centre = _POOL_Z if p.get("pool") else 0.0
    t = np.rint(sigma * (centre + _SPREAD * rng.standard_normal(p["n_out"])))
    return np.clip(t, -(2**15), 2**15 - 1).astype(np.int16)


def generate(seed: int, images: int) -> dict[str, np.ndarray]:
    """All buffers of the network but ``scores``, drawn from ``seed``."""
    if images < 0:
        raise ValueError(f"cannot generate {images} images")
    rng = np.random.Generator(np.random.PCG64(seed))
    data: dict[str, np.ndarray] = {}
    for layer in LAYERS:
        signs = rng.integers(0, 2, size=layer.weight_bits, dtype=np.uint8).view(np.bool_)
        data[layer.weights] = pack_bits(signs)
        if layer.params.get("last"):
            k = rng.integers(1, 4, size=layer.params["n_out"], dtype=np.int16)
            h = rng.integers(-16, 17, size=layer.params["n_out"], dtype=np.int16)
            data[layer.thresholds] = np.stack([k, h], axis=1)
        else:
            data[layer.thresholds] = _thresholds(rng, layer)
    data["images"] = rng.integers(-128, 128, size=(images, *IMAGE_SHAPE), dtype=np.int8)
    return data


def port(buffer: np.ndarray) -> np.ndarray:
    """A buffer as one shared port row: its little-endian bytes, shape (1, bytes)."""
    a = np.ascontiguousarray(buffer)
    a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    return a.view(np.uint8).reshape(1, -1)


Model = Callable[[Mapping[str, int], Mapping[str, np.ndarray]], dict[str, np.ndarray]]


def layer_outputs(
    data: Mapping[str, np.ndarray],
    images: np.ndarray | None = None,
    models: Mapping[str, Model] = MODELS,
) -> list[np.ndarray]:
    """Output port ``y`` of L0..L8 for every image, each uint8 (N, port bytes).

    ``images`` (int8, (N, 3, 32, 32)) replaces ``data["images"]``; ``models``
    maps core names to model functions (default: the fast models).
    """
    imgs = np.asarray(data["images"] if images is None else images)
    if imgs.dtype != np.int8 or imgs.shape[1:] != IMAGE_SHAPE:
        raise ValueError(
            f"images must be int8 of shape (N, {', '.join(map(str, IMAGE_SHAPE))}), "
            f"got {imgs.dtype} {imgs.shape}"
        )
    act = np.ascontiguousarray(imgs).reshape(imgs.shape[0], -1).view(np.uint8)
    outputs = []
    for layer in LAYERS:
        inputs = {"x": act, "w": port(data[layer.weights]), "t": port(data[layer.thresholds])}
        act = models[layer.core](layer.params, inputs)["y"]
        outputs.append(act)
    return outputs


def forward(data: Mapping[str, np.ndarray], images: np.ndarray | None = None) -> np.ndarray:
    """Scores of the network, int32 (N, 10), computed with the fast models."""
    scores = layer_outputs(data, images)[-1]
    return scores.view("<i4").astype(np.int32).reshape(-1, CLASSES)
