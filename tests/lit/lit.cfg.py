import os
import lit.formats

config.name = "kjit"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".mlir"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.kjit_tools_dir, "..", "tests", "lit")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py.in", "Inputs"]
path = [os.path.join(config.kjit_tools_dir, "kjit-opt"),
        os.path.join(config.kjit_tools_dir, "kjit-run"),
        os.path.join(config.kjit_tools_dir, "kjit-tune"),
        config.llvm_tools_dir]
config.environment["PATH"] = os.pathsep.join(path + [config.environment.get("PATH", os.environ.get("PATH", ""))])
