"""The reference model of configs/bench.yaml in PyTorch, trained on a fixed batch:
the Python side of tests/bench/bench_train.sh (Debian's python3-torch, the same
LibTorch 1.13.1 build as the C++ trainer). Prints images/s of `steps` SGD steps.

    /usr/bin/python3 tests/bench/train_loop.py THREADS STEPS
"""
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class FerNet(nn.Module):
    """3 stages 32/64/128 x [conv3x3 (no bias) -> BN -> ReLU] x2 -> maxpool -> Dropout2d(0.1);
    rows as a sequence -> BiLSTM 128 -> mean over steps -> Dropout(0.3) -> Linear(256, 7)."""

    def __init__(self):
        super().__init__()
        layers, channels = [], 1
        for out in (32, 64, 128):
            for _ in range(2):
                layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
                channels = out
            layers += [nn.MaxPool2d(2), nn.Dropout2d(0.1)]
        self.cnn = nn.Sequential(*layers)
        self.rnn = nn.LSTM(128 * 6, 128, batch_first=True, bidirectional=True)
        self.head_dropout = nn.Dropout(0.3)
        self.head = nn.Linear(256, 7)

    def forward(self, x):
        f = self.cnn(x)  # [B, 128, 6, 6]
        b, c, h, w = f.shape
        seq = f.permute(0, 2, 1, 3).reshape(b, h, c * w)
        out, _ = self.rnn(seq)
        return self.head(self.head_dropout(out.mean(1)))


def main():
    threads, steps = int(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = FerNet()
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)
    x, y = torch.randn(64, 1, 48, 48), torch.randint(0, 7, (64,))
    model.train()

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(3):  # warm-up: allocator, oneDNN primitives
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = time.perf_counter() - start
    print(f"python threads={threads} params={params} images/s={64 * steps / seconds:.1f}")


if __name__ == "__main__":
    main()
