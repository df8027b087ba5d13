"""One seeded training step of a small MLP: prints the device, torch.version.cuda and the loss."""

from __future__ import annotations

import argparse

import torch


def step(seed: int = 0, device: str | None = None) -> tuple[str, float]:
    torch.manual_seed(seed)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1)).to(dev)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    inputs = torch.randn(256, 32, generator=torch.Generator().manual_seed(seed)).to(dev)
    targets = inputs.sum(dim=1, keepdim=True).sin()
    for _ in range(20):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(inputs), targets)
        loss.backward()
        optimizer.step()
    return str(dev), float(loss.item())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    args = parser.parse_args()
    device, loss = step(args.seed, args.device)
    name = torch.cuda.get_device_name(0) if device.startswith("cuda") else "cpu"
    print(f"gpu-torch device={device} ({name}) torch={torch.__version__} cuda={torch.version.cuda} loss={loss:.4f}")


if __name__ == "__main__":
    main()
