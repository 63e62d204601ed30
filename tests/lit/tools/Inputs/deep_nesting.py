#!/usr/bin/env python3
"""Writes a small MLIR module nesting DEPTH levels deep to stdout.

Usage: deep_nesting.py regions|attrs DEPTH
  regions: DEPTH nested scf.if regions (about 18 bytes a level)
  attrs:   a function attribute of DEPTH nested arrays (2 bytes a level)
  minus:   an affine map with DEPTH unary minus signs (1 byte a level)
  aliases: DEPTH attribute aliases, each an array of the previous one
  config:  a #kjit.config whose one knob is DEPTH nested arrays
Far fewer levels than the parser's stack takes, so that the tools must
refuse it before they parse it.
"""
import sys

kind, depth = sys.argv[1], int(sys.argv[2])
if kind == "regions":
    print("func.func @main(%c: i1) {")
    print("scf.if %c {\n" * depth + "}\n" * depth, end="")
    print("  return\n}")
elif kind == "attrs":
    print("func.func @main() attributes {a = " + "[" * depth + "]" * depth +
          "} {\n  return\n}")
elif kind == "minus":
    print("func.func @main() attributes {a = affine_map<(d0) -> (" +
          "-" * depth + "d0)>} {\n  return\n}")
elif kind == "aliases":
    print("#a0 = [1]")
    for i in range(1, depth):
        print(f"#a{i} = [#a{i - 1}]")
    print(f"func.func @main() attributes {{a = #a{depth - 1}}} {{\n"
          "  return\n}")
elif kind == "config":
    print("#kjit.config<{a = " + "[" * depth + "]" * depth + "}>")
else:
    sys.exit(f"unknown kind {kind!r}")
