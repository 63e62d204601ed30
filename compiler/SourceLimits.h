//===- SourceLimits.h - refuse MLIR text the parser cannot take -*- C++ -*-===//
//
// MLIR's parser recurses at least once per nesting level (regions, attribute
// arrays and dictionaries, types, unary minus in affine expressions), and
// the printer and verifiers once per level of a nested attribute, which
// alias definitions can build from shallow text: a small file nesting
// thousands of levels overflows the stack. Every parse of text kjit did not
// print itself is preceded by checkSourceNesting.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_COMPILER_SOURCELIMITS_H
#define KJIT_COMPILER_SOURCELIMITS_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

namespace kjit::compiler {

/// Deepest nesting kjit parses: far above any real kernel module (a few
/// tens), far below what overflows an 8 MiB stack (the main thread's and
/// std::thread's on Linux; 5000 nested regions did). Parsing, verifying and
/// printing take about 2 KiB of stack per nested region (kjit-opt: 255
/// levels pass with 1 MiB of stack, crash with 512 KiB), so a host program
/// that compiles on threads with small stacks must give them 1 MiB or more.
inline constexpr unsigned kMaxSourceNesting = 256;

/// Fails, naming the deepest nesting, the limit and the line where the text
/// first goes past it, when `text` nests deeper than kMaxSourceNesting:
/// brackets ({ [ ( <), each a level; a use of an attribute or type alias,
/// as many levels as its definition nests; a run of k unary minus signs,
/// k - 1 levels. One linear scan without recursion; string literals and //
/// comments are skipped, `->` and `>=` are not brackets. `bufferName`
/// starts the message ("input.mlir:LINE: ...").
llvm::Error checkSourceNesting(llvm::StringRef text,
                               llvm::StringRef bufferName = "input.mlir");

} // namespace kjit::compiler

#endif
