// net::spawn: a coroutine nobody co_awaits still reports what it throws, to the log and to
// whoever waits on it.

#include <stdexcept>
#include <string>

#include <boost/test/unit_test.hpp>

#include "test_support.hpp"
#include "trickle/net/spawn.hpp"

using namespace trickle;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(spawn)

BOOST_AUTO_TEST_CASE(an_escaping_exception_reaches_the_waiter) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    net::AsyncSignal settled(ex);
    std::string failure;
    bool finished = false;
    net::spawn(
        ex,
        []() -> net::awaitable<void> {
          co_await net::sleep_for(1ms);
          throw std::runtime_error("boom");
        },
        "a test coroutine",
        [&](std::exception_ptr error) {
          failure = util::exception_message(error);
          settled.notify_all();
        });
    // One that ends normally does not call its failure handler.
    net::spawn(
        ex,
        [&]() -> net::awaitable<void> {
          finished = true;
          co_return;
        },
        "a quiet coroutine", [&](std::exception_ptr) { failure = "called for nothing"; });
    BOOST_TEST(co_await settled.wait_for(2s));
    BOOST_TEST(failure == "boom");
    BOOST_TEST(finished);
  });
}

BOOST_AUTO_TEST_CASE(without_a_waiter_the_failure_is_only_logged) {
  // The io_context goes on running: the exception does not escape run().
  asio::io_context io(1);
  bool after = false;
  net::spawn(
      io.get_executor(),
      []() -> net::awaitable<void> {
        throw std::logic_error("nobody waits");
        co_return;
      },
      "an unwatched coroutine");
  asio::post(io, [&] { after = true; });
  BOOST_CHECK_NO_THROW(io.run());
  BOOST_TEST(after);
}

BOOST_AUTO_TEST_SUITE_END()
