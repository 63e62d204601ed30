//===- TensorViewTest.cpp - views, dtypes, op descriptors -----------------===//
#include "OpText.h"
#include "TestUtil.h"

#include <gtest/gtest.h>

using namespace kjit;

TEST(TensorView, ContiguityAndStrides) {
  float buf[24];
  TensorView v(buf, {2, 3, 4});
  EXPECT_EQ(v.numElements(), 24);
  EXPECT_TRUE(v.isContiguous());
  EXPECT_EQ(v.contiguousStrides(), (std::vector<int64_t>{12, 4, 1}));
  v.strides = {12, 4, 1};
  EXPECT_TRUE(v.isContiguous());
  v.strides = {1, 2, 6}; // a transposed view
  EXPECT_FALSE(v.isContiguous());
  v.strides = {12, 4}; // wrong length is never contiguous
  EXPECT_FALSE(v.isContiguous());
  TensorView ones(buf, DType::f32, {1, 4}, {99, 1}); // size-1 dims ignored
  EXPECT_TRUE(ones.isContiguous());
  TensorView scalar(buf, {});
  EXPECT_EQ(scalar.numElements(), 1);
}

TEST(TensorView, DTypes) {
  EXPECT_STREQ(dtypeName(DType::f32), "f32");
  EXPECT_STREQ(dtypeName(DType::i32), "i32");
  EXPECT_EQ(dtypeSize(DType::f32), 4u);
  int32_t ibuf[2];
  EXPECT_EQ(TensorView(ibuf, {2}).dtype, DType::i32);
}

TEST(OpText, DepthwiseConvText) {
  DepthwiseConv2d op;
  op.batch = 2;
  op.channels = 5;
  op.height = 17;
  op.width = 9;
  op.kernel = {3, 5};
  op.strides = {2, 1};
  op.dilations = {1, 2};
  op.padding = {1, 0, 4, 3};
  op.bias = true;
  auto text = runtime::toMlirText(op);
  ASSERT_TRUE(text) << text.errorMessage();
  // OH = (17+1-2-1)/2+1 = 8, OW = (9+7-8-1)/1+1 = 8
  EXPECT_NE(text->find("\"kjit.depthwise_conv2d\"(%x, %w, %b)"),
            std::string::npos);
  EXPECT_NE(text->find("-> tensor<2x8x8x5xf32>"), std::string::npos) << *text;
  EXPECT_NE(text->find("padding = array<i64: 1, 0, 4, 3>"), std::string::npos);
  EXPECT_NE(text->find("dilations = array<i64: 1, 2>"), std::string::npos);
  op.layout = "nchw";
  text = runtime::toMlirText(op);
  ASSERT_TRUE(text);
  EXPECT_NE(text->find("(%x: tensor<2x5x17x9xf32>"), std::string::npos);
  EXPECT_NE(text->find("-> tensor<2x5x8x8xf32>"), std::string::npos);
}

TEST(OpText, InceptionText) {
  InceptionDepthwiseConv2d op;
  op.channels = 16;
  op.height = op.width = 8;
  op.branchChannels = {4, 4, 4};
  auto text = runtime::toMlirText(op);
  ASSERT_TRUE(text) << text.errorMessage();
  EXPECT_NE(text->find("branch_channels = array<i64: 4, 4, 4>"),
            std::string::npos);
  EXPECT_NE(text->find("tensor<4x1x11xf32>, tensor<4x11x1xf32>) -> "
                       "tensor<1x8x8x16xf32>"),
            std::string::npos)
      << *text;
}

TEST(OpText, InvalidDescriptorsAreUserErrors) {
  auto err = [](DepthwiseConv2d op) {
    auto t = runtime::toMlirText(op);
    return t ? std::string("<no error>") : t.errorMessage();
  };
  DepthwiseConv2d ok = test::smallConv();
  DepthwiseConv2d op = ok;
  op.channels = 0;
  EXPECT_NE(err(op).find("channels must be positive"), std::string::npos);
  op = ok;
  op.strides = {0, 1};
  EXPECT_NE(err(op).find("strides[0]"), std::string::npos);
  op = ok;
  op.padding = {0, -1, 0, 0};
  EXPECT_NE(err(op).find("padding[1]"), std::string::npos);
  op = ok;
  op.layout = "hwcn";
  EXPECT_NE(err(op).find("layout"), std::string::npos);
  op = ok;
  op.kernel = {31, 3};
  op.padding = {0, 0, 0, 0};
  EXPECT_NE(err(op).find("larger than the padded input"), std::string::npos);

  InceptionDepthwiseConv2d inc;
  inc.channels = 8;
  inc.height = inc.width = 8;
  inc.branchChannels = {4, 4, 4};
  auto t = runtime::toMlirText(inc);
  ASSERT_FALSE(t);
  EXPECT_NE(t.errorMessage().find("more than the 8 channels"),
            std::string::npos);
  inc.branchChannels = {2, 2, 2};
  inc.bandKernel = 10;
  t = runtime::toMlirText(inc);
  ASSERT_FALSE(t);
  EXPECT_NE(t.errorMessage().find("odd"), std::string::npos);
}

TEST(OpText, SamePadding) {
  DepthwiseConv2d op;
  op.kernel = {7, 3};
  op.dilations = {2, 1};
  op.samePadding();
  EXPECT_EQ(op.padding, (std::array<int64_t, 4>{6, 6, 1, 1}));
}
