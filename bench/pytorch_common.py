"""What the PyTorch peer scripts of bench/Tessera.Bench share: reading Fashion-MNIST's IDX files and timing a step loop."""
import gzip, struct, time
import numpy as np

def read_idx(path):
    """An IDX file (gzip) as a numpy array of its element type's shape."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndims = data[3]
    dims = struct.unpack(">" + "i" * ndims, data[4:4 + 4 * ndims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndims).reshape(dims)

def timed_steps(step, warmup, batches):
    """Runs step(i) for `warmup` untimed then `batches` timed steps; returns the timed seconds."""
    for i in range(warmup):
        step(i)
    start = time.perf_counter()
    for i in range(batches):
        step(warmup + i)
    return time.perf_counter() - start
