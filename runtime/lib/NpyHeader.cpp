//===- NpyHeader.cpp - the dict literal of a .npy header ------------------===//
//
// A recursive-descent parser for the subset of Python literals a header
// can hold. numpy reads the header with ast.literal_eval and then insists
// on exactly three keys; everything here that numpy would reject is an
// error too, and a few things numpy tolerates but never writes (duplicate
// keys, non-decimal integers) are refused rather than guessed at.
//
//===----------------------------------------------------------------------===//
#include "NpyHeader.h"

#include <cstring>
#include <optional>

using namespace kjit;
using namespace kjit::npy;

namespace {
/// A parsed Python literal.
struct Value {
  enum class Kind { String, Int, Bool, None, Tuple, List, Dict };
  Kind kind = Kind::None;
  std::string text; ///< String
  int64_t integer = 0;
  bool boolean = false;
  std::vector<Value> items; ///< Tuple, List; Dict: key, value, key, ...
};

/// Bounds the recursion of nested tuples/lists: a header of 64 KiB of '('
/// must not exhaust the stack.
constexpr int kMaxNesting = 32;

class LiteralParser {
public:
  explicit LiteralParser(const std::string &text) : text(text) {}

  /// The whole header: one dict, then only whitespace and comments.
  Result<Value> parseHeaderDict() {
    if (text.find('\0') != std::string::npos)
      return error("it contains a NUL byte");
    // Python refuses an indented expression that starts on a new line, so
    // only spaces and tabs may come before the dict (as numpy accepts).
    while (pos < text.size() && strchr(" \t\f", text[pos]))
      ++pos;
    if (pos >= text.size() || text[pos] != '{')
      return error("it is not a dict literal");
    Value dict;
    if (!parseValue(dict, 0))
      return error(why);
    skipSpace();
    if (pos != text.size())
      return error("unexpected " + describeHere() + " after the dict");
    return dict;
  }

private:
  Status error(const std::string &what) const {
    return Status::error("malformed .npy header: " + what);
  }
  bool fail(const std::string &what) {
    why = what + " at offset " + std::to_string(pos);
    return false;
  }
  std::string describeHere() const {
    if (pos >= text.size())
      return "end of header";
    unsigned char c = text[pos];
    if (c >= 0x20 && c < 0x7f)
      return std::string("'") + char(c) + "'";
    return "byte " + std::to_string(c);
  }

  /// Whitespace (newlines included: the dict's brackets join lines),
  /// backslash line continuations and comments.
  void skipSpace() {
    while (pos < text.size()) {
      char c = text[pos];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
        ++pos;
      } else if (c == '\\' && pos + 1 < text.size() &&
                 (text[pos + 1] == '\n' || text[pos + 1] == '\r')) {
        pos += 2;
      } else if (c == '#') {
        while (pos < text.size() && text[pos] != '\n' && text[pos] != '\r')
          ++pos;
      } else {
        break;
      }
    }
  }

  bool parseValue(Value &out, int depth) {
    skipSpace();
    if (pos >= text.size())
      return fail("unexpected end of header");
    char c = text[pos];
    if (c == '{' || c == '(' || c == '[') {
      if (depth >= kMaxNesting)
        return fail("nesting deeper than " + std::to_string(kMaxNesting));
      return parseBracketed(out, depth + 1);
    }
    if (c == '\'' || c == '"' ||
        ((c == 'u' || c == 'U') && pos + 1 < text.size() &&
         (text[pos + 1] == '\'' || text[pos + 1] == '"')))
      return parseStrings(out);
    if (c == '+' || c == '-' || isDigit(c))
      return parseInteger(out);
    if (isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t start = pos;
      while (
          pos < text.size() &&
          (isalnum(static_cast<unsigned char>(text[pos])) || text[pos] == '_'))
        ++pos;
      std::string word = text.substr(start, pos - start);
      if (word == "True" || word == "False") {
        out.kind = Value::Kind::Bool;
        out.boolean = word == "True";
        return true;
      }
      if (word == "None") {
        out.kind = Value::Kind::None;
        return true;
      }
      pos = start;
      return fail("name '" + word + "' is not a literal");
    }
    return fail("unexpected " + describeHere());
  }

  /// A dict, tuple or list; a parenthesized single value without a comma
  /// is that value (as in Python: (2) is 2, (2,) a tuple).
  bool parseBracketed(Value &out, int depth) {
    char open = text[pos++];
    char close = open == '{' ? '}' : open == '(' ? ')' : ']';
    out.kind = open == '{'   ? Value::Kind::Dict
               : open == '(' ? Value::Kind::Tuple
                             : Value::Kind::List;
    bool sawComma = false;
    for (;;) {
      skipSpace();
      if (pos < text.size() && text[pos] == close) {
        ++pos;
        break;
      }
      Value item;
      if (!parseValue(item, depth))
        return false;
      if (out.kind == Value::Kind::Dict) {
        skipSpace();
        if (pos >= text.size() || text[pos] != ':')
          return fail("expected ':' after a dict key, found " + describeHere());
        ++pos;
        Value value;
        if (!parseValue(value, depth)) {
          if (item.kind == Value::Kind::String)
            why = "in the value of '" + item.text + "': " + why;
          return false;
        }
        out.items.push_back(std::move(item));
        out.items.push_back(std::move(value));
      } else {
        out.items.push_back(std::move(item));
      }
      skipSpace();
      if (pos < text.size() && text[pos] == ',') {
        ++pos;
        sawComma = true;
        continue;
      }
      if (pos < text.size() && text[pos] == close) {
        ++pos;
        break;
      }
      return fail(std::string("expected ',' or '") + close + "', found " +
                  describeHere());
    }
    if (out.kind == Value::Kind::Tuple && !sawComma && out.items.size() == 1) {
      Value inner = std::move(out.items[0]);
      out = std::move(inner);
    }
    return true;
  }

  static bool isDigit(char c) { return c >= '0' && c <= '9'; }

  /// Decimal integers, optionally signed, with Python's digit separators
  /// and Python 2's 'L' suffix (old numpy files have shapes like (3L,)).
  bool parseInteger(Value &out) {
    bool negative = false;
    if (text[pos] == '+' || text[pos] == '-') {
      negative = text[pos] == '-';
      ++pos;
      skipSpace();
    }
    if (pos >= text.size() || !isDigit(text[pos]))
      return fail("expected a digit, found " + describeHere());
    uint64_t magnitude = 0;
    bool overflow = false;
    std::string digits;
    while (pos < text.size() &&
           (isDigit(text[pos]) ||
            (text[pos] == '_' && pos + 1 < text.size() &&
             isDigit(text[pos + 1]) && isDigit(text[pos - 1])))) {
      if (text[pos] != '_') {
        digits += text[pos];
        overflow |= __builtin_mul_overflow(magnitude, 10u, &magnitude);
        overflow |= __builtin_add_overflow(magnitude, uint64_t(text[pos] - '0'),
                                           &magnitude);
      }
      ++pos;
    }
    // Python reads 00 as zero but refuses 01.
    if (digits[0] == '0' && digits.find_first_not_of('0') != std::string::npos)
      return fail("an integer with a leading zero");
    if (pos < text.size() && (text[pos] == 'L' || text[pos] == 'l'))
      ++pos;
    if (pos < text.size() &&
        (isalnum(static_cast<unsigned char>(text[pos])) || text[pos] == '.'))
      return fail("only decimal integers are supported, found " +
                  describeHere());
    if (overflow || magnitude > uint64_t(INT64_MAX))
      return fail("an integer too large");
    out.kind = Value::Kind::Int;
    out.integer = negative ? -int64_t(magnitude) : int64_t(magnitude);
    return true;
  }

  /// One or more adjacent string literals (Python concatenates them).
  bool parseStrings(Value &out) {
    out.kind = Value::Kind::String;
    out.text.clear();
    do {
      if (!parseString(out.text))
        return false;
      skipSpace();
    } while (
        pos < text.size() &&
        (text[pos] == '\'' || text[pos] == '"' ||
         ((text[pos] == 'u' || text[pos] == 'U') && pos + 1 < text.size() &&
          (text[pos + 1] == '\'' || text[pos + 1] == '"'))));
    return true;
  }

  static void appendUtf8(std::string &s, uint32_t cp) {
    if (cp < 0x80) {
      s += char(cp);
    } else if (cp < 0x800) {
      s += char(0xc0 | (cp >> 6));
      s += char(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      s += char(0xe0 | (cp >> 12));
      s += char(0x80 | ((cp >> 6) & 0x3f));
      s += char(0x80 | (cp & 0x3f));
    } else {
      s += char(0xf0 | (cp >> 18));
      s += char(0x80 | ((cp >> 12) & 0x3f));
      s += char(0x80 | ((cp >> 6) & 0x3f));
      s += char(0x80 | (cp & 0x3f));
    }
  }

  bool hexDigits(size_t count, uint32_t &value) {
    value = 0;
    for (size_t i = 0; i < count; ++i, ++pos) {
      if (pos >= text.size() ||
          !isxdigit(static_cast<unsigned char>(text[pos])))
        return fail("a truncated \\x, \\u or \\U escape");
      char c = text[pos];
      value =
          value * 16 + uint32_t(isDigit(c) ? c - '0' : (tolower(c) - 'a' + 10));
    }
    return true;
  }

  /// A single- or double-quoted string with Python's escapes; Python keeps
  /// an unknown escape such as \q as it is.
  bool parseString(std::string &out) {
    if (text[pos] == 'u' || text[pos] == 'U')
      ++pos;
    char quote = text[pos];
    if (text.compare(pos, 3, std::string(3, quote)) == 0)
      return fail("triple-quoted strings are not supported");
    ++pos;
    for (;;) {
      if (pos >= text.size() || text[pos] == '\n' || text[pos] == '\r')
        return fail("an unterminated string");
      char c = text[pos++];
      if (c == quote)
        return true;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos >= text.size())
        return fail("an unterminated string");
      char e = text[pos++];
      uint32_t cp;
      switch (e) {
      case '\n':
        break; // a continued line
      case '\\':
      case '\'':
      case '"':
        out += e;
        break;
      case 'a':
        out += '\a';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'v':
        out += '\v';
        break;
      case 'x':
        if (!hexDigits(2, cp))
          return false;
        appendUtf8(out, cp);
        break;
      case 'u':
        if (!hexDigits(4, cp))
          return false;
        appendUtf8(out, cp);
        break;
      case 'U':
        if (!hexDigits(8, cp))
          return false;
        if (cp > 0x10ffff)
          return fail("an escape beyond Unicode");
        appendUtf8(out, cp);
        break;
      default:
        if (e >= '0' && e <= '7') {
          cp = uint32_t(e - '0');
          for (int i = 0; i < 2 && pos < text.size() && text[pos] >= '0' &&
                          text[pos] <= '7';
               ++i)
            cp = cp * 8 + uint32_t(text[pos++] - '0');
          appendUtf8(out, cp);
        } else {
          out += '\\';
          out += e;
        }
      }
    }
  }

  const std::string &text;
  size_t pos = 0;
  std::string why;
};

std::string quoted(const std::string &s) {
  std::string q = "'";
  for (char c : s)
    if (c >= 0x20 && c < 0x7f)
      q += c;
    else
      q += "\\x" + std::string(1, "0123456789abcdef"[(c >> 4) & 15]) +
           "0123456789abcdef"[c & 15];
  return q + "'";
}
} // namespace

Result<Header> kjit::npy::parseHeader(const std::string &text) {
  LiteralParser parser(text);
  Result<Value> dict = parser.parseHeaderDict();
  if (!dict)
    return dict.status();
  auto malformed = [](const std::string &what) {
    return Status::error("malformed .npy header: " + what);
  };
  if (dict->kind != Value::Kind::Dict)
    return malformed("it is not a dict literal");
  const Value *descr = nullptr, *fortran = nullptr, *shape = nullptr;
  for (size_t i = 0; i < dict->items.size(); i += 2) {
    const Value &key = dict->items[i];
    if (key.kind != Value::Kind::String)
      return malformed("a key that is not a string");
    const Value **slot = key.text == "descr"           ? &descr
                         : key.text == "fortran_order" ? &fortran
                         : key.text == "shape"         ? &shape
                                                       : nullptr;
    if (!slot)
      return malformed("unexpected key " + quoted(key.text) +
                       " (a .npy header has exactly 'descr', "
                       "'fortran_order' and 'shape')");
    if (*slot)
      return malformed("duplicate key " + quoted(key.text));
    *slot = &dict->items[i + 1];
  }
  for (auto [value, name] :
       {std::pair(descr, "descr"), std::pair(fortran, "fortran_order"),
        std::pair(shape, "shape")})
    if (!value)
      return malformed(std::string("no '") + name + "'");

  if (fortran->kind != Value::Kind::Bool)
    return malformed("'fortran_order' is not True or False");
  if (fortran->boolean)
    return Status::error("Fortran-order arrays are not supported; save a "
                         "C-order array (numpy.ascontiguousarray)");
  if (shape->kind != Value::Kind::Tuple)
    return malformed("'shape' is not a tuple");
  Header header;
  for (const Value &d : shape->items) {
    if (d.kind != Value::Kind::Int)
      return malformed("'shape' holds something other than an integer");
    if (d.integer < 0)
      return malformed("'shape' has a negative dimension " +
                       std::to_string(d.integer));
    header.shape.push_back(d.integer);
  }
  if (descr->kind != Value::Kind::String)
    return Status::error("structured dtypes are not supported (only float32 "
                         "'<f4' and int32 '<i4')");
  if (descr->text == "<f4" || descr->text == "=f4")
    header.dtype = DType::f32;
  else if (descr->text == "<i4" || descr->text == "=i4")
    header.dtype = DType::i32;
  else
    return Status::error("dtype " + quoted(descr->text) +
                         " is not supported (only float32 '<f4' and int32 "
                         "'<i4')");
  if (header.shape.size() > 8)
    return Status::error("rank " + std::to_string(header.shape.size()) +
                         " is above the supported 8");
  return header;
}
