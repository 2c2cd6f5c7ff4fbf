# Exports the reference PyTorch GPT-2 (tests/Tessera.Tests/Transformers/reference_gpt2.py, an independent module)
# with torch.onnx.export, loading the weights the decoder bench saved, so both .onnx files hold the same model.
# usage: /usr/bin/python3 bench/gpt2_torch_onnx.py WEIGHTS_DIR OUT.onnx SEQ
#   WEIGHTS_DIR holds config.json and model.safetensors (HF names); the graph takes ids and mask, both int64 [1, SEQ]
#   (fixed shapes, no past) and returns logits [1, SEQ, vocab]. Needs Debian's python3-torch (1.13), opset 17.
import os, sys, types

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.join(HERE, "..", "tests", "Tessera.Tests", "Transformers")


def load_reference():
    # reference_gpt2.py expects reference_common.py's names in scope (the tests concatenate the two); load both by path
    # into one module. The module name is not "__main__", so reference_gpt2.py's command-line part does not run.
    module = types.ModuleType("reference_gpt2")
    module.__file__ = os.path.join(REF, "reference_gpt2.py")
    for name in ("reference_common.py", "reference_gpt2.py"):
        path = os.path.join(REF, name)
        exec(compile(open(path).read(), path, "exec"), module.__dict__)
    return module


def main():
    weights, out, seq = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ref = load_reference()
    import json
    import torch
    config = json.load(open(os.path.join(weights, "config.json")))
    state, meta = ref.read_safetensors(os.path.join(weights, "model.safetensors"))
    model = ref.Gpt2LMHead(config)
    model.load_state_dict(state, strict=True)
    model.eval()
    ids = (torch.arange(seq, dtype=torch.int64).reshape(1, seq) * 37) % 50000 + 1
    mask = torch.ones(1, seq, dtype=torch.int64)
    with torch.no_grad():
        torch.onnx.export(model, (ids, mask), out, input_names=["ids", "mask"], output_names=["logits"],
                          opset_version=17, do_constant_folding=True)
    print(f"torch {torch.__version__}: wrote {out} ({os.path.getsize(out) / 1e6:.0f} MB), seq {seq}")


if __name__ == "__main__":
    main()
