"""Builds the float test models for Tessera.Quantization.Tests with onnx.helper, independently of the C# code,
and checks quantized outputs with onnx.load / onnx.checker. Usage:
    onnx_models.py build DIR          writes matmul, gemm, gemm_matrix_c, mlp, mlp_external (+ .data), no_matmul, weight_input .onnx
    onnx_models.py check PATH FULL    onnx.load + onnx.checker.check_model(full_check=FULL == "1")
"""
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 17)]


def save(graph, path):
    model = helper.make_model(graph, opset_imports=OPSET, ir_version=8, producer_name="tessera-tests")
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)


def init(rng, name, *shape, scale=0.1):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def build(out):
    rng = np.random.default_rng(42)
    # MatMul with a 3-D activation [batch, 8, 64] x [64, 48], as exporters emit for sequence models.
    save(helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="proj")], "matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 8, 48])],
        [init(rng, "w", 64, 48)]), f"{out}/matmul.onnx")
    # Gemm as torch.nn.Linear exports it: weight [out, in] with transB=1, bias [out]; alpha/beta not 1 on purpose.
    save(helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["y"], name="fc", transB=1, alpha=0.5, beta=2.0)], "gemm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 96])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 40])],
        [init(rng, "w", 40, 96), init(rng, "b", 40)]), f"{out}/gemm.onnx")
    # Two-layer MLP, weight-dominated: Gemm(transB) -> Relu -> MatMul + Add.
    save(helper.make_graph(
        [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1", transB=1),
         helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("MatMul", ["r", "w2"], ["m"], name="fc2"),
         helper.make_node("Add", ["m", "b2"], ["y"])], "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 10])],
        [init(rng, "w1", 512, 256, scale=0.05), init(rng, "b1", 512), init(rng, "w2", 512, 10, scale=0.05), init(rng, "b2", 10)]),
        f"{out}/mlp.onnx")
    # Gemm whose C is a full [M, N] matrix, not a bias vector: stays an Add after the quantized product.
    save(helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "c"], ["y"], name="fc_matrix_c", transB=1)], "gemm_matrix_c",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 16])],
        [init(rng, "w", 16, 32), init(rng, "c", 2, 16)]), f"{out}/gemm_matrix_c.onnx")
    # The MLP again, with its tensors in an external data file (as models over 2 GB must be stored).
    mlp = onnx.load(f"{out}/mlp.onnx")
    onnx.save(mlp, f"{out}/mlp_external.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
              location="mlp_external.onnx.data", size_threshold=0)
    # Nothing to quantize: no MatMul at all.
    save(helper.make_graph(
        [helper.make_node("Add", ["x", "b"], ["s"]), helper.make_node("Relu", ["s"], ["y"])], "no_matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 16])],
        [init(rng, "b", 16)]), f"{out}/no_matmul.onnx")
    # A MatMul whose weight is a graph input, not an initializer: nothing to quantize either.
    save(helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="dynamic_weight")], "weight_input",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16]),
         helper.make_tensor_value_info("w", TensorProto.FLOAT, [16, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 8])], []), f"{out}/weight_input.onnx")


def check(path, full):
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=full)
    print(" ".join(sorted({n.op_type for n in model.graph.node})))


if __name__ == "__main__":
    if sys.argv[1] == "build":
        build(sys.argv[2])
    else:
        check(sys.argv[2], sys.argv[3] == "1")
