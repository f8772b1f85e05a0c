"""Hand-run interop check against the reference safetensors library (not part of CI, which has no Python
safetensors): `python3 safetensors_interop.py read FILE` prints what the reference reader sees as JSON;
`python3 safetensors_interop.py write FILE` writes a file with the reference writer for seqgrad to read."""
import json
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

mode, path = sys.argv[1], sys.argv[2]
if mode == "read":
    tensors = load_file(path)
    with safe_open(path, framework="np") as f:
        metadata = f.metadata()
    print(json.dumps({
        "metadata": metadata,
        "tensors": {k: {"dtype": str(v.dtype), "shape": list(v.shape), "values": [float(x) if np.isfinite(x) else str(x) for x in v.reshape(-1).tolist()]} for k, v in tensors.items()},
    }))
elif mode == "write":
    save_file({
        "layers.0.W": np.arange(6, dtype=np.float32).reshape(2, 3) / 4,
        "layers.0.b": np.array([-1.5, 2.25], dtype=np.float64),
        "scalar": np.array(3.0, dtype=np.float32),
        "empty": np.zeros((0, 5), dtype=np.float32),
    }, path, metadata={"format": "np", "note": "written by the reference library"})
