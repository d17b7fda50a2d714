// A relay, a publisher and a subscriber in one process: the library's transport API end to end.
// Publishes three JSON segments to a channel and reads them back; exits 0 when all arrived intact.

#include <cstdio>
#include <string>

#include "trickle/protocol/publisher.hpp"
#include "trickle/protocol/relay_server.hpp"
#include "trickle/protocol/subscriber.hpp"

using namespace trickle;

net::awaitable<int> run(protocol::RelayServer& relay) {
  auto executor = co_await asio::this_coro::executor;
  std::string url = "http://127.0.0.1:" + std::to_string(relay.port()) + "/events";
  relay.create_channel("events", "application/json");  // what a gateway does before handing out URLs

  protocol::TrickleSubscriber subscriber(executor, url, {.start_seq = 0});
  protocol::TricklePublisher publisher(executor, url, {.mime_type = "application/json"});

  int matched = 0;
  for (int i = 0; i < 3; ++i) {
    std::string message = R"({"frame":)" + std::to_string(i) + "}";
    auto writer = co_await publisher.next();  // the POST for the next seq is already open
    co_await writer->write({reinterpret_cast<const std::uint8_t*>(message.data()), message.size()});
    co_await writer->close();

    auto segment = co_await subscriber.next();
    if (!segment) break;
    std::string received;
    while (auto piece = co_await segment->read()) {
      if (!*piece) break;  // end of this segment
      received.append((*piece)->begin(), (*piece)->end());
    }
    std::printf("seq %lld: %s\n", static_cast<long long>(segment->seq()), received.c_str());
    matched += received == message;
  }
  co_await publisher.close();
  subscriber.close();
  co_return matched == 3 ? 0 : 1;
}

int main() {
  asio::io_context io(1);
  protocol::RelayServer relay(io.get_executor());
  if (!relay.listen("127.0.0.1", 0)) return 1;
  relay.start();
  int status = 1;
  asio::co_spawn(io, run(relay), [&](std::exception_ptr e, int result) {
    status = e ? 1 : result;
    relay.stop();
    io.stop();
  });
  io.run();
  return status;
}
