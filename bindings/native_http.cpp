#include "native_http.hpp"

#include <deque>
#include <map>
#include <mutex>

#include <pybind11/stl.h>

#include "io_runtime.hpp"
#include "wakeup_fd.hpp"
#include "trickle/net/async_signal.hpp"
#include "trickle/net/http_server.hpp"

namespace py = pybind11;

namespace trickle::python {
namespace {
using namespace std::chrono_literals;

struct Answer {
  int status = 500;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// One request waiting for the event loop's answer (io thread only).
struct Pending {
  explicit Pending(net::Executor executor) : answered(executor) {}
  net::AsyncSignal answered;
  std::optional<Answer> answer;
};

struct Inbox {
  struct Request {
    std::uint64_t id;
    std::string method, target;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    bool too_large;
  };
  WakeupFd wakeup;
  std::mutex mutex;
  std::deque<Request> requests;
};

class NativeHttpServer {
 public:
  NativeHttpServer(const std::string& host, int port, std::size_t max_body_bytes)
      : inbox_(std::make_shared<Inbox>()), max_body_bytes_(max_body_bytes) {
    auto state = std::make_shared<State>();
    state_ = state;
    auto error = run_on_io([&, state] {
      state->server = std::make_unique<net::HttpServer>(
          io_executor(),
          [state, inbox = inbox_, limit = max_body_bytes_](net::ServerRequest& request, net::ServerResponse& response) {
            return serve(state, inbox, limit, request, response);
          });
      auto endpoint = state->server->listen(host, static_cast<std::uint16_t>(port));
      if (!endpoint) return endpoint.error().message;
      state->server->start();
      return std::string();
    });
    if (!error.empty())
      throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": " + error);
    port_ = state->server->port();
  }

  ~NativeHttpServer() { stop(); }

  int port() const { return port_; }
  int fileno() const { return inbox_->wakeup.fd(); }

  // [(id, method, target, [(name, value)], body, too_large)]
  py::list pop_requests() {
    inbox_->wakeup.drain();
    std::deque<Inbox::Request> taken;
    {
      std::lock_guard lock(inbox_->mutex);
      taken.swap(inbox_->requests);
    }
    py::list out;
    for (auto& r : taken) {
      out.append(py::make_tuple(r.id, r.method, r.target, r.headers, py::bytes(r.body), r.too_large));
    }
    return out;
  }

  void respond(std::uint64_t id, int status, std::vector<std::pair<std::string, std::string>> headers, py::bytes body) {
    Answer answer{status, std::move(headers), std::string(body)};
    asio::post(io_executor(), [state = state_, id, answer = std::move(answer)]() mutable {
      auto it = state->pending.find(id);
      if (it == state->pending.end()) return;  // the client went away meanwhile
      it->second->answer = std::move(answer);
      it->second->answered.notify_all();
    });
  }

  void stop() {
    if (!state_) return;
    auto state = std::move(state_);
    run_on_io([state] {
      state->stopping = true;
      if (state->server) state->server->stop();
      for (auto& [id, pending] : state->pending) pending->answered.notify_all();
      return 0;
    });
    asio::post(io_executor(), [state = std::move(state)] {});  // released on its own thread
  }

 private:
  struct State {
    std::unique_ptr<net::HttpServer> server;
    std::map<std::uint64_t, std::shared_ptr<Pending>> pending;
    std::uint64_t next_id = 1;
    bool stopping = false;
  };

  static net::awaitable<void> serve(std::shared_ptr<State> state, std::shared_ptr<Inbox> inbox, std::size_t limit,
                                    net::ServerRequest& request, net::ServerResponse& response) {
    Inbox::Request item;
    item.method = std::string(request.method());
    item.target = request.head().target;
    for (const auto& [name, value] : request.headers()) item.headers.emplace_back(name, value);
    auto body = co_await request.read_all(limit, 30s);
    item.too_large = false;
    if (!body) {
      if (body.error().status() != 413) co_return;  // cut short or too slow: nobody to answer
      // As aiohttp does: the handler learns of it when it reads the body.
      item.too_large = true;
      response.close_after();
    } else {
      item.body = std::move(*body);
    }
    const std::uint64_t id = state->next_id++;
    auto pending = std::make_shared<Pending>(io_executor());
    state->pending.emplace(id, pending);
    item.id = id;
    {
      std::lock_guard lock(inbox->mutex);
      inbox->requests.push_back(std::move(item));
    }
    inbox->wakeup.wake();
    while (!pending->answer && !state->stopping) co_await pending->answered.wait_for(1s);
    state->pending.erase(id);
    if (!pending->answer) co_return;
    net::HttpHeaders headers;
    for (auto& [name, value] : pending->answer->headers) headers.add(std::move(name), std::move(value));
    co_await response.send(pending->answer->status, std::move(headers), pending->answer->body);
  }

  std::shared_ptr<Inbox> inbox_;
  std::size_t max_body_bytes_;
  std::shared_ptr<State> state_;
  int port_ = 0;
};

}  // namespace

void bind_native_http(py::module_& m) {
  py::class_<NativeHttpServer>(m, "NativeHttpServer")
      .def(py::init<const std::string&, int, std::size_t>(), py::arg("host"), py::arg("port"),
           py::arg("max_body_bytes"))
      .def_property_readonly("port", &NativeHttpServer::port)
      .def("fileno", &NativeHttpServer::fileno)
      .def("pop_requests", &NativeHttpServer::pop_requests)
      .def("respond", &NativeHttpServer::respond, py::arg("id"), py::arg("status"), py::arg("headers"), py::arg("body"))
      .def("stop", &NativeHttpServer::stop);
}

}  // namespace trickle::python
