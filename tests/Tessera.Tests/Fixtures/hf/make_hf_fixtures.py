#!/usr/bin/env python3
"""Makes the Hugging Face reference fixtures under tests/Tessera.Tests/Fixtures/hf/ with the real transformers + peft.

Every folder is what transformers/peft `save_pretrained` writes (config.json, generation_config.json,
model.safetensors; adapter_config.json + adapter_model.safetensors), plus
  reference.safetensors  inputs (int64) and the outputs transformers computes (float32 logits, int64 greedy ids);
  reference.json         the same ids as lists, the seed, versions, and measured numbers (greedy margins, the float32
                         reference's own distance from a float64 run of the same model).
The models are tiny random configs (2 layers, hidden 32). All reference outputs are computed on the CPU in float32 with
attn_implementation="eager"; nothing depends on a GPU. Causal LMs use ByteVocabulary's 257 ids (byte value = id,
<|endoftext|> = 256), so a C# test can encode the prompts with Tessera's own byte-level tokenizer.

Left padding: the forward logits are computed with position_ids = cumsum(mask) - 1 (1 on padding), which is what
transformers' generate passes; a plain forward without position_ids would count positions over the padding.

Usage: python3 make_hf_fixtures.py OUT_DIR      (writes OUT_DIR/<fixture>/... and OUT_DIR/versions.json)
Made with: Python 3.12.3, torch 2.11.0+cu130 (CPU used), transformers 5.17.0, peft 0.21.0, safetensors 0.8.0
(versions.json), on the project's lent GPU machine, where those packages are installed, by
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 CUDA_VISIBLE_DEVICES="" python3 make_hf_fixtures.py /tmp/fx
then copying /tmp/fx/* here (without peft's README.md model cards, which the script deletes). Two runs gave byte-identical
safetensors files; only the order of target_modules in adapter_config.json varies (PEFT keeps a set).
"""
import inspect, json, os, platform, shutil, sys, traceback

import torch
import safetensors
from safetensors.torch import save_file
import transformers
from transformers import (AutoModelForCausalLM, BertConfig, BertForMaskedLM, BertForSequenceClassification, GPT2Config,
                          LlamaConfig, MistralConfig, Qwen2Config)

torch.set_grad_enabled(False)
torch.set_num_threads(1)  # one thread: reductions in a fixed order

try:
    import peft
    from peft import LoraConfig, PeftModel, get_peft_model
except Exception:  # noqa: BLE001 - the model fixtures do not need peft
    peft = None

EOS = 256
VOCAB = 257
PROMPTS = ["Hello, world", "Hi there"]  # ASCII: byte values are the ids; row 1 is left-padded by 4
NEW_TOKENS = 8
NOISE = 0.1  # added to every parameter so norms/biases are not 1/0 and greedy choices are clear-cut
MIN_MARGIN = 2e-3  # a seed is accepted only if every greedy step's top-1 beats top-2 by this much


def versions():
    return {
        "python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
        "peft": getattr(peft, "__version__", None), "safetensors": safetensors.__version__,
    }


def prompt_batch():
    rows = [list(p.encode("ascii")) for p in PROMPTS]
    width = max(len(r) for r in rows)
    ids = torch.tensor([[EOS] * (width - len(r)) + r for r in rows], dtype=torch.int64)
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], dtype=torch.int64)
    return ids, mask


def positions(mask):
    return (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)


def perturb(model, seed, scale=NOISE):
    g = torch.Generator().manual_seed(seed + 1000)
    for _, p in model.named_parameters():  # tied weights appear once
        p.add_(torch.randn(p.shape, generator=g) * scale)


def rope_kwargs(config_class, theta, scaling=None):
    """transformers 5 keeps rope_theta and the scaling in `rope_parameters`; 4.x had rope_theta + rope_scaling."""
    if "rope_parameters" in inspect.signature(config_class.__init__).parameters:
        params = {"rope_type": "default", "rope_theta": theta}
        if scaling:
            params.update(scaling)
        return {"rope_parameters": params}
    return {"rope_theta": theta, **({"rope_scaling": scaling} if scaling else {})}


def build_causal(config, seed):
    torch.manual_seed(seed)
    try:
        model = AutoModelForCausalLM.from_config(config, attn_implementation="eager")
    except TypeError:
        model = AutoModelForCausalLM.from_config(config)
    perturb(model, seed)
    return model.float().eval()


def causal_logits(model, ids, mask):
    return model(input_ids=ids, attention_mask=mask, position_ids=positions(mask), use_cache=False).logits.float()


def greedy(model, ids, mask):
    out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=NEW_TOKENS, do_sample=False,
                         num_beams=1, pad_token_id=EOS, eos_token_id=EOS, output_scores=True,
                         return_dict_in_generate=True)
    margin = float("inf")
    for step in out.scores:
        top = step.float().topk(2, dim=-1).values
        margin = min(margin, (top[:, 0] - top[:, 1]).min().item())
    return out.sequences, margin


def float64_gap(model, ids, mask, logits32):
    """transformers' own float32 rounding: max |float32 - float64| logits on row 0, which has no padding (in float64
    the fully masked padding queries of the eager path give NaN, which then reaches real rows through 0 * NaN)."""
    assert mask[0].all()
    l64 = model.double()(input_ids=ids[:1], attention_mask=mask[:1], position_ids=positions(mask[:1]), use_cache=False).logits
    model.float()
    return (l64[0] - logits32[0].double()).abs().max().item()


def write_reference(folder, tensors, info):
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(folder, "reference.safetensors"),
              metadata={"format": "pt"})
    with open(os.path.join(folder, "reference.json"), "w") as f:
        json.dump(info, f, indent=2, sort_keys=True)
        f.write("\n")


def make_causal(out, name, make_config, note):
    """Tries seeds until every greedy step is clear-cut; saves the model and its reference outputs."""
    ids, mask = prompt_batch()
    for seed in range(1, 21):
        model = build_causal(make_config(), seed)
        sequences, margin = greedy(model, ids, mask)
        if margin >= MIN_MARGIN:
            break
    folder = os.path.join(out, name)
    model.save_pretrained(folder)
    logits = causal_logits(model, ids, mask)
    gap = float64_gap(model, ids, mask, logits)
    write_reference(folder, {"input_ids": ids, "attention_mask": mask, "position_ids": positions(mask),
                             "logits": logits, "sequences": sequences},
                    {"note": note, "seed": seed, "prompts": PROMPTS, "input_ids": ids.tolist(),
                     "attention_mask": mask.tolist(), "sequences": sequences.tolist(), "max_new_tokens": NEW_TOKENS,
                     "greedy_min_top1_top2_margin": margin, "hf_float32_vs_float64_max_abs": gap,
                     "model_class": type(model).__name__, "versions": versions()})
    print(f"{name}: seed {seed}, margin {margin:.4g}, f32-vs-f64 {gap:.3g}, sequences {sequences.tolist()}")
    return folder


def make_lora(out, name, base_folder, lora_config, note, after_wrap=None):
    """Wraps the saved base model with a fresh PEFT LoRA adapter, saves it, records logits with it and after merge_and_unload."""
    ids, mask = prompt_batch()
    base = AutoModelForCausalLM.from_pretrained(base_folder, attn_implementation="eager").float().eval()
    base_logits = causal_logits(base, ids, mask)
    torch.manual_seed(1234)
    model = get_peft_model(base, lora_config)
    if after_wrap:
        after_wrap(model)
    model.eval()
    folder = os.path.join(out, name)
    model.save_pretrained(folder)
    adapted = causal_logits(model, ids, mask)
    # The saved adapter, loaded back by PEFT onto a fresh base, must give the same logits.
    fresh = AutoModelForCausalLM.from_pretrained(base_folder, attn_implementation="eager").float().eval()
    reloaded = PeftModel.from_pretrained(fresh, folder).eval()
    reload_gap = (causal_logits(reloaded, ids, mask) - adapted)[mask.bool()].abs().max().item()
    merged_model = model.merge_and_unload().eval()
    merged = causal_logits(merged_model, ids, mask)
    real = mask.bool()
    info = {"note": note, "base": os.path.basename(base_folder), "prompts": PROMPTS, "input_ids": ids.tolist(),
            "attention_mask": mask.tolist(), "adapter_keys": sorted(_keys(os.path.join(folder, "adapter_model.safetensors"))),
            "adapter_vs_base_max_abs": (adapted - base_logits)[real].abs().max().item(),
            "merged_vs_adapter_max_abs": (merged - adapted)[real].abs().max().item(),
            "peft_reload_vs_adapter_max_abs": reload_gap, "versions": versions()}
    write_reference(folder, {"input_ids": ids, "attention_mask": mask, "position_ids": positions(mask),
                             "logits_base": base_logits, "logits_adapter": adapted, "logits_merged": merged}, info)
    print(f"{name}: keys {info['adapter_keys']}; adapter-vs-base {info['adapter_vs_base_max_abs']:.3g}, "
          f"merged-vs-adapter {info['merged_vs_adapter_max_abs']:.3g}, reload {reload_gap:.3g}")


def _keys(path):
    from safetensors import safe_open
    with safe_open(path, "pt") as f:
        return list(f.keys())


def make_bert(out):
    ids = torch.tensor([[2, 17, 45, 3, 88, 61, 9, 33, 71, 5], [2, 50, 11, 99, 4, 3, 63, 1, 0, 0]], dtype=torch.int64)
    mask = torch.tensor([[1] * 10, [1] * 8 + [0] * 2], dtype=torch.int64)  # BERT pads on the right
    types = torch.tensor([[0] * 10, [0] * 5 + [1] * 3 + [0] * 2], dtype=torch.int64)  # row 1 has two segments
    common = dict(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                  max_position_embeddings=40, type_vocab_size=2, pad_token_id=0)
    for name, cls, extra, seed in [
        ("bert-mlm", BertForMaskedLM, {}, 21),
        ("bert-cls", BertForSequenceClassification,
         {"id2label": {0: "negative", 1: "neutral", 2: "positive"}, "label2id": {"negative": 0, "neutral": 1, "positive": 2}}, 22),
    ]:
        torch.manual_seed(seed)
        config = BertConfig(**common, **extra)
        try:
            model = cls._from_config(config, attn_implementation="eager")
        except TypeError:
            model = cls(config)
        perturb(model, seed)
        model.eval()
        folder = os.path.join(out, name)
        model.save_pretrained(folder)
        logits = model(input_ids=ids, attention_mask=mask, token_type_ids=types).logits.float()
        l64 = model.double()(input_ids=ids, attention_mask=mask, token_type_ids=types).logits
        gap = (l64 - logits.double()).abs().max().item()
        write_reference(folder, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "logits": logits},
                        {"note": f"{cls.__name__}, right padding, token_type_ids with two segments in row 1", "seed": seed,
                         "input_ids": ids.tolist(), "attention_mask": mask.tolist(), "token_type_ids": types.tolist(),
                         "hf_float32_vs_float64_max_abs": gap, "model_class": cls.__name__, "versions": versions()})
        print(f"{name}: f32-vs-f64 {gap:.3g}")


def main(out):
    os.makedirs(out, exist_ok=True)
    os.chdir(out)  # folders are named relative to OUT_DIR, so adapter_config.json records base_model_name_or_path "gpt2", ...
    out = "."
    with open(os.path.join(out, "versions.json"), "w") as f:
        json.dump(versions(), f, indent=2)
        f.write("\n")
    print(versions())
    small = dict(vocab_size=VOCAB, bos_token_id=EOS, eos_token_id=EOS, pad_token_id=EOS)
    llama_like = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                      max_position_embeddings=64, **small)
    jobs = [
        ("gpt2", lambda: make_causal(out, "gpt2", lambda: GPT2Config(n_positions=64, n_embd=32, n_layer=2, n_head=4, **small),
                                     "GPT2LMHeadModel (tied lm_head), left padding")),
        ("llama-gqa-llama3", lambda: make_causal(out, "llama-gqa-llama3", lambda: LlamaConfig(
            num_key_value_heads=2, head_dim=16, rms_norm_eps=1e-5,
            **rope_kwargs(LlamaConfig, 500000.0, {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                  "high_freq_factor": 4.0, "original_max_position_embeddings": 16}),
            **llama_like), "LlamaForCausalLM: GQA (4 query / 2 kv heads), head_dim 16 != hidden/heads, llama3 rope scaling, untied lm_head")),
        ("qwen2", lambda: make_causal(out, "qwen2", lambda: Qwen2Config(
            num_key_value_heads=1, tie_word_embeddings=True, **rope_kwargs(Qwen2Config, 1000000.0), **llama_like),
            "Qwen2ForCausalLM: q/k/v bias, tied lm_head, 1 kv head")),
        ("mistral-sliding", lambda: make_causal(out, "mistral-sliding", lambda: MistralConfig(
            num_key_value_heads=2, sliding_window=4, **rope_kwargs(MistralConfig, 10000.0), **llama_like),
            "MistralForCausalLM with sliding_window 4 (shorter than the prompts, so the window matters)")),
        ("bert", lambda: make_bert(out)),
    ]
    failed = []
    for name, job in jobs:
        try:
            job()
        except Exception:  # noqa: BLE001 - record and go on, so one failure does not cost the others
            traceback.print_exc()
            failed.append(name)
    if peft is None:
        failed.append("peft (not importable)")
    else:
        lora_jobs = [
            ("llama-lora-qv", lambda: make_lora(out, "llama-lora-qv", "llama-gqa-llama3", LoraConfig(
                r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], lora_dropout=0.0, init_lora_weights=False,
                task_type="CAUSAL_LM"), "PEFT LoRA r=4 alpha=8 on q_proj, v_proj (init_lora_weights=False: B is non-zero)")),
            ("llama-lora-embed-mts", lambda: make_lora(out, "llama-lora-embed-mts", "llama-gqa-llama3", LoraConfig(
                r=4, lora_alpha=8, target_modules=["embed_tokens", "o_proj"], modules_to_save=["lm_head"], lora_dropout=0.0,
                init_lora_weights=False, task_type="CAUSAL_LM"),
                "PEFT LoRA r=4 alpha=8 on embed_tokens (Embedding) and o_proj, with lm_head in modules_to_save (its copy perturbed)",
                after_wrap=_perturb_saved_copy)),
            ("gpt2-lora-rslora", lambda: make_lora(out, "gpt2-lora-rslora", "gpt2", LoraConfig(
                r=4, lora_alpha=8, target_modules=["c_attn", "c_proj"], fan_in_fan_out=True, use_rslora=True,
                lora_dropout=0.0, init_lora_weights=False, task_type="CAUSAL_LM"),
                "PEFT LoRA r=4 alpha=8 use_rslora on GPT-2's Conv1D c_attn and c_proj (fan_in_fan_out=True)")),
        ]
        for name, job in lora_jobs:
            try:
                job()
            except Exception:  # noqa: BLE001
                traceback.print_exc()
                failed.append(name)
    for leftover in ("README.md",):  # peft writes a model card; not needed by the tests
        for root, _, files in os.walk(out):
            if leftover in files:
                os.remove(os.path.join(root, leftover))
    for name in sorted(os.listdir(out)):
        if os.path.isdir(name):
            print(name, sorted(os.listdir(name)), sum(os.path.getsize(os.path.join(name, f)) for f in os.listdir(name)))
    print("FAILED:", failed if failed else "none")
    return 1 if failed else 0


def _perturb_saved_copy(model):
    g = torch.Generator().manual_seed(77)
    for name, p in model.named_parameters():
        if "modules_to_save" in name:
            p.add_(torch.randn(p.shape, generator=g) * NOISE)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
