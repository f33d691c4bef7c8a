// mini8s_api_bench: the API server's figures against their goals, and etcd's own put rate on
// loopback as the anchor, all in one run. Prints figures; never fails on timing (exit 1 only when
// a server cannot be started or a phase cannot run at all).
//
//   mini8s_api_bench PATH/TO/mini8s [PATH/TO/etcd] [seconds-per-phase]
//
// Phases (each bounded by seconds-per-phase, default 5):
//   - start to /readyz: one first start (certificates generated) and the median of 5 restarts on
//     the same data dir;
//   - idle RSS: VmRSS of the server after start and 2 s of settling;
//   - creates/s: 16 threads, each with its own keep-alive HTTPS connection and the admin client
//     certificate, POST distinct 1 KiB ConfigMaps;
//   - GETs/s: the same 16 clients GET the ConfigMaps they created;
//   - watch delivery: one watcher on ?watch=1; 300 creates one after another, latency from just
//     before the POST to the event line being read, p50/p99;
//   - anchor: etcd (no TLS, loopback, fresh --data-dir) through its JSON gateway POST /v3/kv/put,
//     distinct keys, the same 1 KiB value and 16 concurrent keep-alive clients.
// Build it optimized (-DCMAKE_BUILD_TYPE=RelWithDebInfo or Release) for meaningful numbers.

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "mini8s/common/json.h"
#include "mini8s/common/yaml.h"
#include "mini8s/http/client.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using mini8s::http::BlockingClient;
using mini8s::http::ClientOptions;
using mini8s::http::ClientRequest;

constexpr int kClients = 16;
constexpr std::size_t kValueBytes = 1024;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Millis(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "api_bench: %s\n", what.c_str());
  std::exit(1);
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A child process with stdout and stderr in `log`.
struct Child {
  pid_t pid = -1;
  Child() = default;
  Child(Child&& o) noexcept : pid(std::exchange(o.pid, -1)) {}
  Child& operator=(Child&& o) noexcept {
    if (this != &o) {
      Stop();
      pid = std::exchange(o.pid, -1);
    }
    return *this;
  }
  void Stop() {
    if (pid <= 0) return;
    ::kill(pid, SIGTERM);
    int st = 0;
    for (int i = 0; i < 500; ++i) {
      if (::waitpid(pid, &st, WNOHANG) == pid) {
        pid = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &st, 0);
    pid = -1;
  }
  ~Child() { Stop(); }
};

Child Spawn(const std::vector<std::string>& argv, const fs::path& log) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) Die("cannot open " + log.string());
  pid_t pid = ::fork();
  if (pid < 0) Die("fork failed");
  if (pid == 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fd);
  Child c;
  c.pid = pid;
  return c;
}

int FreePort() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    Die("cannot find a free port");
  }
  int port = ntohs(a.sin_port);
  ::close(s);
  return port;
}

long RssKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

std::string Base64(std::string_view in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v =
        (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += t[v & 63];
  }
  if (i + 1 == in.size()) {
    unsigned v = (unsigned char)in[i] << 16;
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::unique_ptr<BlockingClient> MakeClient(const ClientOptions& o) {
  auto c = BlockingClient::Create(o);
  if (!c.ok()) Die("client: " + c.error().ToString());
  return std::move(c).value();
}

// ---- mini8s server ------------------------------------------------------------------------------

struct Server {
  Child child;
  int port = 0;
  double ready_ms = 0;
};

// Starts `mini8s server` on a free port and waits for /readyz to answer "ok".
Server StartServer(const std::string& binary, const fs::path& work) {
  fs::path log = work / "server.log";
  auto start = Clock::now();
  Server s;
  s.child =
      Spawn({binary, "server", "--data-dir", (work / "data").string(), "--bind-address",
             "127.0.0.1", "--https-listen-port", "0", "--write-kubeconfig",
             (work / "kubeconfig").string(), "--write-kubeconfig-mode", "0600", "--disable-agent"},
            log);
  ClientOptions o;
  o.insecure_skip_verify = true;
  o.connect_timeout = std::chrono::milliseconds(500);
  o.request_timeout = std::chrono::milliseconds(1000);
  auto probe = MakeClient(o);
  const std::string marker = "ready: https://127.0.0.1:";
  while (Seconds(Clock::now() - start) < 20) {
    if (s.port == 0) {
      std::string text = ReadFile(log);
      auto p = text.find(marker);
      if (p != std::string::npos) s.port = std::atoi(text.c_str() + p + marker.size());
    }
    if (s.port != 0) {
      auto r = probe->Get("https://127.0.0.1:" + std::to_string(s.port) + "/readyz");
      if (r.ok() && r->status == 200 && r->body.rfind("ok", 0) == 0) {
        s.ready_ms = Millis(Clock::now() - start);
        return s;
      }
    }
    int st = 0;
    if (::waitpid(s.child.pid, &st, WNOHANG) == s.child.pid) {
      s.child.pid = -1;
      Die("server exited during start:\n" + ReadFile(log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  Die("server not ready within 20 s:\n" + ReadFile(log));
}

std::string DecodeBase64(std::string_view in) {
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  for (char ch : in) {
    int v;
    if (ch >= 'A' && ch <= 'Z')
      v = ch - 'A';
    else if (ch >= 'a' && ch <= 'z')
      v = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9')
      v = ch - '0' + 52;
    else if (ch == '+')
      v = 62;
    else if (ch == '/')
      v = 63;
    else
      continue;  // padding, whitespace
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

// The admin credentials from the kubeconfig the server wrote (its first cluster and user, with
// *-data fields). Read here rather than through src/client to keep the bench's dependencies small.
ClientOptions AdminOptions(const fs::path& kubeconfig) {
  auto doc = mini8s::ParseYaml(ReadFile(kubeconfig));
  if (!doc.ok()) Die("kubeconfig: " + doc.error().ToString());
  auto field = [&](std::string_view path) {
    auto v = mini8s::JsonGetString(*doc, path);
    if (!v) Die("kubeconfig: no " + std::string(path));
    return DecodeBase64(*v);
  };
  ClientOptions o;
  o.ca_pem = field("clusters[0].cluster.certificate-authority-data");
  o.client_cert_pem = field("users[0].user.client-certificate-data");
  o.client_key_pem = field("users[0].user.client-key-data");
  o.max_idle_connections_per_host = 2;
  return o;
}

std::string ConfigMapJson(const std::string& name, const std::string& labels = "") {
  return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name + '"' +
         (labels.empty() ? "" : R"(,"labels":)" + labels) + R"(},"data":{"v":")" +
         std::string(kValueBytes, 'x') + R"("}})";
}

// Runs `fn(thread, client, deadline)` on kClients threads; returns the summed count of successes
// and failures.
struct Tally {
  long ok = 0;
  long failed = 0;
  double seconds = 0;
  double rate() const { return seconds > 0 ? ok / seconds : 0; }
};

template <typename Fn>
Tally RunConcurrent(const ClientOptions& o, double seconds, Fn fn) {
  std::vector<std::unique_ptr<BlockingClient>> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(MakeClient(o));
  std::atomic<long> ok{0}, failed{0};
  std::vector<std::thread> threads;
  auto start = Clock::now();
  auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      long good = 0, bad = 0;
      for (long n = 0; Clock::now() < deadline; ++n) {
        (fn(t, n, *clients[t]) ? good : bad)++;
      }
      ok += good;
      failed += bad;
    });
  }
  for (auto& th : threads) th.join();
  return {ok.load(), failed.load(), Seconds(Clock::now() - start)};
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

struct WatchFigures {
  std::size_t sent = 0, received = 0;
  double p50 = 0, p99 = 0;
};

WatchFigures MeasureWatch(const ClientOptions& o, const std::string& base, int count) {
  const std::string ns_url = base + "/api/v1/namespaces/default/configmaps";
  auto watch_client = MakeClient(o);
  ClientRequest wr;
  wr.url = ns_url + "?watch=1&labelSelector=bench%3Dwatch";
  auto stream = watch_client->OpenStream(wr);
  if (!stream.ok() || (*stream)->status() != 200) Die("cannot open the watch");
  (*stream)->SetReadTimeout(std::chrono::seconds(5));

  std::mutex mu;
  std::map<std::string, Clock::time_point> sent_at;
  std::vector<double> latencies;
  std::atomic<bool> first_seen{false};
  std::thread reader([&] {
    while (true) {
      auto line = (*stream)->ReadLine();
      if (!line.ok() || !line->has_value()) return;
      auto now = Clock::now();
      std::string name;
      try {
        auto ev = boost::json::parse(**line).as_object();
        name = ev.at("object").at("metadata").at("name").as_string().c_str();
      } catch (const std::exception&) {
        continue;
      }
      first_seen = true;
      std::lock_guard<std::mutex> lock(mu);
      auto it = sent_at.find(name);
      if (it != sent_at.end()) {
        latencies.push_back(Millis(now - it->second));
        sent_at.erase(it);
      }
      if (latencies.size() >= static_cast<std::size_t>(count)) return;
    }
  });

  auto creator = MakeClient(o);
  // The watch is registered before its response head is sent, but wait for one event anyway so the
  // first measured create is not racing the watch setup.
  ClientRequest warm;
  warm.method = "POST";
  warm.url = ns_url;
  warm.headers.Set("Content-Type", "application/json");
  warm.body = ConfigMapJson("watch-warmup", R"({"bench":"watch"})");
  (void)creator->Send(warm);
  for (int i = 0; i < 500 && !first_seen; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));

  WatchFigures f;
  for (int i = 0; i < count; ++i) {
    std::string name = "watch-" + std::to_string(i);
    ClientRequest r = warm;
    r.body = ConfigMapJson(name, R"({"bench":"watch"})");
    {
      std::lock_guard<std::mutex> lock(mu);
      sent_at[name] = Clock::now();
    }
    auto resp = creator->Send(r);
    if (resp.ok() && resp->status == 201) ++f.sent;
  }
  // Bounded wait for the stragglers, then end the stream.
  for (int i = 0; i < 1000; ++i) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (latencies.size() >= f.sent) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  (*stream)->Close();
  reader.join();
  f.received = latencies.size();
  f.p50 = Percentile(latencies, 0.50);
  f.p99 = Percentile(latencies, 0.99);
  return f;
}

// ---- etcd ---------------------------------------------------------------------------------------

std::optional<Tally> EtcdPutRate(const std::string& etcd, const fs::path& work, double seconds) {
  int client_port = FreePort(), peer_port = FreePort();
  while (peer_port == client_port) peer_port = FreePort();
  std::string client_url = "http://127.0.0.1:" + std::to_string(client_port);
  std::string peer_url = "http://127.0.0.1:" + std::to_string(peer_port);
  fs::path log = work / "etcd.log";
  Child child = Spawn({etcd, "--name", "bench", "--data-dir", (work / "etcd").string(),
                       "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
                       "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
                       "--initial-cluster", "bench=" + peer_url, "--log-level", "error"},
                      log);
  ClientOptions o;
  o.connect_timeout = std::chrono::milliseconds(500);
  o.max_idle_connections_per_host = 2;
  {
    auto probe = MakeClient(o);
    bool healthy = false;
    for (int i = 0; i < 1000 && !healthy; ++i) {
      auto r = probe->Get(client_url + "/health");
      healthy = r.ok() && r->status == 200 && r->body.find("true") != std::string::npos;
      if (!healthy) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!healthy) {
      std::fprintf(stderr, "api_bench: etcd not healthy:\n%s\n", ReadFile(log).c_str());
      return std::nullopt;
    }
  }
  const std::string value64 = Base64(std::string(kValueBytes, 'x'));
  Tally t = RunConcurrent(o, seconds, [&](int th, long n, BlockingClient& c) {
    ClientRequest r;
    r.method = "POST";
    r.url = client_url + "/v3/kv/put";
    r.headers.Set("Content-Type", "application/json");
    r.body = R"({"key":")" +
             Base64("/registry/configmaps/default/bench-" + std::to_string(th) + "-" +
                    std::to_string(n)) +
             R"(","value":")" + value64 + R"("})";
    auto resp = c.Send(std::move(r));
    return resp.ok() && resp->status == 200;
  });
  child.Stop();
  return t;
}

const char* Verdict(bool met) { return met ? "met" : "NOT met"; }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PATH/TO/mini8s [PATH/TO/etcd] [seconds-per-phase]\n", argv[0]);
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  const std::string binary = argv[1];
  std::string etcd = argc > 2 ? argv[2] : "";
  if (etcd.empty()) {
    for (const char* p : {"/usr/bin/etcd", "/usr/local/bin/etcd"}) {
      if (::access(p, X_OK) == 0) {
        etcd = p;
        break;
      }
    }
  }
  const double seconds = argc > 3 ? std::atof(argv[3]) : 5.0;

  char tmpl[] = "/tmp/mini8s-api-bench.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) Die("mkdtemp failed");
  const fs::path work = tmpl;

#ifdef NDEBUG
  std::printf("api_bench: optimized bench build; %d clients, %zu-byte values, %.1f s phases\n",
              kClients, kValueBytes, seconds);
#else
  std::printf(
      "api_bench: WARNING: unoptimized build (configure with "
      "-DCMAKE_BUILD_TYPE=RelWithDebInfo for real figures)\n");
#endif

  // Start to /readyz: the first start generates certificates; restarts are the common case.
  double first_ms = 0;
  std::vector<double> restarts;
  {
    Server s = StartServer(binary, work);
    first_ms = s.ready_ms;
    s.child.Stop();
    for (int i = 0; i < 5; ++i) {
      Server r = StartServer(binary, work);
      restarts.push_back(r.ready_ms);
      r.child.Stop();
    }
  }
  const double ready_median = Percentile(restarts, 0.5);

  Server server = StartServer(binary, work);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const long idle_rss = RssKiB(server.child.pid);
  std::printf("server pid %d, port %d\n", server.child.pid, server.port);
  std::fflush(stdout);

  const ClientOptions admin = AdminOptions(work / "kubeconfig");
  const std::string base = "https://127.0.0.1:" + std::to_string(server.port);
  const std::string cm_url = base + "/api/v1/namespaces/default/configmaps";

  std::vector<std::vector<std::string>> created(kClients);
  Tally creates = RunConcurrent(admin, seconds, [&](int th, long n, BlockingClient& c) {
    std::string name = "bench-" + std::to_string(th) + "-" + std::to_string(n);
    ClientRequest r;
    r.method = "POST";
    r.url = cm_url;
    r.headers.Set("Content-Type", "application/json");
    r.body = ConfigMapJson(name);
    auto resp = c.Send(std::move(r));
    bool ok = resp.ok() && resp->status == 201;
    if (ok) created[th].push_back(std::move(name));
    return ok;
  });

  Tally gets = RunConcurrent(admin, seconds, [&](int th, long n, BlockingClient& c) {
    const auto& names = created[th].empty() ? created[0] : created[th];
    if (names.empty()) return false;
    auto resp = c.Get(cm_url + "/" + names[n % names.size()]);
    return resp.ok() && resp->status == 200;
  });

  WatchFigures watch = MeasureWatch(admin, base, 300);
  const long busy_rss = RssKiB(server.child.pid);
  server.child.Stop();

  std::optional<Tally> etcd_puts;
  if (!etcd.empty()) etcd_puts = EtcdPutRate(etcd, work, seconds);

  std::printf("\n%-44s %12s   %s\n", "figure", "value", "goal");
  std::printf("%-44s %12.0f   >= etcd put rate (%s)\n",
              "creates/s (POST 1 KiB ConfigMap, 16 clients)", creates.rate(),
              etcd_puts ? Verdict(creates.rate() >= etcd_puts->rate()) : "no etcd to compare");
  std::printf("%-44s %12ld\n", "  create failures", creates.failed);
  std::printf("%-44s %12.0f   >= 30000 (%s)\n", "GETs/s (16 clients)", gets.rate(),
              Verdict(gets.rate() >= 30000));
  std::printf("%-44s %12ld\n", "  GET failures", gets.failed);
  std::printf("%-44s %12.2f   (%zu/%zu events)\n", "watch delivery p50 (ms)", watch.p50,
              watch.received, watch.sent);
  std::printf("%-44s %12.2f\n", "watch delivery p99 (ms)", watch.p99);
  std::printf("%-44s %12.1f   <= 30 MiB (%s)\n", "idle RSS (MiB)", idle_rss / 1024.0,
              Verdict(idle_rss >= 0 && idle_rss <= 30 * 1024));
  std::printf("%-44s %12.1f   (after the phases above)\n", "RSS after load (MiB)",
              busy_rss / 1024.0);
  std::printf("%-44s %12.1f   <= 300 ms (%s)\n", "start to /readyz, median of 5 restarts (ms)",
              ready_median, Verdict(ready_median <= 300));
  std::printf("%-44s %12.1f   (generates certificates)\n", "start to /readyz, first start (ms)",
              first_ms);
  if (etcd_puts) {
    std::printf("%-44s %12.0f   anchor: %s, JSON gateway POST /v3/kv/put, failures %ld\n",
                "etcd puts/s (1 KiB, 16 clients)", etcd_puts->rate(), etcd.c_str(),
                etcd_puts->failed);
  } else {
    std::printf("%-44s %12s   (etcd not found or not healthy)\n", "etcd puts/s", "-");
  }
  std::error_code ec;
  fs::remove_all(work, ec);
  return 0;
}
