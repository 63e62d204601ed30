//===- TunableOpInterface.td - ops the tuner can configure --*- tablegen -*-===//
#ifndef KJIT_TUNABLE_OP_INTERFACE_TD
#define KJIT_TUNABLE_OP_INTERFACE_TD

include "mlir/IR/OpBase.td"

def TunableOpInterface : OpInterface<"TunableOpInterface"> {
  let description = [{
    An op whose lowering takes a `#kjit.config`. The tuner reads the search
    space, asks for legality and the default, and ranks candidates with the
    cost features; it never looks inside passes.
  }];
  let cppNamespace = "::mlir::kjit";
  let methods = [
    InterfaceMethod<"The knobs and their candidate values on `target`.",
      "::kjit::SearchSpace", "getSearchSpace",
      (ins "const ::kjit::TargetInfo &":$target)>,
    InterfaceMethod<[{Legality of `config` on `target`: success, or failure
      with the reason in `reason`. Knobs the op does not know are errors.}],
      "::llvm::LogicalResult", "verifyConfig",
      (ins "::mlir::kjit::ConfigAttr":$config,
           "const ::kjit::TargetInfo &":$target,
           "std::string &":$reason)>,
    InterfaceMethod<"A good heuristic config, always legal on `target`.",
      "::mlir::kjit::ConfigAttr", "getDefaultConfig",
      (ins "const ::kjit::TargetInfo &":$target)>,
    InterfaceMethod<"What the cost model needs to rank `config`.",
      "::kjit::CostFeatures", "getCostFeatures",
      (ins "::mlir::kjit::ConfigAttr":$config,
           "const ::kjit::TargetInfo &":$target)>,
  ];
}

#endif
