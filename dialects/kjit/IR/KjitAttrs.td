//===- KjitAttrs.td - #kjit.config -------------------------*- tablegen -*-===//
#ifndef KJIT_ATTRS_TD
#define KJIT_ATTRS_TD

include "dialects/kjit/IR/KjitDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/BuiltinAttributes.td"

def Kjit_ConfigAttr : AttrDef<Kjit_Dialect, "Config"> {
  let mnemonic = "config";
  let summary = "A tuning configuration: knob names to integers or enum strings";
  let description = [{
    The contract between the tuner and the compiler:
    `#kjit.config<{ow_block = 14, vector_width = 16, task_order = "c_outer"}>`.
    Values are integers or strings only. The compiler's output is a pure
    function of the op, its operand types and attributes, this config and
    the target.
  }];
  let parameters = (ins "::mlir::DictionaryAttr":$knobs);
  let assemblyFormat = "`<` $knobs `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The integer knob `name`, or `fallback` when absent.
    int64_t getInt(::llvm::StringRef name, int64_t fallback) const;
    /// The string knob `name`, or `fallback` when absent.
    ::llvm::StringRef getString(::llvm::StringRef name,
                                ::llvm::StringRef fallback) const;
    bool has(::llvm::StringRef name) const;
    /// Builds a config from (name, int) and (name, string) pairs.
    static ConfigAttr get(::mlir::MLIRContext *ctx,
                          ::llvm::ArrayRef<std::pair<std::string, int64_t>> ints,
                          ::llvm::ArrayRef<std::pair<std::string, std::string>> strs = {});
    /// This config with `other`'s entries added or replacing ours.
    ConfigAttr merge(ConfigAttr other) const;
  }];
}

#endif
