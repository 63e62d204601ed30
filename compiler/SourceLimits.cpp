//===- SourceLimits.cpp - refuse MLIR text the parser cannot take --------===//
#include "compiler/SourceLimits.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/Twine.h"

namespace kjit::compiler {

namespace {
/// The nesting of one text, in one pass. Besides brackets, two constructs
/// nest without them and are counted as levels too: a run of unary minus
/// signs (the affine expression parser recurses per sign) and a reference
/// to an attribute or type alias, which stands for the nesting of its
/// definition (a chain of aliases each wrapping the previous one builds an
/// arbitrarily deep attribute from shallow text).
class NestingScan {
public:
  explicit NestingScan(llvm::StringRef text) : text(text) {}

  void run() {
    for (size_t n = text.size(); i < n; ++i) {
      char c = text[i];
      char next = i + 1 < n ? text[i + 1] : '\0';
      if (c != '-' && !llvm::isSpace(c))
        minusRun = 0;
      switch (c) {
      case '\n':
        ++line;
        if (depth == 0)
          endAlias();
        lineStart = true;
        continue;
      case '"':
        skipString();
        break;
      case '/':
        if (next == '/')
          while (i + 1 < n && text[i + 1] != '\n')
            ++i;
        break;
      case '-':
        if (next == '>') { // `->` in function and affine map types
          ++i;
          minusRun = 0;
        } else if (++minusRun > 1) { // `-1` alone nests nothing
          reach(depth + minusRun - 1);
        }
        break;
      case '#':
      case '!':
        alias();
        break;
      case '{':
      case '[':
      case '(':
      case '<':
        reach(++depth);
        break;
      case '>':
        if (next == '=') { // `>=` in integer set constraints
          ++i;
          break;
        }
        [[fallthrough]];
      case '}':
      case ']':
      case ')':
        // An unmatched closer is the parser's to report.
        if (depth > 0)
          --depth;
        break;
      default:
        break;
      }
      if (!llvm::isSpace(c))
        lineStart = false;
    }
    endAlias();
  }

  unsigned deepest = 0;   ///< deepest nesting reached
  unsigned firstLine = 0; ///< line where it first went past the limit

private:
  /// The text reaches nesting `d` here.
  void reach(unsigned d) {
    if (d > deepest)
      deepest = d;
    if (d > kMaxSourceNesting && !firstLine)
      firstLine = line;
    if (!defining.empty() && d > definedDepth)
      definedDepth = d;
  }

  /// A string literal ends at its closing quote (escapes skipped) or,
  /// unterminated, at the end of the line, where the lexer stops too.
  void skipString() {
    size_t n = text.size();
    for (++i; i < n && text[i] != '"' && text[i] != '\n'; ++i)
      if (text[i] == '\\')
        ++i;
    if (i < n && text[i] == '\n')
      ++line;
  }

  /// At `#` or `!`: the definition of an alias (`#name =` starting a line at
  /// depth 0) or a use of one.
  void alias() {
    size_t start = i + 1, end = start;
    while (end < text.size() &&
           (llvm::isAlnum(text[end]) || llvm::is_contained("_$.", text[end])))
      ++end;
    llvm::StringRef name = text.slice(i, end); // with its sigil
    if (name.size() == 1)
      return;
    size_t after = end;
    while (after < text.size() && (text[after] == ' ' || text[after] == '\t'))
      ++after;
    bool definition =
        depth == 0 && lineStart && after < text.size() && text[after] == '=';
    i = end - 1;
    if (definition) {
      endAlias();
      defining = name;
      definedDepth = 0;
      return;
    }
    auto it = aliasDepth.find(name);
    if (it != aliasDepth.end())
      reach(depth + it->second);
  }

  void endAlias() {
    if (!defining.empty())
      aliasDepth[defining] = definedDepth;
    defining = llvm::StringRef();
  }

  llvm::StringRef text;
  size_t i = 0;
  unsigned depth = 0, line = 1, minusRun = 0;
  bool lineStart = true;
  llvm::StringMap<unsigned> aliasDepth; ///< nesting each alias stands for
  llvm::StringRef defining;             ///< the alias being defined
  unsigned definedDepth = 0;            ///< its deepest nesting so far
};
} // namespace

llvm::Error checkSourceNesting(llvm::StringRef text,
                               llvm::StringRef bufferName) {
  NestingScan scan(text);
  scan.run();
  if (scan.deepest <= kMaxSourceNesting)
    return llvm::Error::success();
  return llvm::createStringError(
      llvm::inconvertibleErrorCode(),
      llvm::Twine(bufferName) + ":" + llvm::Twine(scan.firstLine) +
          ": the text nests " + llvm::Twine(scan.deepest) +
          " levels deep (brackets { [ ( <, alias uses, runs of '-'), deeper "
          "than kjit's limit of " +
          llvm::Twine(kMaxSourceNesting) + " (level " +
          llvm::Twine(kMaxSourceNesting + 1) + " is on line " +
          llvm::Twine(scan.firstLine) + ")");
}

} // namespace kjit::compiler
