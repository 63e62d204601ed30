//===- SourceLimitsTest.cpp - deeply nested text is refused, not parsed ---===//
//
// MLIR's parser recurses per nesting level: a 20 KB module nesting 5000
// regions or 10000 attribute arrays overflowed its stack (SIGSEGV) in
// Jit::compileModule. Each test runs in its own process (gtest_discover_tests),
// so such a crash fails the test instead of the whole binary.
//
//===----------------------------------------------------------------------===//
#include "compiler/SourceLimits.h"
#include "TestUtil.h"

#include <gtest/gtest.h>

using namespace kjit;
using kjit::compiler::checkSourceNesting;
using kjit::compiler::kMaxSourceNesting;

namespace {
/// `depth` nested scf.if regions in @main, one a line.
std::string nestedRegions(int depth) {
  std::string s = "func.func @main(%c: i1) {\n";
  for (int i = 0; i < depth; ++i)
    s += "scf.if %c {\n";
  for (int i = 0; i < depth; ++i)
    s += "}\n";
  return s + "  return\n}\n";
}

/// An attribute of `depth` nested arrays on @main.
std::string nestedArrays(int depth) {
  return "func.func @main() attributes {a = " + std::string(depth, '[') +
         std::string(depth, ']') + "} {\n  return\n}\n";
}

std::string nestingError(llvm::StringRef text) {
  llvm::Error e = checkSourceNesting(text);
  return e ? llvm::toString(std::move(e)) : std::string("<no error>");
}

/// Jit::compileModule's error for `text` ("<compiled>" if none).
std::string compileError(const std::string &text,
                         bool modelPickWithoutRecord = false) {
  JitOptions o;
  o.diskCache = false;
  o.tuningDb = "off";
  o.modelPickWithoutRecord = modelPickWithoutRecord;
  Jit jit(Target::host(), o);
  auto k = jit.compileModule(text);
  return k ? std::string("<compiled>") : k.errorMessage();
}
} // namespace

TEST(SourceLimits, CompileModuleRefusesDeepRegions) {
  std::string text = nestedRegions(5000);
  ASSERT_LT(text.size(), 100u * 1024);
  std::string error = compileError(text);
  EXPECT_NE(error.find("input.mlir:257: the text nests 5001 levels deep"),
            std::string::npos)
      << error;
}

TEST(SourceLimits, CompileModuleRefusesDeepAttributeArrays) {
  std::string text = nestedArrays(10000);
  ASSERT_LT(text.size(), 21u * 1024);
  std::string error = compileError(text);
  EXPECT_NE(error.find("input.mlir:1: the text nests 10001 levels deep"),
            std::string::npos)
      << error;
}

// Run-time selection parses the module text before prepare() does: with
// the cost model's pick it parses even without a tuning database.
TEST(SourceLimits, SelectionRefusesDeepText) {
  std::string error =
      compileError(nestedArrays(10000), /*modelPickWithoutRecord=*/true);
  EXPECT_NE(error.find("deeper than kjit's limit of 256"), std::string::npos)
      << error;
}

TEST(SourceLimits, ScanCountsBracketsOnly) {
  // The limit itself passes, one more level fails, naming the line.
  std::string atLimit =
      std::string(kMaxSourceNesting, '(') + std::string(kMaxSourceNesting, ')');
  EXPECT_EQ(nestingError(atLimit), "<no error>");
  EXPECT_EQ(nestingError("\n\n" + std::string(kMaxSourceNesting + 1, '<')),
            "input.mlir:3: the text nests 257 levels deep (brackets { [ ( <, "
            "alias uses, runs of '-'), deeper than kjit's limit of 256 (level "
            "257 is on line 3)");
  // Mixed kinds count together.
  std::string mixed;
  for (unsigned i = 0; i < kMaxSourceNesting + 1; ++i)
    mixed += "{[(<"[i % 4];
  EXPECT_NE(nestingError(mixed), "<no error>");
  // Brackets in strings and comments are not nesting.
  std::string deep(1000, '[');
  EXPECT_EQ(nestingError("\"" + deep + "\" \"\\\"" + deep + "\""),
            "<no error>");
  EXPECT_EQ(nestingError("// " + deep + "\n%x = 1"), "<no error>");
  // `->` and `>=` close nothing, so that they cannot hide real depth.
  std::string arrows;
  for (unsigned i = 0; i < kMaxSourceNesting + 1; ++i)
    arrows += "( -> >= ";
  EXPECT_NE(nestingError(arrows), "<no error>");
  // k unary minus signs nest k - 1 levels (the affine parser recurses per
  // sign); negative literals nest nothing.
  EXPECT_EQ(nestingError("(" + std::string(kMaxSourceNesting, '-') + "d0)"),
            "<no error>");
  EXPECT_NE(nestingError("(" + std::string(kMaxSourceNesting + 1, '-') + "d0)"),
            "<no error>");
  EXPECT_NE(nestingError("(- - " + std::string(kMaxSourceNesting, '-') + "d0)"),
            "<no error>");
  std::string negatives;
  for (int i = 0; i < 1000; ++i)
    negatives += "-1, ";
  EXPECT_EQ(nestingError("[" + negatives + "]"), "<no error>");
  // An alias use nests as deep as its definition: each alias of a chain
  // wraps the previous one in one more array.
  std::string chain = "#a0 = [1]\n";
  for (unsigned i = 1; i < kMaxSourceNesting; ++i)
    chain +=
        "#a" + std::to_string(i) + " = [#a" + std::to_string(i - 1) + "]\n";
  EXPECT_EQ(nestingError(chain + "#x = #a255\n"), "<no error>");
  EXPECT_NE(nestingError(chain + "#x = [#a255]\n"), "<no error>");
  EXPECT_NE(nestingError(chain + "func.func @f() attributes {a = #a255}"),
            "<no error>");
  // Dialect attributes and types are not aliases.
  EXPECT_EQ(nestingError(chain + "#x = #kjit.config<{}> !y = !llvm.ptr"),
            "<no error>");
  // Closers of a finished level free it again.
  std::string wide;
  for (int i = 0; i < 1000; ++i)
    wide += "{[()]}";
  EXPECT_EQ(nestingError(wide), "<no error>");
}
