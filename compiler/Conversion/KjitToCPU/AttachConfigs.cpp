//===- AttachConfigs.cpp - resolve every op's #kjit.config ---------------===//
#include "compiler/Compiler.h"
#include "compiler/Passes.h"
#include "compiler/Pipelines/NVVMPipeline.h"
#include "compiler/SourceLimits.h"

#include "mlir/AsmParser/AsmParser.h"

namespace kjit::compiler {
#define GEN_PASS_DEF_KJITATTACHCONFIGS
#include "compiler/Passes.h.inc"
} // namespace kjit::compiler

using namespace mlir;
using namespace mlir::kjit;

namespace {
struct AttachConfigs
    : ::kjit::compiler::impl::KjitAttachConfigsBase<AttachConfigs> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = module.getContext();
    ::kjit::compiler::CpuTarget target =
        (cpu.empty() && features.empty())
            ? ::kjit::compiler::CpuTarget::host()
            : ::kjit::compiler::CpuTarget::fromNames(cpu, features);
    if (!gpuChip.empty()) {
      auto info = ::kjit::compiler::cudaTargetInfo(gpuChip);
      if (!info) {
        module.emitError() << "unknown CUDA chip '" << gpuChip
                           << "' (expected sm_80, sm_86, sm_89, sm_90, ...)";
        return signalPassFailure();
      }
      target.info = *info;
    }

    ConfigAttr fallback;
    if (!config.empty()) {
      if (llvm::Error e =
              ::kjit::compiler::checkSourceNesting(config, "config")) {
        module.emitError() << "option config: " << llvm::toString(std::move(e));
        return signalPassFailure();
      }
      Attribute parsed = parseAttribute(config, ctx);
      fallback = dyn_cast_or_null<ConfigAttr>(parsed);
      if (!fallback) {
        module.emitError() << "option config must be a #kjit.config<{...}> "
                              "attribute, got '"
                           << config << "'";
        return signalPassFailure();
      }
    }
    ConfigAttr threadsOverride;
    if (threads > 0)
      threadsOverride = ConfigAttr::get(ctx, {{"threads", threads}});

    WalkResult r = module.walk([&](TunableOpInterface op) {
      ConfigAttr own = getConfig(op);
      ConfigAttr c = op.getDefaultConfig(target.info)
                         .merge(own ? own : fallback)
                         .merge(threadsOverride);
      std::string why;
      if (failed(op.verifyConfig(c, target.info, why))) {
        op->emitError() << "illegal config " << c << ": " << why;
        return WalkResult::interrupt();
      }
      op->setAttr(kConfigAttrName, c);
      return WalkResult::advance();
    });
    if (r.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
