//===- MeasureWorker.cpp - on-line tuning's measuring worker ------------===//
#include "MeasureWorker.h"
#include "RuntimeInternal.h"

#include <climits>
#include <cstdlib>
#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace kjit;
using namespace kjit::runtime;

namespace {
bool isExecutableFile(const std::string &path) {
  struct stat st;
  return !path.empty() && stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         access(path.c_str(), X_OK) == 0;
}

/// The file libkjit was loaded from (dladdr of one of its functions).
std::string libraryPath() {
  Dl_info info;
  if (!dladdr(reinterpret_cast<void *>(&findMeasureWorker), &info) ||
      !info.dli_fname)
    return "";
  char resolved[PATH_MAX];
  return realpath(info.dli_fname, resolved) ? resolved : info.dli_fname;
}

/// kjit-tune as installed beside the library file `lib`: in the bin
/// directory that matches its lib directory ("" when unknown).
std::string installedWorkerBeside(const std::string &lib) {
  size_t slash = lib.rfind('/');
  if (slash == std::string::npos)
    return "";
  // KJIT_LIBDIR_TO_BINDIR: the install's lib -> bin path ("../bin", or
  // "../../bin" for a multiarch lib/<triple>).
  return lib.substr(0, slash) + "/" KJIT_LIBDIR_TO_BINDIR "/kjit-tune";
}
} // namespace

Result<std::string>
kjit::runtime::findMeasureWorker(const std::string &option) {
  const std::string optIn =
      "; or opt into measuring in this process (KJIT_TUNE=budget:<seconds>,"
      "in-process or JitOptions::onlineTuneInProcess)";
  auto named = [&](const std::string &path,
                   const std::string &by) -> Result<std::string> {
    if (isExecutableFile(path))
      return path;
    return userError(by + " names '" + path +
                     "', which is not an executable file (it must be "
                     "kjit-tune, run as `kjit-tune --measure-worker`)" +
                     optIn);
  };
  if (!option.empty())
    return named(option, "JitOptions::measureWorker");
  if (const char *env = getenv("KJIT_MEASURE_WORKER"); env && *env)
    return named(env, "KJIT_MEASURE_WORKER");
  std::string tried;
  if (std::string lib = libraryPath(); !lib.empty()) {
    std::string beside = installedWorkerBeside(lib);
    if (isExecutableFile(beside))
      return beside;
    tried = beside;
  }
#ifdef KJIT_BUILD_TREE_WORKER
  // Only where the library is used from its build tree.
  if (isExecutableFile(KJIT_BUILD_TREE_WORKER))
    return std::string(KJIT_BUILD_TREE_WORKER);
  tried += std::string(tried.empty() ? "" : ", ") + KJIT_BUILD_TREE_WORKER;
#endif
  return userError("no measuring worker (kjit-tune) found" +
                   (tried.empty() ? "" : " (tried " + tried + ")") +
                   "; set KJIT_MEASURE_WORKER or JitOptions::measureWorker "
                   "to kjit-tune" +
                   optIn);
}
