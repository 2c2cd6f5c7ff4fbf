"""Tiny conv nets for the ORT-format, static int8 and float16 tests, built with onnx.helper independently of the C#
code, and onnx-side checks of converted models. Usage:
    conv_models.py build DIR        writes cnn.onnx, resnet.onnx, no_conv.onnx
    conv_models.py ops PATH         prints "domain;opset;op_type" for every op type of the graph (subgraphs too), sorted
    conv_models.py check PATH       onnx.checker.check_model(full_check=True); prints the sorted op types
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


def he(rng, name, *shape):
    fan_in = int(np.prod(shape[1:]))
    return numpy_helper.from_array((rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32), name)


def small(rng, name, *shape):
    return numpy_helper.from_array((rng.standard_normal(shape) * 0.05).astype(np.float32), name)


def bn(rng, prefix, c):
    return [numpy_helper.from_array((1 + 0.1 * rng.standard_normal(c)).astype(np.float32), f"{prefix}.g"),
            numpy_helper.from_array((0.1 * rng.standard_normal(c)).astype(np.float32), f"{prefix}.b"),
            numpy_helper.from_array((0.1 * rng.standard_normal(c)).astype(np.float32), f"{prefix}.m"),
            numpy_helper.from_array((1 + 0.1 * rng.random(c)).astype(np.float32), f"{prefix}.v")]


def build(out):
    rng = np.random.default_rng(3)
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 1, 12, 12])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])
    # cnn: Conv+BN -> Relu -> MaxPool -> Conv -> Relu -> Flatten -> Gemm (as Tessera's cnn exports, smaller).
    save(helper.make_graph([
        helper.make_node("Conv", ["input", "c1.w", "c1.bias"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "bn1.g", "bn1.b", "bn1.m", "bn1.v"], ["b1"], name="bn1"),
        helper.make_node("Relu", ["b1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "c2.w", "c2.bias"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("Flatten", ["r2"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc.w", "fc.bias"], ["logits"], name="fc", transB=1),
    ], "cnn", [x], [y], [he(rng, "c1.w", 16, 1, 3, 3), small(rng, "c1.bias", 16), *bn(rng, "bn1", 16),
                         he(rng, "c2.w", 16, 16, 3, 3), small(rng, "c2.bias", 16),
                         he(rng, "fc.w", 10, 16 * 6 * 6), small(rng, "fc.bias", 10)]), f"{out}/cnn.onnx")
    # resnet: stem Conv -> Relu, one residual block (Conv -> Relu -> Conv) + skip Add -> Relu, GlobalAveragePool, Gemm.
    save(helper.make_graph([
        helper.make_node("Conv", ["input", "stem.w", "stem.bias"], ["s"], name="stem", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["s"], ["sr"], name="stem_relu"),
        helper.make_node("Conv", ["sr", "a.w", "a.bias"], ["a"], name="block.conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["a"], ["ar"], name="block.relu1"),
        helper.make_node("Conv", ["ar", "b.w", "b.bias"], ["b"], name="block.conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["b", "sr"], ["sum"], name="block.add"),
        helper.make_node("Relu", ["sum"], ["out"], name="block.relu2"),
        helper.make_node("GlobalAveragePool", ["out"], ["gap"], name="pool"),
        helper.make_node("Flatten", ["gap"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc.w", "fc.bias"], ["logits"], name="fc", transB=1),
    ], "resnet", [x], [y], [he(rng, "stem.w", 16, 1, 3, 3), small(rng, "stem.bias", 16),
                            he(rng, "a.w", 16, 16, 3, 3), small(rng, "a.bias", 16),
                            he(rng, "b.w", 16, 16, 3, 3), small(rng, "b.bias", 16),
                            he(rng, "fc.w", 10, 16), small(rng, "fc.bias", 10)]), f"{out}/resnet.onnx")
    # Nothing to quantize statically: no Conv, Gemm or MatMul.
    save(helper.make_graph(
        [helper.make_node("Add", ["input", "b"], ["s"]), helper.make_node("Relu", ["s"], ["o"]),
         helper.make_node("Flatten", ["o"], ["logits"])], "no_conv",
        [x], [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 144])],
        [small(rng, "b", 1, 1, 12, 12)]), f"{out}/no_conv.onnx")


def ops(path):
    model = onnx.load(path)
    opsets = {(o.domain or "ai.onnx"): o.version for o in model.opset_import}
    found = set()

    def walk(graph):
        for n in graph.node:
            domain = n.domain or "ai.onnx"
            found.add(f"{domain};{opsets[domain]};{n.op_type}")
            for a in n.attribute:
                if a.g is not None and len(a.g.node) > 0:
                    walk(a.g)
                for g in a.graphs:
                    walk(g)
    walk(model.graph)
    print("\n".join(sorted(found)))


def check(path):
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    print(" ".join(sorted({n.op_type for n in model.graph.node})))


if __name__ == "__main__":
    {"build": build, "ops": ops, "check": check}[sys.argv[1]](sys.argv[2])
