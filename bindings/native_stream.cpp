#include "native_stream.hpp"

#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>

#include <pybind11/numpy.h>
#include <pybind11/stl.h>
#include <spdlog/spdlog.h>

extern "C" {
#include <libavutil/channel_layout.h>
}

#include "dlpack_capsule.hpp"
#include "engine_settings.hpp"
#include "io_runtime.hpp"
#include "wakeup_fd.hpp"
#include "trickle/runtime/stream_pipeline.hpp"
#include "trickle/util/text.hpp"

namespace py = pybind11;

namespace trickle::python {
namespace {

// What the engine's threads hand to Python, and the eventfd that says so. Shared with the
// pipeline's callbacks, which may outlive the NativeStream object.
struct Mailbox {
  WakeupFd wakeup;
  std::mutex mutex;
  std::condition_variable finished_changed;
  std::deque<std::string> controls;                        // control-channel messages, JSON text
  std::deque<std::pair<std::string, std::string>> errors;  // (kind, message)
  bool finished = false;
};

py::dtype numpy_dtype(tensor::DType dtype) {
  switch (dtype) {
    case tensor::DType::uint8: return py::dtype::of<std::uint8_t>();
    case tensor::DType::int16: return py::dtype::of<std::int16_t>();
    case tensor::DType::int32: return py::dtype::of<std::int32_t>();
    case tensor::DType::int64: return py::dtype::of<std::int64_t>();
    case tensor::DType::float16: return py::dtype("float16");
    case tensor::DType::float32: return py::dtype::of<float>();
    case tensor::DType::float64: return py::dtype::of<double>();
  }
  throw std::invalid_argument("unknown dtype");
}

// Audio is small: it crosses as a numpy copy, as PyAV's to_ndarray() gives it to upstream.
py::array to_numpy(const tensor::Tensor& samples) {
  tensor::Tensor dense = samples.contiguous();
  std::vector<py::ssize_t> shape(dense.shape().begin(), dense.shape().end());
  py::array array(numpy_dtype(dense.dtype()), shape);
  std::memcpy(array.mutable_data(), dense.data(), dense.nbytes());
  return array;
}

tensor::Tensor from_numpy(const py::array& input) {
  py::array array = py::array::ensure(input, py::array::c_style);
  if (!array) throw py::type_error("audio samples must be a numpy array");
  tensor::DType dtype;
  const auto kind = array.dtype().kind();
  const auto size = array.dtype().itemsize();
  if (kind == 'u' && size == 1)
    dtype = tensor::DType::uint8;
  else if (kind == 'i' && size == 2)
    dtype = tensor::DType::int16;
  else if (kind == 'i' && size == 4)
    dtype = tensor::DType::int32;
  else if (kind == 'i' && size == 8)
    dtype = tensor::DType::int64;
  else if (kind == 'f' && size == 4)
    dtype = tensor::DType::float32;
  else if (kind == 'f' && size == 8)
    dtype = tensor::DType::float64;
  else
    throw py::value_error("unsupported audio sample dtype " + std::string(py::str(array.dtype())));
  tensor::Tensor::Shape shape(array.shape(), array.shape() + array.ndim());
  tensor::Tensor tensor = tensor::Tensor::empty(shape, dtype);
  std::memcpy(tensor.data(), array.data(), tensor.nbytes());
  return tensor;
}

int channels_of(const std::string& layout) {
  AVChannelLayout parsed{};
  if (av_channel_layout_from_string(&parsed, layout.c_str()) < 0) {
    throw py::value_error("unknown audio channel layout '" + layout + "'");
  }
  const int channels = parsed.nb_channels;
  av_channel_layout_uninit(&parsed);
  return channels;
}

// What pop_inputs hands out: one decoded frame, its parts by name.
struct EngineVideoFrame {
  py::object tensor;  // a DLPack capsule (torch.from_dlpack takes it without a copy)
  std::int64_t pts = 0;
  int time_base_num = 1, time_base_den = 1;
};

struct EngineAudioFrame {
  py::object samples;  // numpy array, as PyAV's to_ndarray() gives it
  int nb_samples = 0;
  std::string format, layout;
  int sample_rate = 0;
  std::int64_t pts = 0;
  int time_base_num = 1, time_base_den = 1;
};

class NativeStream {
 public:
  explicit NativeStream(const EngineSettings& settings) : mailbox_(std::make_shared<Mailbox>()) {
    runtime::StreamPipelineOptions o = settings.options;
    // Trimming the backlog is the Python client's frame skipper's job (upstream's, patchable);
    // the inbox keeps only its hard caps.
    o.frame_skip.max_queue_size = std::numeric_limits<std::size_t>::max();
    o.overlay.enabled = false;
    o.external_processing = true;
    o.on_input_ready = [mailbox = std::weak_ptr<Mailbox>(mailbox_)] {
      if (auto m = mailbox.lock()) m->wakeup.wake();
    };
    o.on_control = [mailbox = std::weak_ptr<Mailbox>(mailbox_)](util::Json params) {
      auto m = mailbox.lock();
      if (!m) return;
      {
        std::lock_guard lock(m->mutex);
        m->controls.push_back(util::python_json_dumps(params));
      }
      m->wakeup.wake();
    };
    auto on_error = [mailbox = std::weak_ptr<Mailbox>(mailbox_)](std::string_view kind, std::string_view message) {
      auto m = mailbox.lock();
      if (!m) return;
      {
        std::lock_guard lock(m->mutex);
        m->errors.emplace_back(std::string(kind), std::string(message));
      }
      m->wakeup.wake();
    };
    pipeline_ = std::make_shared<runtime::StreamPipeline>(io_executor(), nullptr, std::move(o), std::move(on_error));
  }

  ~NativeStream() {
    if (pipeline_) pipeline_->stop();
  }

  void start() {
    asio::post(io_executor(), [pipeline = pipeline_, mailbox = mailbox_] {
      pipeline->start();
      asio::co_spawn(
          io_executor(), [pipeline]() -> net::awaitable<void> { co_await pipeline->wait_finished(); },
          [pipeline, mailbox](std::exception_ptr error) {
            if (error) spdlog::error("waiting for the stream's end failed: {}", util::exception_message(error));
            {
              std::lock_guard lock(mailbox->mutex);
              mailbox->finished = true;
            }
            mailbox->finished_changed.notify_all();
            mailbox->wakeup.wake();
          });
    });
  }

  void stop() { pipeline_->stop(); }

  int fileno() const { return mailbox_->wakeup.fd(); }
  void drain_wakeup() const { mailbox_->wakeup.drain(); }

  // Up to `limit` inputs (EngineVideoFrame or EngineAudioFrame), and whether the input is over.
  py::tuple pop_inputs(std::size_t limit) {
    py::list items;
    bool ended = false;
    for (std::size_t i = 0; i < limit; ++i) {
      auto item = pipeline_->try_pop_input(&ended);
      if (!item) break;
      if (auto* video = std::get_if<runtime::VideoFrame>(&*item)) {
        items.append(py::cast(
            EngineVideoFrame{to_capsule(video->tensor), video->pts, video->time_base.num, video->time_base.den}));
      } else if (auto* audio = std::get_if<runtime::AudioFrame>(&*item)) {
        items.append(
            py::cast(EngineAudioFrame{to_numpy(audio->samples), audio->nb_samples, audio->format, audio->layout,
                                      audio->sample_rate, audio->pts, audio->time_base.num, audio->time_base.den}));
      } else if (auto* update = std::get_if<runtime::ParamsUpdate>(&*item)) {
        if (update->done) update->done(nullptr);  // not used in external mode
      }
    }
    return py::make_tuple(items, ended);
  }

  py::list pop_controls() { return pop_all(mailbox_->controls); }
  py::list pop_errors() { return pop_all(mailbox_->errors); }

  bool push_video(py::handle tensor, std::int64_t pts, int tb_num, int tb_den) {
    runtime::VideoFrame frame;
    frame.tensor = tensor_from_python(tensor);
    frame.pts = pts;
    frame.time_base = AVRational{tb_num, tb_den};
    return pipeline_->push_output(frame);
  }

  bool push_audio(const py::array& samples, const std::string& format, const std::string& layout, int rate,
                  std::int64_t pts, int tb_num, int tb_den) {
    runtime::AudioFrame frame;
    frame.samples = from_numpy(samples);
    frame.format = format;
    frame.layout = layout;
    frame.sample_rate = rate;
    frame.channels = channels_of(layout);
    const bool planar = !format.empty() && format.back() == 'p';
    frame.nb_samples = static_cast<int>(
        planar || frame.channels <= 0 ? frame.samples.size(-1) : frame.samples.numel() / std::max(frame.channels, 1));
    frame.pts = pts;
    frame.time_base = AVRational{tb_num, tb_den};
    return pipeline_->push_output(frame);
  }

  bool output_has_room() const { return pipeline_->output_has_room(); }
  bool output_closed() const { return pipeline_->output_closed(); }
  void wait_output_room() {
    py::gil_scoped_release release;
    pipeline_->wait_output_room();
  }
  void finish_output() { pipeline_->finish_output(); }
  void set_max_framerate(int fps) { pipeline_->set_max_framerate(fps); }
  void set_target_fps(std::optional<double> fps) { pipeline_->set_target_fps(fps); }

  bool finished() const {
    std::lock_guard lock(mailbox_->mutex);
    return mailbox_->finished;
  }
  bool wait_finished(double timeout_seconds) {
    py::gil_scoped_release release;
    std::unique_lock lock(mailbox_->mutex);
    return mailbox_->finished_changed.wait_for(lock, std::chrono::duration<double>(timeout_seconds),
                                               [&] { return mailbox_->finished; });
  }

  void publish_data(std::string item) { pipeline_->publish_data(std::move(item)); }
  void emit_event(const std::string& event_json, std::string queue_event_type) {
    auto event = util::python_json_loads(event_json);
    if (!event) throw py::value_error(event.error());
    pipeline_->emit_event(std::move(*event), std::move(queue_event_type));
  }
  std::string fps_stats() const { return util::python_json_dumps(pipeline_->fps_stats()); }
  std::string stats() const { return util::python_json_dumps(pipeline_->stats()); }

 private:
  template <typename T>
  py::list pop_all(std::deque<T>& queue) {
    std::deque<T> taken;
    {
      std::lock_guard lock(mailbox_->mutex);
      taken.swap(queue);
    }
    py::list out;
    for (auto& item : taken) out.append(py::cast(item));
    return out;
  }

  std::shared_ptr<Mailbox> mailbox_;
  std::shared_ptr<runtime::StreamPipeline> pipeline_;
};

}  // namespace

void bind_native_stream(py::module_& m) {
  bind_engine_settings(m);
  py::class_<EngineVideoFrame>(m, "EngineVideoFrame")
      .def_property_readonly_static("kind", [](py::object) { return "video"; })
      .def_readonly("tensor", &EngineVideoFrame::tensor)
      .def_readonly("pts", &EngineVideoFrame::pts)
      .def_readonly("time_base_num", &EngineVideoFrame::time_base_num)
      .def_readonly("time_base_den", &EngineVideoFrame::time_base_den);
  py::class_<EngineAudioFrame>(m, "EngineAudioFrame")
      .def_property_readonly_static("kind", [](py::object) { return "audio"; })
      .def_readonly("samples", &EngineAudioFrame::samples)
      .def_readonly("nb_samples", &EngineAudioFrame::nb_samples)
      .def_readonly("format", &EngineAudioFrame::format)
      .def_readonly("layout", &EngineAudioFrame::layout)
      .def_readonly("sample_rate", &EngineAudioFrame::sample_rate)
      .def_readonly("pts", &EngineAudioFrame::pts)
      .def_readonly("time_base_num", &EngineAudioFrame::time_base_num)
      .def_readonly("time_base_den", &EngineAudioFrame::time_base_den);
  py::class_<NativeStream>(m, "NativeStream")
      .def(py::init<const EngineSettings&>(), py::arg("settings"))
      .def("start", &NativeStream::start)
      .def("stop", &NativeStream::stop)
      .def("fileno", &NativeStream::fileno)
      .def("drain_wakeup", &NativeStream::drain_wakeup)
      .def("pop_inputs", &NativeStream::pop_inputs, py::arg("limit") = 64)
      .def("pop_controls", &NativeStream::pop_controls)
      .def("pop_errors", &NativeStream::pop_errors)
      .def("push_video", &NativeStream::push_video, py::arg("tensor"), py::arg("pts"), py::arg("tb_num"),
           py::arg("tb_den"))
      .def("push_audio", &NativeStream::push_audio, py::arg("samples"), py::arg("format"), py::arg("layout"),
           py::arg("rate"), py::arg("pts"), py::arg("tb_num"), py::arg("tb_den"))
      .def("output_has_room", &NativeStream::output_has_room)
      .def("output_closed", &NativeStream::output_closed)
      .def("wait_output_room", &NativeStream::wait_output_room)
      .def("finish_output", &NativeStream::finish_output)
      .def("set_max_framerate", &NativeStream::set_max_framerate)
      .def("set_target_fps", &NativeStream::set_target_fps)
      .def("finished", &NativeStream::finished)
      .def("wait_finished", &NativeStream::wait_finished, py::arg("timeout"))
      .def("publish_data", &NativeStream::publish_data)
      .def("emit_event", &NativeStream::emit_event, py::arg("event_json"), py::arg("queue_event_type"))
      .def("fps_stats", &NativeStream::fps_stats)
      .def("stats", &NativeStream::stats);
}

}  // namespace trickle::python
