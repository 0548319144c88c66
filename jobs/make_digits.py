"""Write scikit-learn's digits as the data files of the digits specs (``jobs/digits_*.toml``).

The digits set (1797 images of 8 x 8 pixels, values 0..16, 10 classes; BSD licence) ships inside
scikit-learn, so nothing is downloaded. The images are shuffled with a fixed seed and split into
a training part and a held-out part, written with ``np.save`` next to the specs (``jobs/data``
by default, the directory their ``model.path`` names relative to the spec):

* ``digits_train.npy``        float64 (1497, 64), one flattened image per row, raw pixel values;
* ``digits_train_labels.npy`` int64 (1497,), the digit 0..9 of each training image;
* ``digits_heldout.npy``      float64 (300, 64), the held-out images.

Scaling and centring are left to the spec (``model.scale``, ``model.centre``), which applies the
training points' statistics to the held-out points too. The files are deterministic (same bytes
on every run with the same scikit-learn data); each is written to a temporary name in the same
directory and then renamed over the target, so a reader never sees a partial file. The data are
not part of the repository: run this once before the scans.

    pip install -e '.[digits]'
    python jobs/make_digits.py                 # -> jobs/data/digits_*.npy
    python jobs/make_digits.py --out DIR
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from mc.data_files import file_sha256, save_array

#: Seed of the shuffle before the split.
SEED = 0
#: Images kept out of the training set (the rest, 1797 - 300 = 1497, are the training points).
N_HELDOUT = 300
#: Default output directory: ``data`` next to this script (and the specs that read it).
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def load_digits():
    """``(images (1797, 64) float64, labels (1797,) int64)`` from scikit-learn."""
    try:
        from sklearn.datasets import load_digits as _load
    except ImportError:
        sys.exit("make_digits.py: scikit-learn is not installed; install the extra with  pip install -e '.[digits]'  "
                 "(or  pip install 'scikit-learn>=1.3')")
    digits = _load()
    return np.asarray(digits.data, dtype=np.float64), np.asarray(digits.target, dtype=np.int64)


def split(images, labels, n_heldout=N_HELDOUT, seed=SEED):
    """Shuffle with ``default_rng(seed)`` and split: ``(train, train_labels, heldout)``."""
    if not 0 < n_heldout < len(images):
        raise ValueError(f"n_heldout: expected 0 < n_heldout < {len(images)}, got {n_heldout}")
    order = np.random.default_rng(seed).permutation(len(images))
    train, held = order[n_heldout:], order[:n_heldout]
    return (np.ascontiguousarray(images[train]), np.ascontiguousarray(labels[train]),
            np.ascontiguousarray(images[held]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help="output directory (default: the directory 'data' next to this script)")
    args = parser.parse_args(argv)
    images, labels = load_digits()
    train, train_labels, held = split(images, labels)
    os.makedirs(args.out, exist_ok=True)
    files = {"digits_train.npy": train, "digits_train_labels.npy": train_labels, "digits_heldout.npy": held}
    for name, array in files.items():
        path = os.path.join(args.out, name)
        save_array(path, array)  # atomic, never pickled
        print(f"{path}  {array.dtype} {tuple(array.shape)}  sha256 {file_sha256(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
