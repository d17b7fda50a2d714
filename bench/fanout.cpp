// bench/fanout: the relay's fan-out latency benchmark (docs/protocol.md, "Latency").
//
// The shape of go-livepeer's own segment-buffer latency test, but over real HTTP on loopback:
// one publisher streams `--bytes` into ONE segment as writes of each `--sizes` size, as fast as
// it can, while 1, 2, 5, 15 and 40 subscribers read that segment. The relay is a separate
// `trickle serve` process (a fresh one per run), so its peak RSS and CPU time are its own.
//
// Latency of a write, per subscriber: from the publisher's time stamp of that write (taken just
// before the write is handed to the socket, or just after its co_await completes with
// `--stamp after`) to the moment that subscriber's cumulative byte count reaches the write's end
// offset. Publisher and subscribers share one thread and one monotonic clock, so nothing is
// embedded in the payload.
//
// `--tls` runs every row twice, over http:// and over https:// (the relay serving a self-signed
// certificate made with the openssl CLI, as a go-livepeer orchestrator does), and adds a table of
// what TLS costs per delivered GiB, relay and clients, beside plain HTTP in the same run.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "trickle/net/async_signal.hpp"
#include "trickle/net/http_client.hpp"
#include "trickle/net/spawn.hpp"

extern char** environ;

namespace {

namespace net = trickle::net;
using net::awaitable;
using net::Clock;
using namespace std::chrono_literals;

#ifndef TRICKLE_EXE
#define TRICKLE_EXE ""
#endif
#ifndef TRICKLE_BUILD_TYPE
#define TRICKLE_BUILD_TYPE ""
#endif

struct Config {
  int runs = 3;
  std::vector<int> subscribers{1, 2, 5, 15, 40};
  std::vector<std::size_t> sizes{32768, 1300};
  std::size_t bytes = 8 * 1024 * 1024;
  std::string trickle;
  std::string stamp = "before";
  double rate_mibps = 0;  // 0: as fast as possible (the default, like go-livepeer's test)
  int settle_ms = 100;
  double quiet_wait_s = 5;   // wait up to this long before each run for other load to drop
  double quiet_cores = 0.2;  // "quiet": other processes use less than this many cores
  bool verify = false;
  bool per_run = false;
  std::string relay_log_level = "warn";
  int relay_port = 0;  // use the relay already listening on 127.0.0.1:PORT instead of starting one
  int relay_pid = 0;   // ... and read its RSS/CPU from /proc/PID
  bool tls = false;    // each row over http:// and https://
  std::vector<std::string> schemes{"http"};
  std::string tls_cert, tls_key;  // the https:// relay's, made at start-up
};

// A self-signed certificate for 127.0.0.1 in a fresh temporary folder; "" on failure.
std::string make_certificate(std::string& cert, std::string& key) {
  std::string dir = (std::filesystem::temp_directory_path() / "trickle-fanout-XXXXXX").string();
  if (!mkdtemp(dir.data())) return "cannot make a temporary folder";
  cert = dir + "/relay.crt";
  key = dir + "/relay.key";
  auto command = fmt::format(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=fanout "
      "-addext subjectAltName=IP:127.0.0.1 -keyout {} -out {} >/dev/null 2>&1",
      key, cert);
  if (std::system(command.c_str()) != 0) return "the openssl CLI could not make a certificate (is openssl installed?)";
  return {};
}

double to_ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
double to_s(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
constexpr double mib = 1024.0 * 1024.0;
constexpr double gib = 1024.0 * mib;

// Busy and total jiffies of the whole machine (first line of /proc/stat).
std::pair<double, double> machine_jiffies() {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  double busy = user + nice + system + irq + softirq + steal;
  return {busy, busy + idle + iowait};
}

// How many cores other processes keep busy, sampled over `window` while this bench is idle.
double background_cores(std::chrono::milliseconds window) {
  auto [busy0, total0] = machine_jiffies();
  std::this_thread::sleep_for(window);
  auto [busy1, total1] = machine_jiffies();
  double total = total1 - total0;
  return total > 0 ? (busy1 - busy0) / total * static_cast<double>(sysconf(_SC_NPROCESSORS_ONLN)) : 0;
}

double process_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// ---------------------------------------------------------------------------------------------
// The relay under test, as a child process.

struct RelayStats {
  double cpu_s = 0;         // user + system, all threads (from /proc/PID/task/*/schedstat: ns resolution)
  double peak_rss_mib = 0;  // VmHWM
  double rss_mib = 0;       // VmRSS
};

class RelayProcess {
 public:
  RelayProcess() = default;
  RelayProcess(const RelayProcess&) = delete;
  RelayProcess& operator=(const RelayProcess&) = delete;
  ~RelayProcess() { stop(); }

  // Starts `trickle serve --port 0` (with TLS when given a certificate and key) and reads the port
  // from its first stdout line.
  std::string start(const std::string& exe, const std::string& log_level, const std::string& tls_cert = {},
                    const std::string& tls_key = {}) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return fmt::format("pipe: {}", std::strerror(errno));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    std::vector<std::string> args{exe,         "--log-level", log_level, "serve",       "--host",
                                  "127.0.0.1", "--port",      "0",       "--autocreate"};
    if (!tls_cert.empty()) args.insert(args.end(), {"--tls-cert", tls_cert, "--tls-key", tls_key});
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    int rc = posix_spawn(&pid_, exe.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    out_fd_ = fds[0];
    if (rc != 0) {
      pid_ = -1;
      return fmt::format("cannot start {}: {}", exe, std::strerror(rc));
    }
    std::string line;
    auto deadline = Clock::now() + 10s;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd p{out_fd_, POLLIN, 0};
      if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0) return "the relay did not announce its port in 10 s";
      char c;
      if (read(out_fd_, &c, 1) != 1) return "the relay exited before announcing its port";
      if (c == '\n') break;
      line.push_back(c);
    }
    // "trickle relay listening on http(s)://127.0.0.1:PORT/"
    auto scheme = line.find("://");
    auto colon = scheme == std::string::npos ? std::string::npos : line.find(':', scheme + 3);
    if (colon == std::string::npos) return "unexpected first line from the relay: " + line;
    port_ = static_cast<std::uint16_t>(std::atoi(line.c_str() + colon + 1));
    if (port_ == 0) return "no port in the relay's first line: " + line;
    return {};
  }

  // Uses a relay someone else started (to profile it, say); `pid` 0: no RSS/CPU figures.
  void attach(std::uint16_t port, pid_t pid) {
    port_ = port;
    pid_ = pid;
    owned_ = false;
  }

  RelayStats stats() const {
    RelayStats s;
    if (pid_ <= 0) return s;
    std::ifstream status(fmt::format("/proc/{}/status", pid_));
    std::string key;
    while (status >> key) {
      if (key == "VmHWM:" || key == "VmRSS:") {
        double kb = 0;
        status >> kb;
        (key == "VmHWM:" ? s.peak_rss_mib : s.rss_mib) = kb / 1024.0;
      }
      status.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
    }
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid_), ec)) {
      std::ifstream schedstat(task.path() / "schedstat");
      double ns = 0;
      if (schedstat >> ns) s.cpu_s += ns * 1e-9;
    }
    return s;
  }

  void stop() {
    if (pid_ > 0 && owned_) {
      kill(pid_, SIGTERM);
      int status = 0;
      auto deadline = Clock::now() + 3s;
      while (waitpid(pid_, &status, WNOHANG) == 0) {
        if (Clock::now() > deadline) {
          kill(pid_, SIGKILL);
          waitpid(pid_, &status, 0);
          break;
        }
        usleep(2000);
      }
      pid_ = -1;
    }
    if (out_fd_ >= 0) close(out_fd_);
    out_fd_ = -1;
  }

  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  bool owned_ = true;
  int out_fd_ = -1;
  std::uint16_t port_ = 0;
};

// ---------------------------------------------------------------------------------------------
// One run: one segment, N subscribers.

struct Plan {
  std::string scheme = "http";
  std::size_t write_size = 0;
  int subscribers = 0;
  std::vector<std::uint8_t> payload;
  std::vector<std::size_t> ends;  // cumulative end offset of each write
};

struct Subscriber {
  std::unique_ptr<net::HttpClientConnection> connection;
  std::vector<Clock::time_point> received;  // per write: when its last byte arrived here
  std::size_t next = 0;                     // first write not yet complete here
  std::uint64_t bytes = 0;
  bool corrupt = false;
  std::string error;
};

struct Tracker {
  explicit Tracker(const net::Executor& ex, int n) : remaining(n), signal(ex) {}
  int remaining;
  net::AsyncSignal signal;
};

struct RunResult {
  std::string error;                          // empty: the run is good
  double p50 = 0, p95 = 0, p99 = 0, max = 0;  // ms
  double throughput_mibps = 0;                // delivered, all subscribers together
  double relay_peak_rss_mib = 0;
  double relay_idle_rss_mib = 0;
  double relay_cpu_s = 0;
  double relay_cpu_s_per_gib = 0;
  double client_cpu_s = 0;
  double wall_s = 0;
  double publish_s = 0;  // first write stamp → last write's co_await done
  std::uint64_t delivered = 0;
  std::size_t negative = 0;             // deliveries seen before the publisher's write returned (after-stamp)
  double background = 0;                // cores other processes used just before the run
  double other_p50 = 0, other_p99 = 0;  // the same latencies from the other publisher stamp
};

awaitable<void> read_segment(Subscriber* s, const Plan* plan, const Config* cfg, Tracker* tracker) {
  auto head = co_await s->connection->read_response_head(30s);
  if (!head) {
    s->error = "GET: " + head.error().message;
  } else if (head->status != 200) {
    s->error = fmt::format("GET answered {}", head->status);
  } else {
    for (;;) {
      auto piece = co_await s->connection->read_body(30s);
      if (!piece) {
        s->error = "reading the segment: " + piece.error().message;
        break;
      }
      if (!*piece) break;
      auto now = Clock::now();
      const auto& bytes = **piece;
      if (cfg->verify && (s->bytes + bytes.size() > plan->payload.size() ||
                          std::memcmp(bytes.data(), plan->payload.data() + s->bytes, bytes.size()) != 0))
        s->corrupt = true;
      s->bytes += bytes.size();
      while (s->next < plan->ends.size() && plan->ends[s->next] <= s->bytes) s->received[s->next++] = now;
    }
  }
  s->connection->close();
  --tracker->remaining;
  tracker->signal.notify_all();
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  // Nearest rank.
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

awaitable<RunResult> run_once(const Plan& plan, const Config& cfg, RelayProcess& relay, std::string channel) {
  RunResult result;
  auto ex = co_await asio::this_coro::executor;
  std::string authority = fmt::format("127.0.0.1:{}", relay.port());
  auto base = net::Url::parse(fmt::format("{}://{}/{}", plan.scheme, authority, channel));
  if (!base) {
    result.error = base.error();
    co_return result;
  }
  std::string segment_target = "/" + channel + "/0";

  // The channel, created up front (a GET of an unknown channel is 404).
  net::HttpHeaders create_headers;
  create_headers.add("Expect-Content", "application/octet-stream");
  auto created = co_await net::http_request(ex, *base, "POST", std::move(create_headers));
  if (!created || created->head.status != 200) {
    result.error = created ? fmt::format("POST {} answered {}{}", base->target, created->head.status,
                                         created->head.status == 404 ? " (run the relay with --autocreate)" : "")
                           : "creating the channel: " + created.error().message;
    co_return result;
  }

  // Every subscriber connected and waiting on segment 0 before the first byte is written.
  std::vector<Subscriber> subscribers(static_cast<std::size_t>(plan.subscribers));
  for (auto& s : subscribers) {
    auto connection = co_await net::HttpClientConnection::connect(ex, *base, 10s);
    if (!connection) {
      result.error = "subscriber connect: " + connection.error().message;
      co_return result;
    }
    s.connection = std::move(*connection);
    s.received.assign(plan.ends.size(), Clock::time_point{});
    net::HttpHeaders headers;
    headers.add("Connection", "close");
    auto sent = co_await s.connection->send_head("GET", segment_target, std::move(headers));
    if (!sent) {
      result.error = "subscriber GET: " + sent.error().message;
      co_return result;
    }
  }
  auto publisher_connection = co_await net::HttpClientConnection::connect(ex, *base, 10s);
  if (!publisher_connection) {
    result.error = "publisher connect: " + publisher_connection.error().message;
    co_return result;
  }
  auto& publisher = **publisher_connection;
  {
    net::HttpHeaders headers;
    headers.add("Connection", "close");
    headers.add("Content-Type", "application/octet-stream");
    auto sent = co_await publisher.send_head("POST", segment_target, std::move(headers), net::BodyMode::chunked);
    if (!sent) {
      result.error = "publisher POST: " + sent.error().message;
      co_return result;
    }
  }
  // Let the relay take in every GET (it answers them only once the first byte exists), then make
  // one round trip so it has certainly drained its accept queue and the requests before it.
  co_await net::sleep_for(std::chrono::milliseconds(cfg.settle_ms));
  {
    auto next_url = net::Url::parse(fmt::format("{}://{}/{}/next", plan.scheme, authority, channel));
    net::HttpHeaders headers;
    auto next = co_await net::http_request(ex, *next_url, "GET", std::move(headers));
    if (!next || next->head.status != 200) {
      result.error = "GET next failed";
      co_return result;
    }
    // A channel that already holds segment 0 (a name reused on a relay that outlived an earlier
    // run) would hand the subscribers old bytes before any write: every latency would read 0.
    if (next->body != "0") {
      result.error = fmt::format("channel {} is not fresh (next seq {})", channel, next->body);
      co_return result;
    }
  }

  Tracker tracker(ex, plan.subscribers);
  for (auto& s : subscribers) {
    net::spawn(ex, read_segment(&s, &plan, &cfg, &tracker), "a bench subscriber",
               [&s, &tracker](std::exception_ptr error) {
                 s.error = trickle::util::exception_message(error);
                 --tracker.remaining;
                 tracker.signal.notify_all();
               });
  }

  auto relay_before = relay.stats();
  result.relay_idle_rss_mib = relay_before.rss_mib;
  double client_cpu_before = process_cpu_s();

  // The publisher: every write as soon as the previous one completed (or paced with --rate-mibps).
  std::vector<Clock::time_point> before(plan.ends.size()), after(plan.ends.size());
  std::size_t offset = 0;
  asio::steady_timer pace(ex);
  Clock::time_point start{};
  for (std::size_t w = 0; w < plan.ends.size(); ++w) {
    if (cfg.rate_mibps > 0 && w > 0) {
      auto due = start + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double>(static_cast<double>(offset) / (cfg.rate_mibps * mib)));
      if (due > Clock::now()) {
        pace.expires_at(due);
        auto [ec] = co_await pace.async_wait(net::use_nothrow);
        (void)ec;
      }
    }
    std::span<const std::uint8_t> bytes(plan.payload.data() + offset, plan.ends[w] - offset);
    before[w] = Clock::now();
    if (w == 0) start = before[0];
    auto sent = co_await publisher.send_body(bytes);
    after[w] = Clock::now();
    if (!sent) {
      result.error = "publisher write: " + sent.error().message;
      break;
    }
    offset = plan.ends[w];
  }
  result.publish_s = to_s(after.back() - start);
  if (result.error.empty()) {
    auto ended = co_await publisher.finish_body();
    if (!ended) result.error = "publisher end: " + ended.error().message;
  }
  if (result.error.empty()) {
    auto answer = co_await publisher.read_response_head(30s);
    if (!answer || answer->status != 200)
      result.error =
          answer ? fmt::format("POST answered {}", answer->status) : "POST answer: " + answer.error().message;
  }
  publisher.close();

  auto deadline = Clock::now() + 120s;
  while (tracker.remaining > 0 && Clock::now() < deadline) co_await tracker.signal.wait_for(deadline - Clock::now());
  auto relay_after = relay.stats();
  result.client_cpu_s = process_cpu_s() - client_cpu_before;
  if (tracker.remaining > 0) {
    for (auto& s : subscribers) s.connection->close();
    while (tracker.remaining > 0) co_await tracker.signal.wait_for(1s);
    if (result.error.empty()) result.error = "subscribers did not finish in 120 s";
  }
  // Done with the channel; on a relay given with --relay-port it would otherwise stay until swept.
  co_await net::http_request(ex, *base, "DELETE");

  // Results, from both publisher stamps: the chosen one fills the table, the other the diagnostics.
  const bool after_primary = cfg.stamp == "after";
  std::vector<double> primary, secondary;
  primary.reserve(plan.ends.size() * subscribers.size());
  secondary.reserve(plan.ends.size() * subscribers.size());
  std::size_t negative = 0;
  auto latency_ms = [&](Clock::time_point received, Clock::time_point stamped, bool count) {
    auto latency = received - stamped;
    if (latency < Clock::duration::zero()) {
      negative += count;
      latency = Clock::duration::zero();
    }
    return to_ms(latency);
  };
  Clock::time_point last{};
  for (auto& s : subscribers) {
    if (result.error.empty() && !s.error.empty()) result.error = s.error;
    if (result.error.empty() && s.bytes != plan.payload.size())
      result.error = fmt::format("a subscriber got {} of {} bytes", s.bytes, plan.payload.size());
    if (result.error.empty() && s.corrupt) result.error = "a subscriber got different bytes than were sent";
    result.delivered += s.bytes;
    for (std::size_t w = 0; w < s.next; ++w) {
      primary.push_back(latency_ms(s.received[w], after_primary ? after[w] : before[w], after_primary));
      secondary.push_back(latency_ms(s.received[w], after_primary ? before[w] : after[w], !after_primary));
      last = std::max(last, s.received[w]);
    }
  }
  result.negative = negative;
  std::sort(primary.begin(), primary.end());
  std::sort(secondary.begin(), secondary.end());
  result.p50 = percentile(primary, 50);
  result.p95 = percentile(primary, 95);
  result.p99 = percentile(primary, 99);
  result.max = primary.empty() ? 0 : primary.back();
  result.other_p50 = percentile(secondary, 50);
  result.other_p99 = percentile(secondary, 99);
  result.wall_s = to_s(last - start);
  result.throughput_mibps = result.wall_s > 0 ? static_cast<double>(result.delivered) / mib / result.wall_s : 0;
  result.relay_peak_rss_mib = relay_after.peak_rss_mib;
  result.relay_cpu_s = relay_after.cpu_s - relay_before.cpu_s;
  result.relay_cpu_s_per_gib =
      result.delivered ? result.relay_cpu_s / (static_cast<double>(result.delivered) / gib) : 0;
  co_return result;
}

// One run in its own io_context, against a fresh relay.
RunResult run_fresh(const Plan& plan, const Config& cfg, const std::string& channel) {
  // This machine is shared: wait (bounded) for a quiet moment, and record how busy it was.
  double background = background_cores(200ms);
  for (auto until =
           Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(cfg.quiet_wait_s));
       background > cfg.quiet_cores && Clock::now() < until;)
    background = background_cores(500ms);
  RelayProcess relay;
  RunResult result;
  if (cfg.relay_port) {
    relay.attach(static_cast<std::uint16_t>(cfg.relay_port), cfg.relay_pid);
  } else if (auto error = plan.scheme == "https"
                              ? relay.start(cfg.trickle, cfg.relay_log_level, cfg.tls_cert, cfg.tls_key)
                              : relay.start(cfg.trickle, cfg.relay_log_level);
             !error.empty()) {
    result.error = error;
    return result;
  }
  {
    asio::io_context io(1);
    asio::co_spawn(io, run_once(plan, cfg, relay, channel), [&](std::exception_ptr e, RunResult r) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          result.error = ex.what();
        }
      } else {
        result = std::move(r);
      }
      io.stop();
    });
    io.run();
  }
  relay.stop();
  result.background = background;
  return result;
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  auto n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::string find_trickle(const std::string& given) {
  if (!given.empty()) return given;
  std::error_code ec;
  if (std::string compiled = TRICKLE_EXE; !compiled.empty() && std::filesystem::exists(compiled, ec)) return compiled;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (self.parent_path() / ".." / "src" / "trickle").lexically_normal().string();
}

std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  CLI::App app{"Fan-out latency of the trickle relay: one publisher, one segment, N subscribers, over loopback HTTP"};
  app.add_option("--runs", cfg.runs, "Runs per configuration (medians are reported)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--subscribers", cfg.subscribers, "Subscriber counts")->delimiter(',')->check(CLI::PositiveNumber);
  app.add_option("--sizes", cfg.sizes, "Write sizes in bytes")->delimiter(',')->check(CLI::PositiveNumber);
  app.add_option("--bytes", cfg.bytes, "Bytes written into the segment")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--trickle", cfg.trickle, "The trickle executable (default: the one built with this bench)");
  app.add_option("--stamp", cfg.stamp,
                 "Publisher time stamp: just 'before' the write is handed to the socket, or 'after' it completed")
      ->check(CLI::IsMember({"before", "after"}))
      ->capture_default_str();
  app.add_option("--rate-mibps", cfg.rate_mibps, "Pace the publisher at this many MiB/s (0: as fast as possible)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--settle-ms", cfg.settle_ms, "Pause between connecting the subscribers and the first write")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--quiet-wait", cfg.quiet_wait_s, "Seconds to wait before each run for other processes to go quiet")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--quiet-cores", cfg.quiet_cores,
                 "Other processes' load (in cores) under which the machine counts as quiet")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_flag("--verify", cfg.verify, "Check every received byte against the payload (costs client CPU)");
  app.add_flag("--per-run", cfg.per_run, "Print every run, not just the medians");
  app.add_option("--relay-log-level", cfg.relay_log_level, "The relay's --log-level")->capture_default_str();
  app.add_option("--relay-port", cfg.relay_port,
                 "Use the relay already listening on 127.0.0.1:PORT (e.g. under a profiler; started with --autocreate)")
      ->check(CLI::Range(1, 65535));
  app.add_option("--relay-pid", cfg.relay_pid, "With --relay-port: the relay's process id, for its RSS and CPU");
  app.add_flag("--tls", cfg.tls, "Run every row over http:// and over https:// and compare their CPU per GiB");
  CLI11_PARSE(app, argc, argv);
  if (cfg.tls) {
    if (cfg.relay_port) {
      std::fprintf(stderr, "fanout: --tls starts its own relays; it cannot be used with --relay-port\n");
      return 2;
    }
    cfg.schemes = {"http", "https"};
    if (auto error = make_certificate(cfg.tls_cert, cfg.tls_key); !error.empty()) {
      std::fprintf(stderr, "fanout: %s\n", error.c_str());
      return 2;
    }
  }
  spdlog::set_level(spdlog::level::warn);
  std::signal(SIGPIPE, SIG_IGN);

  cfg.trickle = find_trickle(cfg.trickle);
  if (!cfg.relay_port && access(cfg.trickle.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "fanout: no trickle executable at %s (use --trickle)\n", cfg.trickle.c_str());
    return 2;
  }

  std::vector<std::uint8_t> payload(cfg.bytes);
  std::uint32_t x = 0x9e3779b9u;
  for (auto& b : payload) {  // xorshift: incompressible, and --verify can tell offsets apart
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<std::uint8_t>(x);
  }

  std::printf("# trickle relay fan-out latency\n\n");
  if (cfg.relay_port)
    std::printf(
        "- relay: the one already listening on 127.0.0.1:%d (pid %d; shared by every run, so peak RSS "
        "is its peak so far)\n",
        cfg.relay_port, cfg.relay_pid);
  else
    std::printf("- relay: `%s serve --host 127.0.0.1 --port 0 --autocreate` (a fresh process per run; built %s)\n",
                cfg.trickle.c_str(), *TRICKLE_BUILD_TYPE ? TRICKLE_BUILD_TYPE : "with an unknown build type");
  std::printf("- host: %s, %ld CPUs online\n", cpu_model().c_str(), sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("- load: %zu bytes into one segment, publisher %s; %d run(s) per row, medians shown\n", cfg.bytes,
              cfg.rate_mibps > 0 ? fmt::format("paced at {} MiB/s", cfg.rate_mibps).c_str() : "as fast as possible",
              cfg.runs);
  std::printf(
      "- latency: publisher stamp taken %s, to each subscriber's receipt of the write's last byte\n",
      cfg.stamp == "after" ? "AFTER the write's co_await completed" : "just BEFORE the write is handed to the socket");
  std::printf("- throughput: bytes delivered to all subscribers / (first write → last byte received)\n");
  std::printf("- relay CPU: user+system from /proc/PID/task/*/schedstat over the transfer; peak RSS: VmHWM\n\n");
  std::fflush(stdout);

  struct Row {
    std::string scheme;
    std::size_t size;
    int subscribers;
    std::vector<RunResult> runs;
    std::string error;
  };
  std::vector<Row> rows;
  int run_id = 0;
  for (const auto& scheme : cfg.schemes) {
    for (auto size : cfg.sizes) {
      for (int n : cfg.subscribers) {
        Plan plan;
        plan.scheme = scheme;
        plan.write_size = size;
        plan.subscribers = n;
        plan.payload = payload;
        for (std::size_t end = 0; end < cfg.bytes;) {
          end = std::min(cfg.bytes, end + size);
          plan.ends.push_back(end);
        }
        Row row{scheme, size, n, {}, {}};
        for (int r = 0; r < cfg.runs; ++r) {
          // Unique across invocations too: a relay given with --relay-port outlives this process.
          auto channel = fmt::format("fanout-{}-{}-{}-{}-{}", getpid(), size, n, r, ++run_id);
          auto result = run_fresh(plan, cfg, channel);
          if (!result.error.empty()) {
            std::fprintf(stderr, "%s %zu B x %d, run %d: FAILED: %s\n", scheme.c_str(), size, n, r + 1,
                         result.error.c_str());
            row.error = result.error;
            continue;
          }
          std::fprintf(
              stderr,
              "%5s %6zu B x %2d subs, run %d/%d: p50 %.3f p95 %.3f p99 %.3f max %.3f ms, %.0f MiB/s, "
              "relay %.1f MiB peak, %.3f s CPU (%.2f s/GiB), client %.3f s CPU, wall %.3f s, publish %.3f s, "
              "background %.2f cores%s\n",
              scheme.c_str(), size, n, r + 1, cfg.runs, result.p50, result.p95, result.p99, result.max,
              result.throughput_mibps, result.relay_peak_rss_mib, result.relay_cpu_s, result.relay_cpu_s_per_gib,
              result.client_cpu_s, result.wall_s, result.publish_s, result.background,
              result.negative ? fmt::format(", {} deliveries before the write returned", result.negative).c_str() : "");
          row.runs.push_back(std::move(result));
        }
        rows.push_back(std::move(row));
      }
    }
  }

  auto med = [](const Row& row, double RunResult::*field) {
    std::vector<double> values;
    for (const auto& r : row.runs) values.push_back(r.*field);
    return median(values);
  };

  // With --tls every table starts with the scheme.
  const std::string scheme_head = cfg.tls ? "| scheme " : "", scheme_rule = cfg.tls ? "|---" : "";
  auto scheme_cell = [&](const Row& row) { return cfg.tls ? "| " + row.scheme + " " : std::string(); };
  std::printf(
      "%s| write size (B) | subscribers | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) | throughput (MiB/s delivered) "
      "| relay peak RSS (MiB) | relay CPU (s/GiB delivered) |\n",
      scheme_head.c_str());
  std::printf("%s|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n", scheme_rule.c_str());
  for (const auto& row : rows) {
    if (row.runs.empty()) {
      std::printf("%s| %zu | %d | failed: %s |||||||\n", scheme_cell(row).c_str(), row.size, row.subscribers,
                  row.error.c_str());
      continue;
    }
    std::printf("%s| %zu | %d | %.3f | %.3f | %.3f | %.3f | %.0f | %.1f | %.2f |\n", scheme_cell(row).c_str(), row.size,
                row.subscribers, med(row, &RunResult::p50), med(row, &RunResult::p95), med(row, &RunResult::p99),
                med(row, &RunResult::max), med(row, &RunResult::throughput_mibps),
                med(row, &RunResult::relay_peak_rss_mib), med(row, &RunResult::relay_cpu_s_per_gib));
  }

  // Where the time went: the relay and the clients (one thread) share this machine's cores.
  std::printf(
      "\nDiagnostics (medians): transfer wall time (first write to last byte received), the publisher's "
      "own time (first write to last write done), CPU of relay and of client (this process: publisher + all "
      "subscribers on one thread), p99 range across runs, latency from the other publisher stamp, and the "
      "load other processes put on the machine just before the runs.\n\n");
  std::printf(
      "%s| write size (B) | subscribers | runs ok | wall (ms) | publish (ms) | relay CPU (%% of wall) "
      "| client CPU (%% of wall) | relay idle RSS (MiB) | p99 min–max (ms) | p50 / p99 from %s stamp (ms) "
      "| background load (cores, max) |\n",
      scheme_head.c_str(), cfg.stamp == "after" ? "before" : "after");
  std::printf("%s|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n", scheme_rule.c_str());
  for (const auto& row : rows) {
    if (row.runs.empty()) continue;
    std::vector<double> relay_util, client_util, p99s;
    double background = 0;
    for (const auto& r : row.runs) {
      relay_util.push_back(r.wall_s > 0 ? 100 * r.relay_cpu_s / r.wall_s : 0);
      client_util.push_back(r.wall_s > 0 ? 100 * r.client_cpu_s / r.wall_s : 0);
      p99s.push_back(r.p99);
      background = std::max(background, r.background);
    }
    std::sort(p99s.begin(), p99s.end());
    std::printf("%s| %zu | %d | %zu/%d | %.1f | %.1f | %.0f | %.0f | %.1f | %.3f–%.3f | %.3f / %.3f | %.2f |\n",
                scheme_cell(row).c_str(), row.size, row.subscribers, row.runs.size(), cfg.runs,
                1000 * med(row, &RunResult::wall_s), 1000 * med(row, &RunResult::publish_s), median(relay_util),
                median(client_util), med(row, &RunResult::relay_idle_rss_mib), p99s.front(), p99s.back(),
                med(row, &RunResult::other_p50), med(row, &RunResult::other_p99), background);
  }
  if (cfg.per_run) {
    std::printf(
        "\nEvery run:\n\n%s| write size (B) | subscribers | run | p50 | p95 | p99 | max | MiB/s | peak RSS | CPU s/GiB "
        "|\n",
        scheme_head.c_str());
    std::printf("%s|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n", scheme_rule.c_str());
    for (const auto& row : rows) {
      int i = 0;
      for (const auto& r : row.runs)
        std::printf("%s| %zu | %d | %d | %.3f | %.3f | %.3f | %.3f | %.0f | %.1f | %.2f |\n", scheme_cell(row).c_str(),
                    row.size, row.subscribers, ++i, r.p50, r.p95, r.p99, r.max, r.throughput_mibps,
                    r.relay_peak_rss_mib, r.relay_cpu_s_per_gib);
    }
  }
  if (cfg.tls) {
    // What TLS costs: each https row beside the http row of the same shape, from this same run.
    std::printf(
        "\nTLS beside plain HTTP (medians; CPU per GiB delivered to all subscribers; client: the publisher "
        "and every subscriber, one thread):\n\n");
    std::printf(
        "| write size (B) | subscribers | relay CPU http / https (s/GiB) | relay ×TLS | client CPU http / https "
        "(s/GiB) | client ×TLS | p50 http / https (ms) | throughput http / https (MiB/s) |\n");
    std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    auto client_per_gib = [](const RunResult& r) {
      return r.delivered ? r.client_cpu_s / (static_cast<double>(r.delivered) / gib) : 0.0;
    };
    for (const auto& secure : rows) {
      if (secure.scheme != "https" || secure.runs.empty()) continue;
      auto plain = std::find_if(rows.begin(), rows.end(), [&](const Row& r) {
        return r.scheme == "http" && r.size == secure.size && r.subscribers == secure.subscribers;
      });
      if (plain == rows.end() || plain->runs.empty()) continue;
      auto client = [&](const Row& row) {
        std::vector<double> values;
        for (const auto& r : row.runs) values.push_back(client_per_gib(r));
        return median(values);
      };
      double relay_http = med(*plain, &RunResult::relay_cpu_s_per_gib),
             relay_https = med(secure, &RunResult::relay_cpu_s_per_gib);
      double client_http = client(*plain), client_https = client(secure);
      std::printf("| %zu | %d | %.2f / %.2f | %.2f | %.2f / %.2f | %.2f | %.3f / %.3f | %.0f / %.0f |\n", secure.size,
                  secure.subscribers, relay_http, relay_https, relay_http > 0 ? relay_https / relay_http : 0,
                  client_http, client_https, client_http > 0 ? client_https / client_http : 0,
                  med(*plain, &RunResult::p50), med(secure, &RunResult::p50), med(*plain, &RunResult::throughput_mibps),
                  med(secure, &RunResult::throughput_mibps));
    }
  }
  bool all_ok = std::all_of(rows.begin(), rows.end(), [](const Row& r) { return r.error.empty(); });
  return all_ok ? 0 : 1;
}
