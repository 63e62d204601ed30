"""One-op MLIR modules in the generic form, the op interface of
ARCHITECTURE.md (op names, operand order, attribute names and kinds)."""


def tensor(shape, elem="f32"):
    """'tensor<2x3xf32>'; a dimension of None prints as '?'."""
    dims = "".join(("?" if d is None else str(int(d))) + "x" for d in shape)
    return "tensor<" + dims + elem + ">"


def i64_array(values):
    return "array<i64: " + ", ".join(str(int(v)) for v in values) + ">"


def f32_attr(value):
    """'0.5 : f32'; an exponent form gets its '.', which MLIR's float
    literal needs ('1e-05' would not parse, '1.0e-05' does)."""
    text = repr(float(value))
    if "e" in text and "." not in text:
        text = text.replace("e", ".0e")
    return text + " : f32"


def module(op, operand_types, result_types, attrs):
    """func.func @main(operands) -> results { kjit op; return }.

    attrs: {name: already-printed attribute value}."""
    args = ", ".join("%%a%d: %s" % (i, t) for i, t in enumerate(operand_types))
    operands = ", ".join("%%a%d" % i for i in range(len(operand_types)))
    attr_text = ", ".join("%s = %s" % (k, v) for k, v in attrs.items())
    results = ", ".join(result_types)
    if len(result_types) == 1:
        ret_types, lhs, ret = results, "%y", "%y"
    else:
        ret_types = "(" + results + ")"
        lhs = "%%y:%d" % len(result_types)
        ret = ", ".join("%%y#%d" % i for i in range(len(result_types)))
    return ("func.func @main(%s) -> %s {\n"
            "  %s = \"%s\"(%s) {%s} : (%s) -> %s\n"
            "  return %s : %s\n}\n") % (
                args, ret_types, lhs, op, operands, attr_text,
                ", ".join(operand_types), ret_types, ret, results)
