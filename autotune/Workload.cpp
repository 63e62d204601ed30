//===- Workload.cpp - workload keys of kjit ops --------------------------===//
#include "autotune/Workload.h"
#include "compiler/SourceLimits.h"

#include "dialects/kjit/IR/KjitDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace kjit::autotune {

std::string sha256Hex(const std::string &data) {
  auto hash = llvm::SHA256::hash(
      llvm::ArrayRef<uint8_t>((const uint8_t *)data.data(), data.size()));
  static const char *hex = "0123456789abcdef";
  std::string out;
  for (uint8_t b : hash) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

Workload workloadOf(Operation *op) {
  MLIRContext *ctx = op->getContext();
  ctx->getOrLoadDialect<func::FuncDialect>();
  Location loc = UnknownLoc::get(ctx);
  OpBuilder b(ctx);
  OwningOpRef<ModuleOp> m = ModuleOp::create(loc);
  b.setInsertionPointToEnd(m->getBody());
  auto fty = b.getFunctionType(op->getOperandTypes(), op->getResultTypes());
  auto f = func::FuncOp::create(b, loc, "main", fty);
  Block *blk = f.addEntryBlock();
  b.setInsertionPointToStart(blk);
  Operation *c = b.clone(*op);
  for (unsigned i = 0; i < c->getNumOperands(); ++i)
    c->setOperand(i, blk->getArgument(i));
  c->setLoc(loc);
  c->removeAttr(mlir::kjit::kConfigAttrName);
  func::ReturnOp::create(b, loc, c->getResults());
  Workload w;
  w.opName = op->getName().getStringRef().str();
  llvm::raw_string_ostream os(w.canonicalText);
  m->print(os);
  w.key = sha256Hex(w.canonicalText);
  return w;
}

llvm::Expected<std::vector<Workload>>
extractWorkloads(const std::string &mlirText) {
  // Only what a workload holds: a func around kjit ops on tensors.
  DialectRegistry registry;
  registry.insert<func::FuncDialect, mlir::kjit::KjitDialect>();
  MLIRContext ctx(registry, MLIRContext::Threading::DISABLED);
  ctx.loadDialect<func::FuncDialect, mlir::kjit::KjitDialect>();
  std::string diagText;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
    if (!diagText.empty())
      diagText += "\n";
    std::string loc;
    llvm::raw_string_ostream os(loc);
    d.getLocation().print(os);
    diagText += loc + ": " + d.str();
    return success();
  });
  if (llvm::Error e = compiler::checkSourceNesting(mlirText))
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "invalid kjit module: " +
                                       llvm::toString(std::move(e)));
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(mlirText, &ctx, "input.mlir");
  if (!module)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "invalid kjit module: " + diagText);
  std::vector<Workload> out;
  module->walk([&](mlir::kjit::TunableOpInterface tunable) {
    out.push_back(workloadOf(tunable.getOperation()));
  });
  if (out.empty())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "the module holds no kjit op to tune");
  return out;
}

} // namespace kjit::autotune
