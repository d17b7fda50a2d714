#include "native_channels.hpp"

#include <memory>
#include <stdexcept>

#include "io_runtime.hpp"
#include "python_dispatcher.hpp"
#include "trickle/net/async_signal.hpp"
#include "trickle/net/spawn.hpp"
#include "trickle/protocol/publisher.hpp"
#include "trickle/protocol/subscriber.hpp"

namespace py = pybind11;

namespace trickle::python {
namespace {

// A Python callable that io-thread code may hold: it is called, and finally released, on the
// dispatcher thread with the GIL.
class PyCallback {
 public:
  explicit PyCallback(py::object function)
      : function_(new py::object(std::move(function)), [](py::object* f) { dispatch_to_python([f] { delete f; }); }) {}

  template <typename... Args>
  void operator()(Args... args) const {
    dispatch_to_python([function = function_, args...]() {
      if (!function->is_none()) (*function)(args...);
    });
  }

  // For results that are only Python objects once the GIL is held.
  template <typename Make>
  void call_with(Make make) const {
    dispatch_to_python([function = function_, make = std::move(make)]() {
      if (!function->is_none()) (*function)(make());
    });
  }

  // The call failed: callback(None, message), which call_native raises as a RuntimeError.
  void fail(std::string message) const {
    dispatch_to_python([function = function_, message = std::move(message)]() {
      if (!function->is_none()) (*function)(py::none(), message);
    });
  }

 private:
  std::shared_ptr<py::object> function_;
};

std::chrono::milliseconds timeout_from(const py::object& seconds, std::chrono::milliseconds none_means) {
  if (seconds.is_none()) return none_means;
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds.cast<double>() * 1000.0));
}

const auto forever = std::chrono::duration_cast<std::chrono::milliseconds>(net::Clock::duration::max() / 2);

protocol::ErrorCallback error_forwarder(py::object on_error) {
  if (on_error.is_none()) return {};
  PyCallback callback(std::move(on_error));
  return [callback](std::string_view kind, std::string_view message) {
    callback(std::string(kind), std::string(message));
  };
}

// Runs `work` (a coroutine lambda that settles `done`) on the io thread. If it throws, `done`
// fails with the exception's message, so the Python future awaiting it raises instead of hanging.
template <typename Work>
void on_io(Work work, const PyCallback& done) {
  net::spawn(io_executor(), std::move(work), "a call from Python",
             [done](std::exception_ptr error) { done.fail(util::exception_message(error)); });
}

// ---- subscriber ----

class NativeSegment {
 public:
  explicit NativeSegment(std::shared_ptr<protocol::SubscribedSegment> segment) : segment_(std::move(segment)) {}
  // The connection is let go on the io thread, its owner. (Not closed here: pybind11 copies
  // this object when handing it to Python, and the copy must still read.)
  ~NativeSegment() {
    if (segment_) asio::post(io_executor(), [segment = std::move(segment_)] {});
  }
  NativeSegment(const NativeSegment&) = default;

  std::int64_t seq() const { return segment_->seq(); }
  bool eos() const { return segment_->eos(); }

  // callback(bytes): the next piece; b"" at the end; None when the read failed.
  void read(py::object callback) {
    PyCallback done(std::move(callback));
    on_io(
        [segment = segment_, done]() -> net::awaitable<void> {
          auto piece = co_await segment->read();
          while (piece && *piece && (*piece)->empty()) piece = co_await segment->read();  // b"" means the end
          if (!piece) {
            done.call_with([] { return py::none(); });
          } else if (!*piece) {
            done.call_with([] { return py::bytes(); });
          } else {
            auto bytes = std::make_shared<std::vector<std::uint8_t>>(std::move(**piece));
            done.call_with([bytes] { return py::bytes(reinterpret_cast<const char*>(bytes->data()), bytes->size()); });
          }
        },
        done);
  }

  void close() {
    asio::post(io_executor(), [segment = segment_] { segment->close(); });
  }

 private:
  std::shared_ptr<protocol::SubscribedSegment> segment_;
};

class NativeSubscriber {
 public:
  NativeSubscriber(std::string url, std::int64_t start_seq, int max_retries, py::object connect_timeout,
                   py::object on_error, bool verify_ssl, std::string ssl_ca_file) {
    protocol::SubscriberOptions o;
    o.tls = net::TlsClientOptions{verify_ssl, std::move(ssl_ca_file)}.with_environment();
    o.start_seq = start_seq;
    o.max_retries = max_retries;
    o.connect_timeout = o.read_timeout = timeout_from(connect_timeout, forever);
    subscriber_ = std::make_shared<protocol::TrickleSubscriber>(io_executor(), std::move(url), o,
                                                                error_forwarder(std::move(on_error)));
  }
  ~NativeSubscriber() { close(); }

  // callback(NativeSegment or None)
  void next(py::object callback) {
    PyCallback done(std::move(callback));
    on_io(
        [subscriber = subscriber_, done]() -> net::awaitable<void> {
          std::shared_ptr<protocol::SubscribedSegment> segment = co_await subscriber->next();
          if (!segment) {
            done.call_with([] { return py::none(); });
          } else {
            done.call_with([segment] { return py::cast(NativeSegment(segment)); });
          }
        },
        done);
  }

  void close() {
    asio::post(io_executor(), [subscriber = subscriber_] { subscriber->close(); });
  }
  std::int64_t next_seq() const { return subscriber_->next_seq(); }

 private:
  std::shared_ptr<protocol::TrickleSubscriber> subscriber_;
};

// ---- publisher ----

class NativeSegmentWriter {
 public:
  explicit NativeSegmentWriter(std::shared_ptr<protocol::SegmentWriter> writer) : writer_(std::move(writer)) {}

  std::int64_t seq() const { return writer_->seq(); }

  // callback(bool): written (false once the POST failed).
  void write(py::bytes data, py::object callback) {
    auto bytes = std::make_shared<std::string>(data);
    PyCallback done(std::move(callback));
    on_io(
        [writer = writer_, bytes, done]() -> net::awaitable<void> {
          const bool ok =
              co_await writer->write(std::span(reinterpret_cast<const std::uint8_t*>(bytes->data()), bytes->size()));
          done(ok);
        },
        done);
  }

  // callback(bool): the relay accepted the segment.
  void close(py::object callback) {
    PyCallback done(std::move(callback));
    on_io([writer = writer_, done]() -> net::awaitable<void> { done(co_await writer->close()); }, done);
  }

 private:
  std::shared_ptr<protocol::SegmentWriter> writer_;
};

class NativePublisher {
 public:
  NativePublisher(std::string url, std::string mime_type, py::object connect_timeout, py::object on_error,
                  bool verify_ssl, std::string ssl_ca_file) {
    protocol::PublisherOptions o;
    o.tls = net::TlsClientOptions{verify_ssl, std::move(ssl_ca_file)}.with_environment();
    o.mime_type = std::move(mime_type);
    o.connect_timeout = timeout_from(connect_timeout, forever);
    publisher_ = std::make_shared<protocol::TricklePublisher>(io_executor(), std::move(url), o,
                                                              error_forwarder(std::move(on_error)));
  }

  // callback(NativeSegmentWriter)
  void next(py::object callback) {
    PyCallback done(std::move(callback));
    on_io(
        [publisher = publisher_, done]() -> net::awaitable<void> {
          auto writer = co_await publisher->next();
          done.call_with([writer] { return py::cast(NativeSegmentWriter(writer)); });
        },
        done);
  }

  // callback(None) once pending segments were answered (bounded).
  void close(py::object callback) {
    PyCallback done(std::move(callback));
    on_io(
        [publisher = publisher_, done]() -> net::awaitable<void> {
          co_await publisher->close();
          done.call_with([] { return py::none(); });
        },
        done);
  }

  // callback(bool)
  void delete_channel(py::object callback) {
    PyCallback done(std::move(callback));
    on_io([publisher = publisher_, done]() -> net::awaitable<void> { done(co_await publisher->delete_channel()); },
          done);
  }

  std::int64_t next_seq() const { return publisher_->next_seq(); }

 private:
  std::shared_ptr<protocol::TricklePublisher> publisher_;
};

// For the tests: a call whose coroutine throws `message` after one hop on the io thread, as any
// of the calls above would if something under it threw.
void throw_on_io(std::string message, py::object callback) {
  PyCallback done(std::move(callback));
  on_io(
      [message = std::move(message)]() -> net::awaitable<void> {
        co_await net::sleep_for(std::chrono::milliseconds(1));
        throw std::runtime_error(message);
      },
      done);
}

}  // namespace

void bind_native_channels(py::module_& m) {
  m.def("_throw_on_io", &throw_on_io, py::arg("message"), py::arg("callback"));
  py::class_<NativeSegment>(m, "NativeSegment")
      .def("seq", &NativeSegment::seq)
      .def("eos", &NativeSegment::eos)
      .def("read", &NativeSegment::read, py::arg("callback"))
      .def("close", &NativeSegment::close);
  py::class_<NativeSubscriber>(m, "NativeSubscriber")
      .def(py::init<std::string, std::int64_t, int, py::object, py::object, bool, std::string>(), py::arg("url"),
           py::arg("start_seq"), py::arg("max_retries"), py::arg("connect_timeout"), py::arg("on_error"),
           py::arg("verify_ssl") = false, py::arg("ssl_ca_file") = "")
      .def("next", &NativeSubscriber::next, py::arg("callback"))
      .def("close", &NativeSubscriber::close)
      .def("next_seq", &NativeSubscriber::next_seq);
  py::class_<NativeSegmentWriter>(m, "NativeSegmentWriter")
      .def("seq", &NativeSegmentWriter::seq)
      .def("write", &NativeSegmentWriter::write, py::arg("data"), py::arg("callback"))
      .def("close", &NativeSegmentWriter::close, py::arg("callback"));
  py::class_<NativePublisher>(m, "NativePublisher")
      .def(py::init<std::string, std::string, py::object, py::object, bool, std::string>(), py::arg("url"),
           py::arg("mime_type"), py::arg("connect_timeout"), py::arg("on_error"), py::arg("verify_ssl") = false,
           py::arg("ssl_ca_file") = "")
      .def("next", &NativePublisher::next, py::arg("callback"))
      .def("close", &NativePublisher::close, py::arg("callback"))
      .def("delete_channel", &NativePublisher::delete_channel, py::arg("callback"))
      .def("next_seq", &NativePublisher::next_seq);
}

}  // namespace trickle::python
