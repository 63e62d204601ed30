//===- Space.cpp - workloads and their search spaces ---------------------===//
#include "autotune/Space.h"
#include "compiler/SourceLimits.h"

#include "mlir/IR/DialectRegistry.h"
#include "dialects/kjit/IR/KjitDialect.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using ::kjit::SearchSpace;
using ::kjit::TargetInfo;
using ::kjit::CostFeatures;
using ::kjit::Knob;
using namespace ::kjit::autotune;

namespace {
llvm::Error makeError(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg);
}

/// Collects diagnostics as text instead of printing them.
struct DiagText {
  explicit DiagText(MLIRContext &ctx) : handler(&ctx, [this](Diagnostic &d) {
    if (!text.empty())
      text += "\n";
    std::string loc;
    llvm::raw_string_ostream os(loc);
    d.getLocation().print(os);
    text += loc + ": " + d.str();
    return success();
  }) {}
  std::string text;
  ScopedDiagnosticHandler handler;
};

std::unique_ptr<MLIRContext> newContext() {
  // Only what a workload holds: a func around one kjit op on tensors.
  DialectRegistry registry;
  registry.insert<func::FuncDialect, mlir::kjit::KjitDialect>();
  auto ctx = std::make_unique<MLIRContext>(registry,
                                           MLIRContext::Threading::DISABLED);
  ctx->loadDialect<func::FuncDialect, mlir::kjit::KjitDialect>();
  return ctx;
}

std::string printAttr(Attribute a) {
  std::string s;
  llvm::raw_string_ostream os(s);
  a.print(os);
  return s;
}
} // namespace


struct ParsedWorkload::Impl {
  Workload workload;
  std::unique_ptr<MLIRContext> ctx;
  OwningOpRef<ModuleOp> module;
  mlir::kjit::TunableOpInterface op;

  mlir::kjit::ConfigAttr parseConfig(const std::string &text,
                                     std::string &why) const {
    if (llvm::Error e = ::kjit::compiler::checkSourceNesting(text, "config")) {
      why = llvm::toString(std::move(e));
      return {};
    }
    DiagText diags(*ctx);
    Attribute a = mlir::parseAttribute(text, ctx.get());
    auto c = llvm::dyn_cast_or_null<mlir::kjit::ConfigAttr>(a);
    if (!c)
      why = "not a #kjit.config attribute: '" + text + "'" +
            (diags.text.empty() ? "" : " (" + diags.text + ")");
    return c;
  }
};

ParsedWorkload::ParsedWorkload(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
ParsedWorkload::~ParsedWorkload() = default;

llvm::Expected<std::unique_ptr<ParsedWorkload>>
ParsedWorkload::parse(const Workload &workload) {
  auto impl = std::make_unique<Impl>();
  impl->workload = workload;
  impl->ctx = newContext();
  // A workload's text may come from a tuning database file.
  if (llvm::Error e = ::kjit::compiler::checkSourceNesting(
          workload.canonicalText, "workload.mlir"))
    return makeError("invalid workload: " + llvm::toString(std::move(e)));
  DiagText diags(*impl->ctx);
  impl->module = parseSourceString<ModuleOp>(workload.canonicalText,
                                             impl->ctx.get(), "workload.mlir");
  if (!impl->module)
    return makeError("invalid workload: " + diags.text);
  impl->module->walk([&](mlir::kjit::TunableOpInterface op) {
    if (!impl->op)
      impl->op = op;
  });
  if (!impl->op)
    return makeError("the workload holds no kjit op");
  return std::unique_ptr<ParsedWorkload>(new ParsedWorkload(std::move(impl)));
}

const Workload &ParsedWorkload::workload() const { return impl_->workload; }

SearchSpace ParsedWorkload::searchSpace(const TargetInfo &target) const {
  return impl_->op.getSearchSpace(target);
}

EnumeratedSpace ParsedWorkload::enumerate(const TargetInfo &target,
                                          uint64_t limit) const {
  EnumeratedSpace out;
  out.raw = searchSpace(target);
  const auto &knobs = out.raw.knobs;
  if (knobs.empty())
    return out;
  for (const Knob &k : knobs)
    if (k.size() == 0)
      return out;
  MLIRContext *ctx = impl_->ctx.get();
  std::vector<size_t> idx(knobs.size(), 0);
  while (true) {
    if (limit && out.rawSize >= limit)
      break;
    ++out.rawSize;
    std::vector<std::pair<std::string, int64_t>> ints;
    std::vector<std::pair<std::string, std::string>> strs;
    for (size_t i = 0; i < knobs.size(); ++i) {
      if (knobs[i].isString())
        strs.push_back({knobs[i].name, knobs[i].strings[idx[i]]});
      else
        ints.push_back({knobs[i].name, knobs[i].ints[idx[i]]});
    }
    auto config = mlir::kjit::ConfigAttr::get(ctx, ints, strs);
    std::string why;
    if (succeeded(impl_->op.verifyConfig(config, target, why))) {
      SpacePoint p;
      p.candidate.configText = printAttr(config);
      p.features = impl_->op.getCostFeatures(config, target);
      out.legal.push_back(std::move(p));
    } else {
      ++out.illegal;
      if (out.firstIllegalReason.empty())
        out.firstIllegalReason = why;
    }
    // Odometer increment, last knob fastest.
    size_t i = knobs.size();
    while (i > 0) {
      --i;
      if (++idx[i] < knobs[i].size())
        break;
      idx[i] = 0;
      if (i == 0)
        return out;
    }
  }
  return out;
}

std::string ParsedWorkload::defaultConfig(const TargetInfo &target) const {
  return printAttr(impl_->op.getDefaultConfig(target));
}

llvm::Error ParsedWorkload::verify(const std::string &configText,
                                   const TargetInfo &target) const {
  std::string why;
  auto c = impl_->parseConfig(configText, why);
  if (!c)
    return makeError(why);
  if (failed(impl_->op.verifyConfig(c, target, why)))
    return makeError(why);
  return llvm::Error::success();
}

CostFeatures ParsedWorkload::features(const std::string &configText,
                                      const TargetInfo &target) const {
  std::string why;
  auto c = impl_->parseConfig(configText, why);
  if (!c)
    c = impl_->op.getDefaultConfig(target);
  return impl_->op.getCostFeatures(c, target);
}

llvm::Expected<std::string>
ParsedWorkload::canonicalConfig(const std::string &text) const {
  std::string why;
  auto c = impl_->parseConfig(text, why);
  if (!c)
    return makeError(why);
  return printAttr(c);
}
