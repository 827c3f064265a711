"""Make the int8 `outside` .tflite fully integer: int8 log-mel in, int8 embedding out.

The PT2E int8 body keeps its input BatchNorm in float (SUB and MUL by constants on the float
log-mel) followed by QUANTIZE. An affine map followed by a quantizer is itself one affine
quantizer, so those ops are cut from the graph and folded into the rule the MCU applies to
its float log-mel (`InputRule`): q = clamp(round(x * gain + offset) + zero_point, -128, 127),
bit-for-bit what QUANTIZE would produce up to float rounding of (x - m) * a / s. A trailing
DEQUANTIZE, if any, is cut the same way (the output's scale and zero point are reported).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AFFINE_OPS = ("SUB", "MUL", "ADD")


@dataclass(frozen=True)
class InputRule:
    """How a float log-mel value becomes the int8 model input."""
    gain: float
    offset: float
    zero_point: int

    def apply(self, x: np.ndarray) -> np.ndarray:
        q = np.round(np.asarray(x, np.float64) * self.gain + self.offset) + self.zero_point
        return np.clip(q, -128, 127).astype(np.int8)


class NotIntegerizable(ValueError):
    """The graph's input or output is not the pattern this module knows how to cut."""


def _schema():
    from ai_edge_litert import schema_py_generated as schema

    return schema


def _op_name(model, op) -> str:
    schema = _schema()
    code = model.operatorCodes[op.opcodeIndex]
    value = max(code.builtinCode, code.deprecatedBuiltinCode)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    return names[value]


def _scalar(model, graph, tensor_index: int) -> float:
    tensor = graph.tensors[tensor_index]
    data = model.buffers[tensor.buffer].data
    if data is None or tensor.type != _schema().TensorType.FLOAT32:
        raise NotIntegerizable(f"operand {tensor.name!r} of the input chain is not a float "
                               "constant")
    values = np.frombuffer(bytes(data), dtype=np.float32)
    if values.size != 1:
        raise NotIntegerizable(f"input chain operand {tensor.name!r} has {values.size} values, "
                               "expected one (a single-channel input BatchNorm)")
    return float(values[0])


def _quantization(graph, tensor_index: int) -> tuple[float, int]:
    q = graph.tensors[tensor_index].quantization
    return float(q.scale[0]), int(q.zeroPoint[0])


def op_names(tflite: bytes) -> list[str]:
    """Builtin operator names the model's graph uses, sorted (what a TFLM resolver registers)."""
    schema = _schema()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(tflite, 0))
    return sorted({_op_name(model, op) for g in model.subgraphs for op in g.operators})


def fully_integer(tflite: bytes) -> tuple[bytes, InputRule, tuple[float, int]]:
    """(the fully integer model, the input rule, the output's (scale, zero point))."""
    import flatbuffers

    schema = _schema()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(tflite, 0))
    if len(model.subgraphs) != 1:
        raise NotIntegerizable(f"expected one subgraph, found {len(model.subgraphs)}")
    graph = model.subgraphs[0]
    ops = list(graph.operators)
    current, gain, offset = graph.inputs[0], 1.0, 0.0
    while ops and _op_name(model, ops[0]) in AFFINE_OPS:
        op = ops.pop(0)
        name = _op_name(model, op)
        if op.inputs[0] != current:
            raise NotIntegerizable(f"{name} at the input does not read the running value")
        c = _scalar(model, graph, op.inputs[1])
        gain, offset = {"SUB": (gain, offset - c), "ADD": (gain, offset + c),
                        "MUL": (gain * c, offset * c)}[name]
        current = op.outputs[0]
    if not ops or _op_name(model, ops[0]) != "QUANTIZE" or ops[0].inputs[0] != current:
        raise NotIntegerizable("the graph input does not reach a QUANTIZE through constant "
                               f"SUB/MUL/ADD ops (first op: {_op_name(model, graph.operators[0])})")
    quantize = ops.pop(0)
    scale, zero = _quantization(graph, quantize.outputs[0])
    rule = InputRule(gain=gain / scale, offset=offset / scale, zero_point=zero)
    graph.inputs = np.array([quantize.outputs[0]], dtype=np.int32)
    if ops and _op_name(model, ops[-1]) == "DEQUANTIZE":
        graph.outputs = np.array([ops.pop().inputs[0]], dtype=np.int32)
    output = int(graph.outputs[0])
    if graph.tensors[output].type != schema.TensorType.INT8:
        raise NotIntegerizable("the model output is not int8")
    graph.operators = ops
    builder = flatbuffers.Builder(len(tflite))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output()), rule, _quantization(graph, output)
