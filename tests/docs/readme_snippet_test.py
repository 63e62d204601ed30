#!/usr/bin/env python3
"""The README's C++ example is examples/quickstart.cpp, which CI builds and
runs (ctest kjit_quickstart): fail when the two drift apart."""
import re
import sys

readme, source = sys.argv[1], sys.argv[2]
blocks = re.findall(r"```cpp\n(.*?)```", open(readme).read(), re.S)
code = open(source).read()
# The file's first line says where it is used; the README shows the rest.
body = code.split("\n", 1)[1]
if body not in blocks:
    sys.exit("README.md has no ```cpp block equal to %s (minus its first "
             "line); update one from the other" % source)
print("README's C++ example matches", source)
