//===- ReplayMain.cpp - run a fuzz target on corpus files -----------------===//
//
// The main() of the fuzz targets in the normal build (no libFuzzer): calls
// LLVMFuzzerInitialize once, then LLVMFuzzerTestOneInput on every file
// named on the command line, directories read recursively in sorted order.
// A crash or a broken property aborts the process, which fails the ctest
// entry (fuzz-replay-<target>); the file being run is printed first.
//
//===----------------------------------------------------------------------===//
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int *argc,
                                                          char ***argv);

namespace fs = std::filesystem;

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
    return 2;
  }
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    std::error_code ec;
    fs::path p(argv[i]);
    if (fs::is_directory(p, ec)) {
      for (fs::recursive_directory_iterator it(p, ec), end; !ec && it != end;
           it.increment(ec))
        if (it->is_regular_file(ec))
          files.push_back(it->path());
    } else if (fs::is_regular_file(p, ec)) {
      files.push_back(p);
    }
    if (ec) {
      fprintf(stderr, "%s: %s\n", argv[i], ec.message().c_str());
      return 2;
    }
  }
  if (files.empty()) {
    fprintf(stderr, "no corpus files found\n");
    return 2;
  }
  std::sort(files.begin(), files.end());
  if (LLVMFuzzerInitialize)
    LLVMFuzzerInitialize(&argc, &argv);
  for (const fs::path &f : files) {
    std::ifstream in(f, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)),
                      std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      fprintf(stderr, "%s: cannot read\n", f.c_str());
      return 2;
    }
    fprintf(stderr, "replay: %s\n", f.c_str());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(bytes.data()),
                           bytes.size());
  }
  printf("replayed %zu inputs\n", files.size());
  return 0;
}
