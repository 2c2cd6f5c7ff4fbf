# Builds the small ONNX models the Tessera.Runtime tests load, with onnx.helper (independent of Tessera's exporter),
# and writes the expected outputs computed with numpy to expected.json. Usage: make_models.py OUT_DIR
import json, os, sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(1234)
expected = {}

def save(model, name, check=True):
    if check:
        onnx.checker.check_model(model, full_check=True)
    path = os.path.join(out, name)
    onnx.save(model, path)
    return path

def model_of(nodes, inputs, outputs, inits, opset=17, props=None, name="g"):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="tessera-tests")
    m.ir_version = 8
    if props:
        helper.set_model_props(m, props)
    return m

def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)

# 1. Gemm + Softmax classifier, symbolic batch: probs = softmax(x @ W + b)
W = rng.standard_normal((4, 3)).astype(np.float32)
b = rng.standard_normal(3).astype(np.float32)
m = model_of(
    [helper.make_node("Gemm", ["x", "W", "b"], ["logits"]), helper.make_node("Softmax", ["logits"], ["probs"], axis=-1)],
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
    [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 3])],
    [numpy_helper.from_array(W, "W"), numpy_helper.from_array(b, "b")])
save(m, "gemm_softmax.onnx")
x = rng.standard_normal((5, 4)).astype(np.float32)
expected["gemm_softmax"] = {"x": x.ravel().tolist(), "probs": softmax(x @ W + b).ravel().tolist()}

# Truncated and garbage copies of it.
data = open(os.path.join(out, "gemm_softmax.onnx"), "rb").read()
open(os.path.join(out, "truncated.onnx"), "wb").write(data[: len(data) // 2])
open(os.path.join(out, "random.onnx"), "wb").write(np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes())

# 2. Two inputs of different dtypes sharing the symbolic batch: y = a @ V + Cast(ids); n = ids + 1
V = rng.standard_normal((3, 2)).astype(np.float32)
one = np.array(1, dtype=np.int64)
m = model_of(
    [helper.make_node("MatMul", ["a", "V"], ["av"]),
     helper.make_node("Cast", ["ids"], ["idsf"], to=TensorProto.FLOAT),
     helper.make_node("Add", ["av", "idsf"], ["y"]),
     helper.make_node("Add", ["ids", "one"], ["n"])],
    [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 3]),
     helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", 2])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2]),
     helper.make_tensor_value_info("n", TensorProto.INT64, ["batch", 2])],
    [numpy_helper.from_array(V, "V"), numpy_helper.from_array(one, "one")])
save(m, "two_inputs.onnx")
a = rng.standard_normal((3, 3)).astype(np.float32)
ids = rng.integers(-5, 100, (3, 2)).astype(np.int64)
expected["two_inputs"] = {"a": a.ravel().tolist(), "ids": ids.ravel().tolist(),
                          "y": (a @ V + ids.astype(np.float32)).ravel().tolist(), "n": (ids + 1).ravel().tolist()}

# 3. Image classifier on [batch,1,4,4]: logits = Flatten(x) @ K + c, with labels and preprocessing in metadata_props.
K = rng.standard_normal((16, 3)).astype(np.float32)
c = rng.standard_normal(3).astype(np.float32)
pre = {"height": 4, "width": 4, "num_channels": 1, "rescale_factor": 1 / 255, "image_mean": [0.5], "image_std": [0.25], "invert": False}
labels = {"0": "cat", "1": "dog", "2": "bird"}
def image_model(props, softmax_out):
    nodes = [helper.make_node("Flatten", ["pixels"], ["flat"], axis=1), helper.make_node("Gemm", ["flat", "K", "c"], ["logits"])]
    out_name = "logits"
    if softmax_out:
        nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], axis=-1))
        out_name = "probs"
    return model_of(nodes,
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 1, 4, 4])],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["batch", 3])],
        [numpy_helper.from_array(K, "K"), numpy_helper.from_array(c, "c")], props=props)
save(image_model({"tessera.preprocessing": json.dumps(pre), "tessera.id2label": json.dumps(labels), "tessera.version": "0.1.0"}, False), "image_meta.onnx")
save(image_model(None, True), "image_softmax.onnx")
folder = os.path.join(out, "image_folder")
os.makedirs(folder, exist_ok=True)
save(image_model(None, False), os.path.join("image_folder", "model.onnx"))
folder_pre = dict(pre, image_mean=[0.25], image_std=[0.5], invert=True)
json.dump(folder_pre, open(os.path.join(folder, "preprocessor_config.json"), "w"))
json.dump({"model_type": "tiny", "id2label": {"0": "shirt", "1": "shoe", "2": "bag"}}, open(os.path.join(folder, "config.json"), "w"))
pixels = rng.random((6, 1, 4, 4)).astype(np.float32)
flat = pixels.reshape(6, 16)
expected["image_meta"] = {"pixels": pixels.ravel().tolist(), "probs": softmax(((flat - 0.5) / 0.25) @ K + c).ravel().tolist()}
expected["image_softmax"] = {"probs": softmax(flat @ K + c).ravel().tolist()}
expected["image_folder"] = {"probs": softmax(((1 - flat - 0.25) / 0.5) @ K + c).ravel().tolist()}

# 4. Fixed shapes: x float[2,4] -> Relu
m = model_of([helper.make_node("Relu", ["x"], ["y"])],
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])], [])
save(m, "fixed.onnx")

# 5. Models ONNX Runtime cannot run: an operator that does not exist, and opset 99.
m = model_of([helper.make_node("NoSuchOp", ["x"], ["y"])],
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])], [])
save(m, "nosuchop.onnx", check=False)
m = model_of([helper.make_node("Relu", ["x"], ["y"])],
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])], [], opset=99)
save(m, "opset99.onnx", check=False)

# 6. A bigger MLP (for the cache and allocation tests): [batch,64] -> 256 -> Relu -> 10
W1 = rng.standard_normal((64, 256)).astype(np.float32) * 0.1
W2 = rng.standard_normal((256, 10)).astype(np.float32) * 0.1
m = model_of(
    [helper.make_node("MatMul", ["x", "W1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]), helper.make_node("MatMul", ["r", "W2"], ["logits"])],
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64])],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
    [numpy_helper.from_array(W1, "W1"), numpy_helper.from_array(W2, "W2")])
save(m, "mlp.onnx")
xm = rng.standard_normal((4, 64)).astype(np.float32)
expected["mlp"] = {"x": xm.ravel().tolist(), "logits": (np.maximum(xm @ W1, 0) @ W2).ravel().tolist()}

json.dump(expected, open(os.path.join(out, "expected.json"), "w"))
print("ok")
