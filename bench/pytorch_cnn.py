"""PyTorch peer for bench/Tessera.Bench throughput: the same CNN, data, batch size, optimizer and thread count.

Prints one JSON line: {"images_per_second": ..., "batches": ..., "threads": ...}.
"""
import json, sys
import numpy as np
import torch
from pytorch_common import read_idx, timed_steps
from torch import nn

class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(3136, 128)
        self.fc2 = nn.Linear(128, 10)
        self.pool = nn.MaxPool2d(2)
    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        return self.fc2(torch.relu(self.fc1(torch.flatten(x, 1))))

def main():
    root, threads, batch, warmup, batches = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    images = torch.from_numpy(read_idx(f"{root}/train-images-idx3-ubyte.gz").copy()).float().div_(255).unsqueeze(1)
    images = (images - 0.2860) / 0.3530
    labels = torch.from_numpy(read_idx(f"{root}/train-labels-idx1-ubyte.gz").astype(np.int64))
    model = Cnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    order = torch.randperm(images.shape[0], generator=g)
    def step(i):
        idx = order[(i * batch) % (images.shape[0] - batch):][:batch]
        x, y = images.index_select(0, idx), labels.index_select(0, idx)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()
    elapsed = timed_steps(step, warmup, batches)
    print(json.dumps({"images_per_second": batches * batch / elapsed, "batches": batches, "threads": threads, "torch": torch.__version__}))

if __name__ == "__main__":
    main()
