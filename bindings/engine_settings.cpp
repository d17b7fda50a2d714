#include "engine_settings.hpp"

#include <string>

#include <pybind11/stl.h>

namespace py = pybind11;

namespace trickle::python {
namespace {

// torch's spelling: "cpu", "cuda", "cuda:N".
tensor::Device parse_device(const std::string& text) {
  if (text == "cpu") return tensor::Device::cpu();
  if (text == "cuda") return tensor::Device::cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    try {
      std::size_t used = 0;
      const int index = std::stoi(text.substr(5), &used);
      if (used == text.size() - 5 && index >= 0) return tensor::Device::cuda(index);
    } catch (const std::exception&) {
      // falls through to the error below
    }
  }
  throw py::value_error("device must be 'cpu', 'cuda' or 'cuda:N', not '" + text + "'");
}

std::string device_name(tensor::Device device) {
  return device.is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(device.index);
}

using Settings = py::class_<EngineSettings>;

// A setting that is one StreamPipelineOptions member under the same meaning.
template <typename T>
void member(Settings& cls, const char* name, T runtime::StreamPipelineOptions::*field, const char* doc) {
  cls.def_property(
      name, [field](const EngineSettings& s) { return s.options.*field; },
      [field](EngineSettings& s, T value) { s.options.*field = std::move(value); }, doc);
}

// Sets each keyword through its property, so pybind11's conversions check the types. Only the
// properties defined here are settings; anything else is a misspelling.
void apply_keywords(EngineSettings& settings, const py::kwargs& keywords) {
  py::object self = py::cast(&settings, py::return_value_policy::reference);
  py::object type = py::type::of(self);
  py::object property = py::module_::import("builtins").attr("property");
  for (auto [key, value] : keywords) {
    const std::string name = py::str(key);
    if (!py::isinstance(py::getattr(type, name.c_str(), py::none()), property))
      throw py::type_error("EngineSettings got an unexpected keyword argument '" + name + "'");
    try {
      py::setattr(self, name.c_str(), value);
    } catch (py::error_already_set& error) {
      if (!error.matches(PyExc_TypeError)) throw;
      throw py::type_error("EngineSettings: " + name + "=" + std::string(py::repr(value)) + " has the wrong type (" +
                           std::string(py::str(py::type::of(value).attr("__name__"))) + ")");
    }
  }
}

}  // namespace

void bind_engine_settings(py::module_& m) {
  Settings cls(m, "EngineSettings");
  cls.def(py::init([](const py::args& args, const py::kwargs& keywords) {
            if (!args.empty()) throw py::type_error("EngineSettings takes keyword arguments only");
            auto settings = std::make_unique<EngineSettings>();
            apply_keywords(*settings, keywords);
            return settings;
          }),
          "EngineSettings(**settings): keyword arguments only; an unknown name raises TypeError.");
  member(cls, "subscribe_url", &runtime::StreamPipelineOptions::subscribe_url, "input channel (blank: none)");
  member(cls, "publish_url", &runtime::StreamPipelineOptions::publish_url, "output channel (blank: none)");
  member(cls, "control_url", &runtime::StreamPipelineOptions::control_url, "control channel (blank: none)");
  member(cls, "events_url", &runtime::StreamPipelineOptions::events_url, "events channel (blank: none)");
  member(cls, "data_url", &runtime::StreamPipelineOptions::data_url, "data channel (blank: none)");
  member(cls, "subscribe_start_seq", &runtime::StreamPipelineOptions::subscribe_start_seq,
         "first input segment (-2: current)");
  member(cls, "width", &runtime::StreamPipelineOptions::width, "the processor's input width");
  member(cls, "height", &runtime::StreamPipelineOptions::height, "the processor's input height");
  member(cls, "max_framerate", &runtime::StreamPipelineOptions::max_framerate, "input frame-rate limit (None: 24)");
  member(cls, "detect_out_resolution", &runtime::StreamPipelineOptions::detect_out_resolution,
         "encode at the processed frames' size (False: width x height)");
  member(cls, "subscriber_timeout", &runtime::StreamPipelineOptions::subscriber_timeout,
         "seconds (None: 30; control: none)");
  member(cls, "publisher_timeout", &runtime::StreamPipelineOptions::publisher_timeout, "seconds (None: 30)");
  member(cls, "heartbeat_interval", &runtime::StreamPipelineOptions::heartbeat_interval,
         "seconds (<= 0: no heartbeats)");
  member(cls, "send_data_interval", &runtime::StreamPipelineOptions::send_data_interval, "seconds between data posts");
  member(cls, "batch_dim", &runtime::StreamPipelineOptions::video_batch_dim,
         "frames as [1, H, W, 3] (False: [H, W, 3])");
  member(cls, "gpu_decode", &runtime::StreamPipelineOptions::gpu_decode, "decode with NVDEC where possible");
  member(cls, "gpu_encode", &runtime::StreamPipelineOptions::gpu_encode, "encode with NVENC where possible");
  member(cls, "video_queue_size", &runtime::StreamPipelineOptions::video_queue_size,
         "decoded video frames held at most");
  member(cls, "audio_queue_size", &runtime::StreamPipelineOptions::audio_queue_size,
         "decoded audio frames held at most");
  member(cls, "close_output_at_end", &runtime::StreamPipelineOptions::close_output_at_end,
         "DELETE the output channel once everything was published");
  cls.def_property(
      "uint8", [](const EngineSettings& s) { return s.options.video_dtype == tensor::DType::uint8; },
      [](EngineSettings& s, bool on) { s.options.video_dtype = on ? tensor::DType::uint8 : tensor::DType::float32; },
      "frames as uint8 (False: float32 in [0, 1])");
  cls.def_property(
      "device", [](const EngineSettings& s) { return device_name(s.options.video_device); },
      [](EngineSettings& s, const std::string& name) { s.options.video_device = parse_device(name); },
      "where frames reach the processor: 'cpu', 'cuda' or 'cuda:N'");
  cls.def_property(
      "verify_ssl", [](const EngineSettings& s) { return s.options.tls.verify; },
      [](EngineSettings& s, bool on) { s.options.tls.verify = s.options.tls.verify || on; },
      "check https:// certificates against the system's CAs (the environment may already ask)");
  cls.def_property(
      "ssl_ca_file", [](const EngineSettings& s) { return s.options.tls.ca_file; },
      [](EngineSettings& s, const std::string& file) {
        if (!file.empty()) s.options.tls.ca_file = file;
      },
      "check https:// certificates against this PEM bundle ('' : not unless the environment asks)");
}

}  // namespace trickle::python
