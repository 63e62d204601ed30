//===- SourceLimits.cpp - refuse MLIR text the parser cannot take --------===//
#include "compiler/SourceLimits.h"

#include "llvm/ADT/Twine.h"

namespace kjit::compiler {

llvm::Error checkSourceNesting(llvm::StringRef text,
                               llvm::StringRef bufferName) {
  unsigned depth = 0, deepest = 0, line = 1, firstLine = 0;
  for (size_t i = 0, n = text.size(); i < n; ++i) {
    char c = text[i];
    char next = i + 1 < n ? text[i + 1] : '\0';
    switch (c) {
    case '\n':
      ++line;
      break;
    case '"':
      // A string literal ends at its closing quote (escapes skipped) or,
      // unterminated, at the end of the line, where the lexer stops too.
      for (++i; i < n && text[i] != '"' && text[i] != '\n'; ++i)
        if (text[i] == '\\')
          ++i;
      if (i < n && text[i] == '\n')
        ++line;
      break;
    case '/':
      if (next == '/')
        while (i + 1 < n && text[i + 1] != '\n')
          ++i;
      break;
    case '-':
      if (next == '>') // `->` in function and affine map types
        ++i;
      break;
    case '{':
    case '[':
    case '(':
    case '<':
      if (++depth > deepest) {
        deepest = depth;
        if (depth > kMaxSourceNesting && !firstLine)
          firstLine = line;
      }
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
  }
  if (deepest <= kMaxSourceNesting)
    return llvm::Error::success();
  return llvm::createStringError(
      llvm::inconvertibleErrorCode(),
      llvm::Twine(bufferName) + ":" + llvm::Twine(firstLine) +
          ": brackets ({ [ ( <) nest " + llvm::Twine(deepest) +
          " deep, deeper than kjit's limit of " +
          llvm::Twine(kMaxSourceNesting) + " (level " +
          llvm::Twine(kMaxSourceNesting + 1) + " opens on line " +
          llvm::Twine(firstLine) + ")");
}

} // namespace kjit::compiler
