"""What the ViT chapter shows about its transformers: the backbones side by side, and how each
patch's feature relates to the image's pooled feature."""
from __future__ import annotations

import pandas as pd
import torch
import torch.nn.functional as F
from timm.models.swin_transformer import SwinTransformer
from timm.models.vision_transformer import VisionTransformer

from ssllib.nets.vit import build_transformer


def _position_embedding(net) -> str:
    if isinstance(net, SwinTransformer):
        return "none; relative biases in each window"
    if net.pos_embed is None:
        return "none"
    return "learnt" if net.pos_embed.requires_grad else "fixed 2-D sin-cos"


def backbone_table(backbones: dict[str, tuple[str, int, int]]) -> pd.DataFrame:
    """One row per ``{label: (transformer name, image size, input channels)}``, measured on the
    built model (random weights): patch, tokens, width, depth, heads, position embedding,
    parameters."""
    rows = []
    for label, (name, size, in_channels) in backbones.items():
        net = build_transformer(name, in_channels, size)
        if isinstance(net, VisionTransformer):
            blocks = list(net.blocks)
            heads, depth = str(blocks[0].attn.num_heads), str(len(blocks))
        else:
            stages = list(net.layers)
            heads = "–".join(str(s.blocks[0].attn.num_heads) for s in stages)
            depth = "–".join(str(len(s.blocks)) for s in stages)
        tokens = net.patch_embed.num_patches
        rows.append({"backbone": label, "timm model": name, "image (px)": f"{size} × {size} × {in_channels}",
                     "patch (px)": net.patch_embed.patch_size[0], "patch tokens": tokens,
                     "output width": net.num_features, "depth": depth, "heads": heads,
                     "position embedding": _position_embedding(net),
                     "parameters (M)": round(sum(p.numel() for p in net.parameters()) / 1e6, 2)})
    return pd.DataFrame(rows).set_index("backbone")


@torch.no_grad()
def patch_similarity(backbone, images: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every patch's final feature to the image's pooled feature,
    (N, rows, columns): the class token for a ViT (timm's token pooling), the mean over
    positions for a Swin. Bright patches are those the image's representation is made of."""
    backbone.eval()
    tokens = backbone.forward_features(images)
    pooled = backbone.forward_head(tokens, pre_logits=True)                # (N, D)
    if tokens.dim() == 3:                                                  # ViT: (N, prefix + P, D)
        patches = tokens[:, backbone.num_prefix_tokens:]
        side = int(round(patches.shape[1] ** 0.5))
        grid = patches.reshape(len(images), side, side, -1)
    else:                                                                  # Swin: (N, H, W, D)
        grid = tokens
    return F.cosine_similarity(grid, pooled[:, None, None, :], dim=-1)


def patch_similarity_of(run, batch: torch.Tensor) -> torch.Tensor:
    """:func:`patch_similarity` of a trained run's backbone on the normalised ``batch`` (CPU),
    kept with the run."""
    from ssllib.engine.identity import state_digest

    def compute():
        backbone = run.model.backbone
        with torch.no_grad():
            return patch_similarity(backbone, batch.to(next(backbone.parameters()).device)).cpu()
    return run.derived("patch-similarity", compute, key={"batch": state_digest(batch)[:12]})
