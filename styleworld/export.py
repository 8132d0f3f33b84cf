"""Convert the open_clip ``styleworld-clip`` text tower and tokenizer to transformers' CLIP layout.

open_clip's text transformer is architecturally the same as ``CLIPTextModelWithProjection``
(pre-LN blocks, causal mask, exact GELU, final LayerNorm, pooling at the end-of-text token,
bias-free projection), so the weights map one to one.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def write_tokenizer_files(folder: Path, context_length: int) -> Path:
    """Write ``vocab.json``/``merges.txt`` of open_clip's bundled BPE and return the folder."""
    from open_clip.tokenizer import SimpleTokenizer

    st = SimpleTokenizer()
    rename = {"<start_of_text>": "<|startoftext|>", "<end_of_text>": "<|endoftext|>"}
    vocab = {rename.get(k, k): int(v) for k, v in st.encoder.items()}
    merges = sorted(st.bpe_ranks.items(), key=lambda kv: kv[1])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    with open(folder / "merges.txt", "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for (a, b), _ in merges:
            f.write(f"{a} {b}\n")
    return folder


def build_hf_tokenizer(folder: Path, context_length: int):
    """A ``CLIPTokenizer`` over open_clip's vocabulary with ``model_max_length = context_length``."""
    from transformers import CLIPTokenizer

    write_tokenizer_files(folder, context_length)
    return CLIPTokenizer.from_pretrained(str(folder), model_max_length=context_length,
                                         pad_token="<|endoftext|>")


def convert_text_tower(clip_model, cfg: dict):
    """Copy the open_clip text tower of ``clip_model`` into a new ``CLIPTextModelWithProjection``."""
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    tc = cfg["text_cfg"]
    hf_cfg = CLIPTextConfig(
        vocab_size=tc["vocab_size"], hidden_size=tc["width"], intermediate_size=4 * tc["width"],
        projection_dim=cfg["embed_dim"], num_hidden_layers=tc["layers"], num_attention_heads=tc["heads"],
        max_position_embeddings=tc["context_length"], hidden_act="gelu", layer_norm_eps=1e-5,
        bos_token_id=49406, eos_token_id=49407, pad_token_id=49407,
    )
    hf = CLIPTextModelWithProjection(hf_cfg).eval()
    sd = clip_model.state_dict()
    w = tc["width"]
    new = {
        "text_model.embeddings.token_embedding.weight": sd["token_embedding.weight"],
        "text_model.embeddings.position_embedding.weight": sd["positional_embedding"],
        "text_model.final_layer_norm.weight": sd["ln_final.weight"],
        "text_model.final_layer_norm.bias": sd["ln_final.bias"],
        "text_projection.weight": sd["text_projection"].T.contiguous(),
    }
    for i in range(tc["layers"]):
        p = f"transformer.resblocks.{i}."
        q = f"text_model.encoder.layers.{i}."
        qkv_w = sd[p + "attn.in_proj_weight"]
        qkv_b = sd[p + "attn.in_proj_bias"]
        for j, name in enumerate(("q_proj", "k_proj", "v_proj")):
            new[q + f"self_attn.{name}.weight"] = qkv_w[j * w:(j + 1) * w]
            new[q + f"self_attn.{name}.bias"] = qkv_b[j * w:(j + 1) * w]
        new[q + "self_attn.out_proj.weight"] = sd[p + "attn.out_proj.weight"]
        new[q + "self_attn.out_proj.bias"] = sd[p + "attn.out_proj.bias"]
        new[q + "layer_norm1.weight"] = sd[p + "ln_1.weight"]
        new[q + "layer_norm1.bias"] = sd[p + "ln_1.bias"]
        new[q + "layer_norm2.weight"] = sd[p + "ln_2.weight"]
        new[q + "layer_norm2.bias"] = sd[p + "ln_2.bias"]
        new[q + "mlp.fc1.weight"] = sd[p + "mlp.c_fc.weight"]
        new[q + "mlp.fc1.bias"] = sd[p + "mlp.c_fc.bias"]
        new[q + "mlp.fc2.weight"] = sd[p + "mlp.c_proj.weight"]
        new[q + "mlp.fc2.bias"] = sd[p + "mlp.c_proj.bias"]
    missing, unexpected = hf.load_state_dict({k: v.clone().float() for k, v in new.items()}, strict=False)
    missing = [k for k in missing if "position_ids" not in k]
    if missing or unexpected:
        raise RuntimeError(f"text tower conversion mismatch: missing={missing} unexpected={unexpected}")
    for prm in hf.parameters():
        prm.requires_grad_(False)
    return hf


def check_conversion(clip_model, hf_model, hf_tokenizer, open_clip_tokenizer, texts: list[str]) -> float:
    """Max abs difference between open_clip and converted text embeddings (should be ~1e-6)."""
    import torch

    with torch.no_grad():
        a = clip_model.encode_text(open_clip_tokenizer(texts))
        ids = hf_tokenizer(texts, padding="max_length", max_length=hf_tokenizer.model_max_length,
                           truncation=True, return_tensors="pt").input_ids
        b = hf_model(input_ids=ids).text_embeds
    return float((a - b).abs().max())
