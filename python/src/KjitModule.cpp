//===- KjitModule.cpp - kjit's Python extension (kjit._kjit) --------------===//
//
// A thin layer over the public host API (kjit/kjit.h): a Jit that compiles
// MLIR text, and Kernels that run on raw tensor descriptions
// (data pointer, dtype, shape, strides in elements). The torch front end
// (python/kjit/torch) builds those from torch tensors, so no data is
// copied on the way in; kernels write straight into the torch outputs.
// The GIL is released while a kernel compiles, runs or is timed.
//
// Errors: a kjit::Status error becomes a Python exception: ValueError when
// a run fails (Kernel::run checks every argument, and a kernel reports bad
// data such as a malformed CSR), RuntimeError when a compile fails (kjit.torch
// checks shapes and attributes before it builds a module, so what is left
// there is kjit's own failure). TypeError for an unsupported dtype.
//
//===----------------------------------------------------------------------===//
#include "kjit/kjit.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>

namespace py = pybind11;

namespace {

/// kjit::Status carries only a message, so the exception type follows the
/// layer that failed (see the file comment).
[[noreturn]] void raise(const kjit::Status &s, bool userInput) {
  if (userInput)
    throw py::value_error(s.message());
  throw std::runtime_error(s.message());
}

kjit::DType parseDType(const std::string &name) {
  if (name == "f32" || name == "float32")
    return kjit::DType::f32;
  if (name == "i32" || name == "int32")
    return kjit::DType::i32;
  throw py::type_error("kjit: unsupported dtype '" + name +
                       "' (kjit kernels take float32 and int32)");
}

/// (data_ptr: int, dtype: str, shape: sequence, strides: sequence or None)
kjit::TensorView toView(const py::handle &h) {
  py::tuple t = py::reinterpret_borrow<py::tuple>(h);
  if (t.size() != 4)
    throw py::type_error("kjit: a tensor argument is a tuple (data_ptr, "
                         "dtype, shape, strides)");
  kjit::TensorView v;
  v.data = reinterpret_cast<void *>(t[0].cast<uintptr_t>());
  v.dtype = parseDType(t[1].cast<std::string>());
  v.shape = t[2].cast<std::vector<int64_t>>();
  if (!t[3].is_none())
    v.strides = t[3].cast<std::vector<int64_t>>();
  return v;
}

std::vector<kjit::TensorView> toViews(const py::sequence &seq) {
  std::vector<kjit::TensorView> views;
  views.reserve(seq.size());
  for (const py::handle &h : seq)
    views.push_back(toView(h));
  return views;
}

/// A kjit-owned tensor as a numpy array that keeps it alive (no copy).
py::array toArray(kjit::Tensor &&t) {
  auto *owned = new kjit::Tensor(std::move(t));
  py::capsule keep(owned, [](void *p) { delete static_cast<kjit::Tensor *>(p); });
  std::vector<py::ssize_t> shape(owned->shape().begin(), owned->shape().end());
  if (owned->dtype() == kjit::DType::i32)
    return py::array_t<int32_t>(shape, owned->data<int32_t>(), keep);
  return py::array_t<float>(shape, owned->data<float>(), keep);
}

py::list argInfos(const std::vector<kjit::ArgInfo> &infos) {
  py::list out;
  for (const kjit::ArgInfo &a : infos)
    out.append(py::make_tuple(std::string(kjit::dtypeName(a.dtype)),
                              py::tuple(py::cast(a.shape))));
  return out;
}

kjit::Target parseTarget(const std::string &name) {
  if (name.empty() || name == "host" || name == "cpu")
    return kjit::Target::host();
  if (name.rfind("cpu:", 0) == 0)
    return kjit::Target::cpu(name.substr(4));
  if (name.rfind("cuda", 0) == 0) {
    int ordinal = 0;
    if (name.size() > 5 && name[4] == ':')
      ordinal = std::stoi(name.substr(5));
    return kjit::Target::cuda(ordinal);
  }
  throw py::value_error("kjit: unknown target '" + name +
                        "' (host, cpu:<name>, cuda[:N])");
}

} // namespace

PYBIND11_MODULE(_kjit, m) {
  m.doc() = "kjit's host API: JIT-compile kjit MLIR and run it on raw "
            "tensor descriptions (see kjit.torch for torch tensors)";

  py::class_<kjit::Kernel>(m, "Kernel")
      .def(
          "run",
          [](const kjit::Kernel &k, const py::sequence &ins,
             const py::sequence &outs) {
            std::vector<kjit::TensorView> in = toViews(ins), out = toViews(outs);
            kjit::Status s;
            {
              py::gil_scoped_release nogil;
              s = k.run(in, out);
            }
            if (!s)
              raise(s, /*userInput=*/true);
          },
          py::arg("inputs"), py::arg("outputs"),
          "Runs the kernel on (data_ptr, dtype, shape, strides) tuples; "
          "outputs are written in place.")
      .def(
          "run_allocating",
          [](const kjit::Kernel &k, const py::sequence &ins) {
            std::vector<kjit::TensorView> in = toViews(ins);
            kjit::Result<std::vector<kjit::Tensor>> r =
                kjit::Status::error("not run");
            {
              py::gil_scoped_release nogil;
              r = k.runAllocating(in);
            }
            if (!r)
              raise(r.status(), /*userInput=*/true);
            py::list out;
            for (kjit::Tensor &t : *r)
              out.append(toArray(std::move(t)));
            return out;
          },
          py::arg("inputs"),
          "Runs the kernel and returns its outputs as numpy arrays it "
          "allocated (dynamic outputs sized by the kernel).")
      .def(
          "time",
          [](const kjit::Kernel &k, const py::sequence &ins,
             const py::sequence &outs, int warmup, int repeat) {
            std::vector<kjit::TensorView> in = toViews(ins), out = toViews(outs);
            kjit::TimingOptions o;
            o.warmup = warmup;
            o.repeat = repeat;
            kjit::Result<std::vector<double>> r = kjit::Status::error("not run");
            {
              py::gil_scoped_release nogil;
              r = k.time(in, out, o);
            }
            if (!r)
              raise(r.status(), /*userInput=*/true);
            return *r;
          },
          py::arg("inputs"), py::arg("outputs"), py::arg("warmup") = 1,
          py::arg("repeat") = 10, "Milliseconds of each timed run.")
      .def_property_readonly("inputs",
                             [](const kjit::Kernel &k) { return argInfos(k.inputs()); })
      .def_property_readonly("outputs",
                             [](const kjit::Kernel &k) { return argInfos(k.outputs()); })
      .def_property_readonly("configs", &kjit::Kernel::configs)
      .def_property_readonly("config_sources", &kjit::Kernel::configSources)
      .def_property_readonly("origin", &kjit::Kernel::origin)
      .def_property_readonly("source", &kjit::Kernel::source)
      .def_property_readonly("tuning", &kjit::Kernel::tuning)
      .def(
          "wait_for_tuning",
          [](const kjit::Kernel &k, double timeout) {
            py::gil_scoped_release nogil;
            return k.waitForTuning(timeout);
          },
          py::arg("timeout_seconds") = -1.0);

  py::class_<kjit::Jit>(m, "Jit")
      .def(py::init([](const std::string &target, const std::string &cacheDir,
                       const std::string &tuningDb) {
             kjit::JitOptions o;
             o.cacheDir = cacheDir;
             o.tuningDb = tuningDb;
             kjit::Target t = parseTarget(target);
             if (kjit::Status s = t.check(); !s)
               raise(s, /*userInput=*/true);
             return std::make_unique<kjit::Jit>(t, o);
           }),
           py::arg("target") = "host", py::arg("cache_dir") = "",
           py::arg("tuning_db") = "")
      .def(
          "compile_module",
          [](kjit::Jit &jit, const std::string &text, const std::string &config,
             int threads, double tuneSeconds, const std::string &entry) {
            kjit::CompileOptions o;
            o.config = config;
            o.threads = threads;
            o.onlineTuneBudgetSeconds = tuneSeconds;
            o.entry = entry;
            kjit::Result<kjit::Kernel> r = kjit::Status::error("not compiled");
            {
              py::gil_scoped_release nogil;
              r = jit.compileModule(text, o);
            }
            if (!r)
              raise(r.status(), /*userInput=*/false);
            return *r;
          },
          py::arg("mlir"), py::arg("config") = "", py::arg("threads") = 0,
          py::arg("tune_seconds") = -1.0, py::arg("entry") = "main",
          "Compiles a module of kjit ops (kernel cache, tuning database and "
          "KJIT_TUNE as for the C++ API).")
      .def_property_readonly("cache_dir", &kjit::Jit::cacheDir)
      .def_property_readonly("tuning_db_path", &kjit::Jit::tuningDbPath)
      .def_property_readonly("online_tune_budget_seconds",
                             &kjit::Jit::onlineTuneBudgetSeconds)
      .def_property_readonly("target_key",
                             [](const kjit::Jit &j) { return j.target().key(); });

  m.def("version", &kjit::version);
  m.def("tuning_epoch", &kjit::tuningEpoch);
}
