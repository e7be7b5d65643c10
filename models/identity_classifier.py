"""Closed-set identity classifier (the paper's F_id protocol): a softmax over the training
identities on top of the frozen, differentiable dlib embedding.

``train_head(net, chips, labels)`` fits only the linear head (embeddings are computed once), in
seconds on a CPU; ``IdentityClassifier(chips)`` returns logits, and gradients flow through the
frozen embedder to the pixels for the de-identification loss.
"""

from __future__ import annotations

import torch
from torch import nn

from .dlib_resnet import DlibFaceNet


class IdentityClassifier(nn.Module):
    """``[B, 3, 150, 150]`` RGB chips in [0, 255] -> ``[B, num_ids]`` logits."""

    def __init__(self, embedder: DlibFaceNet, num_ids: int) -> None:
        super().__init__()
        self.embedder = embedder.eval().requires_grad_(False)
        self.head = nn.Linear(128, num_ids)

    def forward(self, chips: torch.Tensor) -> torch.Tensor:
        return self.head(self.embedder(chips))

    @torch.no_grad()
    def embed(self, chips: torch.Tensor, batch: int = 32) -> torch.Tensor:
        return torch.cat([self.embedder(chips[i : i + batch]) for i in range(0, len(chips), batch)])


def train_head(embedder: DlibFaceNet, chips: torch.Tensor, labels: torch.Tensor, epochs: int = 300, lr: float = 1e-2, seed: int = 0) -> IdentityClassifier:
    """Fit the softmax head on ``chips`` with integer ``labels``; returns the frozen classifier."""
    torch.manual_seed(seed)
    model = IdentityClassifier(embedder, int(labels.max()) + 1)
    features = model.embed(chips)
    opt = torch.optim.AdamW(model.head.parameters(), lr=lr, weight_decay=0.05)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        opt.zero_grad()
        loss_fn(model.head(features), labels).backward()
        opt.step()
    return model.eval().requires_grad_(False)
