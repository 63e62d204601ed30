//===- OpText.cpp - op descriptors to MLIR text ---------------------------===//
#include "OpText.h"
#include "RuntimeInternal.h"
#include "dialects/kjit/IR/KjitLimits.h"

#include <sstream>

using namespace kjit;
using namespace kjit::runtime;

/// Every size field of a descriptor must be at most the dialect's dimension
/// limit: the verifier would refuse more, and checking first keeps the
/// arithmetic below (output sizes, channel sums) inside int64.
static Status checkDimLimit(const char *name, const std::string &field,
                            int64_t v) {
  if (v > mlir::kjit::kMaxDimSize)
    return userError(std::string(name) + ": " + field + " is " +
                     std::to_string(v) + ", more than kjit's limit of " +
                     mlir::kjit::kMaxDimSizeText.str());
  return Status::ok();
}

int64_t kjit::runtime::convOutputSize(int64_t in, int64_t padBefore,
                                      int64_t padAfter, int64_t kernel,
                                      int64_t stride, int64_t dilation) {
  int64_t span = in + padBefore + padAfter - dilation * (kernel - 1) - 1;
  if (span < 0)
    return 0;
  return span / stride + 1;
}

static std::string tensorType(const std::vector<int64_t> &shape) {
  std::string s = "tensor<";
  for (int64_t d : shape)
    s += std::to_string(d) + "x";
  return s + "f32>";
}

static std::string i64Array(std::initializer_list<int64_t> values) {
  std::string s = "array<i64: ";
  bool first = true;
  for (int64_t v : values) {
    if (!first)
      s += ", ";
    s += std::to_string(v);
    first = false;
  }
  return s + ">";
}

static Status checkLayout(const std::string &layout, const char *opName) {
  if (layout != "nhwc" && layout != "nchw")
    return userError(std::string(opName) + ": layout must be \"nhwc\" or " +
                     "\"nchw\", got \"" + layout + "\"");
  return Status::ok();
}

/// Entry names end up as symbols; keep them to identifier characters.
static Status checkEntry(const std::string &entry) {
  if (entry.empty())
    return userError("entry function name is empty");
  for (char c : entry)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' ||
          c == '$'))
      return userError("entry function name '" + entry +
                       "' has characters other than [A-Za-z0-9_.$]");
  return Status::ok();
}

static std::vector<int64_t> activationShape(const std::string &layout,
                                            int64_t n, int64_t c, int64_t h,
                                            int64_t w) {
  if (layout == "nchw")
    return {n, c, h, w};
  return {n, h, w, c};
}

Result<std::string> kjit::runtime::toMlirText(const DepthwiseConv2d &op,
                                              const std::string &entry) {
  const char *name = "DepthwiseConv2d";
  auto positive = [&](const char *field, int64_t v) -> Status {
    if (v <= 0)
      return userError(std::string(name) + ": " + field +
                       " must be positive, got " + std::to_string(v));
    return Status::ok();
  };
  for (auto [field, v] :
       {std::pair<const char *, int64_t>{"batch", op.batch},
        {"channels", op.channels},
        {"height", op.height},
        {"width", op.width},
        {"kernel[0] (KH)", op.kernel[0]},
        {"kernel[1] (KW)", op.kernel[1]},
        {"strides[0]", op.strides[0]},
        {"strides[1]", op.strides[1]},
        {"dilations[0]", op.dilations[0]},
        {"dilations[1]", op.dilations[1]}})
    if (Status s = positive(field, v); !s)
      return s;
    else if (Status l = checkDimLimit(name, field, v); !l)
      return l;
  for (int i = 0; i < 4; ++i) {
    std::string field = "padding[" + std::to_string(i) + "]";
    if (op.padding[i] < 0)
      return userError(std::string(name) + ": " + field +
                       " must be >= 0, got " + std::to_string(op.padding[i]));
    if (Status l = checkDimLimit(name, field, op.padding[i]); !l)
      return l;
  }
  if (Status s = checkLayout(op.layout, name); !s)
    return s;
  if (Status s = checkEntry(entry); !s)
    return s;
  int64_t oh = convOutputSize(op.height, op.padding[0], op.padding[1],
                              op.kernel[0], op.strides[0], op.dilations[0]);
  int64_t ow = convOutputSize(op.width, op.padding[2], op.padding[3],
                              op.kernel[1], op.strides[1], op.dilations[1]);
  if (oh <= 0 || ow <= 0)
    return userError(std::string(name) + ": the dilated kernel (" +
                     std::to_string(op.dilations[0] * (op.kernel[0] - 1) + 1) +
                     "x" +
                     std::to_string(op.dilations[1] * (op.kernel[1] - 1) + 1) +
                     ") is larger than the padded input (" +
                     std::to_string(op.height + op.padding[0] + op.padding[1]) +
                     "x" +
                     std::to_string(op.width + op.padding[2] + op.padding[3]) +
                     ")");

  std::string x = tensorType(
      activationShape(op.layout, op.batch, op.channels, op.height, op.width));
  std::string w = tensorType({op.channels, op.kernel[0], op.kernel[1]});
  std::string b = tensorType({op.channels});
  std::string y =
      tensorType(activationShape(op.layout, op.batch, op.channels, oh, ow));

  std::ostringstream os;
  os << "func.func @" << entry << "(%x: " << x << ", %w: " << w;
  if (op.bias)
    os << ", %b: " << b;
  os << ") -> " << y << " {\n";
  os << "  %0 = \"kjit.depthwise_conv2d\"(%x, %w" << (op.bias ? ", %b" : "")
     << ") {layout = \"" << op.layout
     << "\", strides = " << i64Array({op.strides[0], op.strides[1]})
     << ", dilations = " << i64Array({op.dilations[0], op.dilations[1]})
     << ", padding = "
     << i64Array({op.padding[0], op.padding[1], op.padding[2], op.padding[3]})
     << "} : (" << x << ", " << w;
  if (op.bias)
    os << ", " << b;
  os << ") -> " << y << "\n";
  os << "  func.return %0 : " << y << "\n}\n";
  return os.str();
}

Result<std::string> kjit::runtime::toMlirText(const InceptionDepthwiseConv2d &op,
                                              const std::string &entry) {
  const char *name = "InceptionDepthwiseConv2d";
  for (auto [field, v] : {std::pair<const char *, int64_t>{"batch", op.batch},
                          {"channels", op.channels},
                          {"height", op.height},
                          {"width", op.width},
                          {"squareKernel", op.squareKernel},
                          {"bandKernel", op.bandKernel}}) {
    if (v <= 0)
      return userError(std::string(name) + ": " + field +
                       " must be positive, got " + std::to_string(v));
    if (Status l = checkDimLimit(name, field, v); !l)
      return l;
  }
  if (op.squareKernel % 2 == 0 || op.bandKernel % 2 == 0)
    return userError(std::string(name) +
                     ": squareKernel and bandKernel must be odd for \"same\" "
                     "padding, got " +
                     std::to_string(op.squareKernel) + " and " +
                     std::to_string(op.bandKernel));
  int64_t total = 0;
  for (int i = 0; i < 3; ++i) {
    if (op.branchChannels[i] < 0)
      return userError(std::string(name) + ": branchChannels[" +
                       std::to_string(i) + "] must be >= 0, got " +
                       std::to_string(op.branchChannels[i]));
    std::string field = "branchChannels[" + std::to_string(i) + "]";
    if (Status l = checkDimLimit(name, field, op.branchChannels[i]); !l)
      return l;
    total += op.branchChannels[i];
  }
  if (total > op.channels)
    return userError(std::string(name) + ": branchChannels sum to " +
                     std::to_string(total) + ", more than the " +
                     std::to_string(op.channels) + " channels");
  if (Status s = checkLayout(op.layout, name); !s)
    return s;
  if (Status s = checkEntry(entry); !s)
    return s;

  std::string x = tensorType(
      activationShape(op.layout, op.batch, op.channels, op.height, op.width));
  int64_t gsq = op.branchChannels[0], gw = op.branchChannels[1],
          gh = op.branchChannels[2];
  std::string wsq = tensorType({gsq, op.squareKernel, op.squareKernel});
  std::string wbw = tensorType({gw, 1, op.bandKernel});
  std::string wbh = tensorType({gh, op.bandKernel, 1});

  std::ostringstream os;
  os << "func.func @" << entry << "(%x: " << x << ", %w_sq: " << wsq
     << ", %w_bw: " << wbw << ", %w_bh: " << wbh << ") -> " << x << " {\n";
  os << "  %0 = \"kjit.inception_depthwise_conv2d\"(%x, %w_sq, %w_bw, %w_bh) "
        "{layout = \""
     << op.layout << "\", branch_channels = " << i64Array({gsq, gw, gh})
     << "} : (" << x << ", " << wsq << ", " << wbw << ", " << wbh << ") -> "
     << x << "\n";
  os << "  func.return %0 : " << x << "\n}\n";
  return os.str();
}
