#include "native_relay.hpp"

#include "io_runtime.hpp"
#include "trickle/protocol/relay_server.hpp"

namespace py = pybind11;

namespace trickle::python {
namespace {

class NativeRelay {
 public:
  NativeRelay(const std::string& host, int port, bool autocreate, const std::string& tls_cert,
              const std::string& tls_key) {
    protocol::RelayOptions options;
    options.autocreate = autocreate;
    if (!tls_cert.empty() || !tls_key.empty()) options.tls = net::TlsServerOptions{tls_cert, tls_key};
    auto relay = std::make_shared<protocol::RelayServer>(io_executor(), options);
    auto error = run_on_io([&]() -> std::string {
      auto listening = relay->listen(host, static_cast<std::uint16_t>(port));
      if (!listening) return listening.error().message;
      relay->start();
      return {};
    });
    if (!error.empty())
      throw std::runtime_error("the relay cannot listen on " + host + ":" + std::to_string(port) + ": " + error);
    relay_ = std::move(relay);
  }
  ~NativeRelay() { stop(); }

  int port() const { return relay_ ? relay_->port() : 0; }

  void stop() {
    if (!relay_) return;
    auto relay = std::move(relay_);
    run_on_io([relay] {
      relay->stop();
      return 0;
    });
    // Released on the io thread, where its connections live.
    asio::post(io_executor(), [relay = std::move(relay)] {});
  }

  // What a gateway does before handing URLs to a worker (a GET on an unknown channel is 404).
  void create_channel(const std::string& name, const std::string& mime_type) {
    run_on_io([&] {
      relay_->create_channel(name, mime_type);
      return 0;
    });
  }

  bool close_channel(const std::string& name) {
    return run_on_io([&] { return relay_->close_channel(name); });
  }

 private:
  std::shared_ptr<protocol::RelayServer> relay_;
};

}  // namespace

void bind_native_relay(py::module_& m) {
  py::class_<NativeRelay>(m, "NativeRelay")
      .def(py::init<const std::string&, int, bool, const std::string&, const std::string&>(), py::arg("host"),
           py::arg("port"), py::arg("autocreate"), py::arg("tls_cert") = "", py::arg("tls_key") = "")
      .def_property_readonly("port", &NativeRelay::port)
      .def("stop", &NativeRelay::stop)
      .def("create_channel", &NativeRelay::create_channel, py::arg("name"), py::arg("mime_type") = "")
      .def("close_channel", &NativeRelay::close_channel, py::arg("name"));
}

}  // namespace trickle::python
