// Prints requests/s of a trivial handler over HTTPS keep-alive with N concurrent connections from
// the async client, and the RSS of the process with the server listening and idle.
// Usage: mini8s_http_bench [seconds=3] [connections=16]. Loopback only.
//        mini8s_http_bench serve SECONDS  (serves only, for an external load generator such as wrk)
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "mini8s/http/client.h"
#include "unit/http/test_server.h"

namespace http = mini8s::http;
namespace net = boost::asio;

namespace {

std::string RssLine() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return line;
  }
  return "VmRSS: ?";
}

net::awaitable<void> Worker(http::Client* client, std::string url,
                            std::chrono::steady_clock::time_point end, std::atomic<long>* ok,
                            std::atomic<long>* failed) {
  while (std::chrono::steady_clock::now() < end) {
    http::ClientRequest req;
    req.url = url;
    auto res = co_await client->Send(req);
    if (res.ok() && res->status == 200) {
      ++*ok;
    } else {
      ++*failed;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 2 && std::string(argv[1]) == "serve") {
    http::ServerOptions so;
    so.tls = http::testing::TestServerTls();
    http::testing::ServerThread st(so, [](http::HttpRequest, http::Responder r) {
      r.Send(http::HttpResponse::Text(200, "ok"));
    });
    std::printf("%s\n", st.url().c_str());
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    std::printf("idle server listening: %s\n", RssLine().c_str());
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::seconds(std::atoi(argv[2])));
    std::printf("at exit: %s\n", RssLine().c_str());
    return 0;
  }
  int seconds = argc > 1 ? std::atoi(argv[1]) : 3;
  int conns = argc > 2 ? std::atoi(argv[2]) : 16;
  const auto& pki = http::testing::TestPki::Get();
  http::ServerOptions so;
  so.tls = http::testing::TestServerTls();
  http::testing::ServerThread st(so, [](http::HttpRequest, http::Responder r) {
    r.Send(http::HttpResponse::Text(200, "ok"));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::printf("idle server listening: %s\n", RssLine().c_str());

  net::io_context ioc;
  http::ClientOptions co;
  co.ca_pem = pki.ca.cert_pem;
  co.max_idle_connections_per_host = static_cast<std::size_t>(conns);
  auto client = http::Client::Create(ioc.get_executor(), co);
  if (!client.ok()) return 1;
  std::atomic<long> ok{0}, failed{0};
  auto start = std::chrono::steady_clock::now();
  auto end = start + std::chrono::seconds(seconds);
  for (int i = 0; i < conns; ++i) {
    net::co_spawn(ioc, Worker(client->get(), st.url() + "/", end, &ok, &failed), net::detached);
  }
  ioc.run();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%d connections, %.1f s: %ld ok, %ld failed, %.0f requests/s\n", conns, elapsed,
              ok.load(), failed.load(), static_cast<double>(ok.load()) / elapsed);
  std::printf("after load: %s\n", RssLine().c_str());
  return failed.load() == 0 ? 0 : 1;
}
