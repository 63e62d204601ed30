//===- FuzzNpy.cpp - libFuzzer target: kjit::npy::parse -------------------===//
//
// The bytes are a .npy file. parse must return an array or an error, never
// crash; an array it returns must hold exactly the elements its shape
// promises and come back unchanged through serialize + parse (what kjit-run
// reads is what it would write).
//
//===----------------------------------------------------------------------===//
#include "kjit/npy.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

using namespace kjit;

/// A broken property: print it and abort, which libFuzzer reports as a
/// crash and the replay test as a failure.
[[noreturn]] static void violated(const std::string &what) {
  fprintf(stderr, "fuzz-npy: %s\n", what.c_str());
  abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string bytes(reinterpret_cast<const char *>(data), size);
  Result<npy::Array> a = npy::parse(bytes, "fuzz.npy");
  if (!a) {
    if (a.errorMessage().empty())
      violated("an error without a message");
    return 0;
  }
  // The array owns exactly the elements its shape promises: reading them
  // all back (serialize) must stay inside what parse() allocated.
  std::string first = npy::serialize(a->view());
  Result<npy::Array> again = npy::parse(first, "again");
  if (!again)
    violated("its own serialization does not parse: " + again.errorMessage());
  if (again->dtype != a->dtype || again->shape != a->shape ||
      again->numElements() != a->numElements() ||
      memcmp(again->data(), a->data(), size_t(a->numElements()) * 4) != 0)
    violated("serialize + parse changed the array");
  return 0;
}
