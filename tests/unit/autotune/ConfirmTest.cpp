//===- ConfirmTest.cpp - the tuner's confirmation stage ------------------===//
//
// One lucky measurement (a candidate timed while the machine was quiet)
// must not win once the finalists are re-measured: TuneOptions::confirmTop.
// A scripted Measurer makes the timings exact.
//
//===----------------------------------------------------------------------===//
#include "autotune/Tuner.h"

#include <gtest/gtest.h>

#include <map>

using namespace kjit;
using namespace kjit::autotune;

namespace {
const char *kConv =
    "func.func @main(%x: tensor<1x9x11x16xf32>, %w: tensor<16x3x3xf32>) -> "
    "tensor<1x9x11x16xf32> {\n  %y = \"kjit.depthwise_conv2d\"(%x, %w) "
    "{layout = \"nhwc\", strides = array<i64: 1, 1>, dilations = array<i64: "
    "1, 1>, padding = array<i64: 1, 1, 1, 1>} : (tensor<1x9x11x16xf32>, "
    "tensor<16x3x3xf32>) -> tensor<1x9x11x16xf32>\n  return %y : "
    "tensor<1x9x11x16xf32>\n}\n";

/// The default: 8 ms. The first other candidate: 1 ms once (lucky), then
/// 10 ms. The others: 5 ms + 0.01 ms per order of first sight.
class ScriptedMeasurer : public Measurer {
public:
  explicit ScriptedMeasurer(std::string defaultConfig)
      : default_(std::move(defaultConfig)) {}
  Measurement measure(const Workload &, const Candidate &c) override {
    Measurement m;
    m.repeats = 7;
    int &calls = calls_[c.configText];
    ++calls;
    if (c.configText == default_) {
      m.medianSeconds = 8e-3;
    } else {
      if (!order_.count(c.configText))
        order_[c.configText] = int(order_.size());
      int k = order_[c.configText];
      m.medianSeconds = k == 0 ? (calls == 1 ? 1e-3 : 10e-3) : 5e-3 + 1e-5 * k;
    }
    return m;
  }
  std::string lucky() const {
    for (auto &[config, k] : order_)
      if (k == 0)
        return config;
    return "";
  }
  std::string steady() const { // the fastest of the others
    for (auto &[config, k] : order_)
      if (k == 1)
        return config;
    return "";
  }
  std::map<std::string, int> calls_;

private:
  std::string default_;
  std::map<std::string, int> order_;
};
} // namespace

TEST(Confirm, ALuckyMeasurementDoesNotWin) {
  auto ws = extractWorkloads(kConv);
  ASSERT_TRUE(bool(ws)) << llvm::toString(ws.takeError());
  auto pw = ParsedWorkload::parse(ws->front());
  ASSERT_TRUE(bool(pw)) << llvm::toString(pw.takeError());
  TargetInfo target;
  target.hasAVX2 = target.hasFMA = true;
  target.vectorBits = 256;
  target.numCores = 2;
  std::string def = (*pw)->defaultConfig(target);

  TuneOptions o;
  o.strategy = "pruned";
  o.topK = 5;
  o.resume = false;
  {
    ScriptedMeasurer m(def);
    auto r = tuneWorkload(ws->front(), target, "t", "c", nullptr, &m, o);
    ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
    ASSERT_FALSE(m.lucky().empty());
    EXPECT_EQ(r->bestConfig, m.lucky()); // without confirmation: fooled
    EXPECT_EQ(r->confirmations, 0u);
  }
  o.confirmTop = 2;
  o.confirmRounds = 2;
  ScriptedMeasurer m(def);
  auto r = tuneWorkload(ws->front(), target, "t", "c", nullptr, &m, o);
  ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
  EXPECT_EQ(r->bestConfig, m.steady());
  EXPECT_NEAR(*r->bestSeconds, 5e-3 + 1e-5, 1e-9);
  EXPECT_NEAR(*r->defaultSeconds, 8e-3, 1e-12);
  // Finalists: the lucky one, the steady one and the default, twice each.
  EXPECT_EQ(r->confirmations, 6u);
  EXPECT_EQ(m.calls_[m.lucky()], 3);
  EXPECT_EQ(m.calls_[def], 3);
  // measured counts the search only: the default and five candidates.
  EXPECT_EQ(r->measured, 6u);
}
