"""What every fixture generator here shares: float64 computation, float32 storage, the signals of generate.py, and a
set of cases written to <folder>/*.npy with a manifest.json. Imported by the generate_*.py scripts beside it.

Every reference is computed in float64 from the float32 values that are stored (inputs are rounded to float32 first),
so a C# test that loads the same files sees exactly the input the reference saw; only results are rounded to float32.
Files are NumPy format 1.0, dtype '<f4', C order, each read back and compared after writing.
"""

import torch

torch.set_default_dtype(torch.float64)

import glob  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import torchaudio  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SIGNALS = os.path.join(HERE, "data")

VERSIONS = {
    "python": platform.python_version(),
    "torch": torch.__version__,
    "torchaudio": torchaudio.__version__,
    "numpy": np.__version__,
    "scipy": scipy.__version__,
}


def f32(a):
    """Round to float32 exactly as it is stored: little-endian, C order (a transposed result would otherwise be written
    in Fortran order)."""
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return np.ascontiguousarray(np.asarray(a), dtype="<f4")


def signal(name):
    """A signal of generate.py, as the float32 values stored, widened to float64."""
    return np.load(os.path.join(SIGNALS, f"signal_{name}.npy")).astype(np.float64)


class CaseSet:
    """The cases of one fixture folder: arrays saved as they are added, a manifest written at the end."""

    def __init__(self, folder, generator, description, **manifest_fields):
        self.out = os.path.join(HERE, folder)
        self.generator = generator
        self.description = description
        self.manifest_fields = manifest_fields
        self.cases = []
        os.makedirs(self.out, exist_ok=True)
        for old in glob.glob(os.path.join(self.out, "*.npy")):
            os.remove(old)

    def save(self, fname, arr):
        """Writes arr as float32 under fname, checks it reads back identically, and returns fname."""
        arr = f32(arr)
        path = os.path.join(self.out, fname)
        np.save(path, arr)
        back = np.load(path)
        assert back.dtype == np.float32 and np.array_equal(back, arr), fname
        return fname

    def add(self, kind, name, **fields):
        self.cases.append({"kind": kind, "name": name, **fields})

    def write_manifest(self):
        manifest = {"description": self.description, "generator": self.generator, "versions": VERSIONS,
                    "dtype": "float32", **self.manifest_fields, "cases": self.cases}
        with open(os.path.join(self.out, "manifest.json"), "w") as fh:
            json.dump(manifest, fh, indent=2, allow_nan=False)
            fh.write("\n")
        total = sum(os.path.getsize(p) for p in glob.glob(os.path.join(self.out, "*")))
        print("versions:", json.dumps(VERSIONS))
        print(f"{len(self.cases)} cases, {total / 1e6:.2f} MB in {self.out}")
        return total
