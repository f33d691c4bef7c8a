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
//   - creates/s: 16 keep-alive HTTPS connections with the admin client certificate POST distinct
//     1 KiB ConfigMaps;
//   - GETs/s: the same 16 connections GET the ConfigMaps they created, round-robin;
//   - watch delivery: one watcher on ?watch=1; 300 creates one after another, latency from just
//     before the POST to the event line being read, p50/p99;
//   - anchor: etcd (no TLS, loopback, fresh --data-dir) through its JSON gateway POST /v3/kv/put,
//     distinct keys, the same 1 KiB value and 16 concurrent keep-alive connections.
// The creates, GETs and etcd puts run on a lean load generator (see "load generator" below): 16
// closed-loop connections, one request outstanding each, on 2 epoll threads, raw HTTP/1.1 over
// OpenSSL, so that on a small machine the client does not eat the CPU the server is measured on.
// For those phases it also prints the server's and its own CPU time per request (from
// /proc/<pid>/stat and getrusage), which stay meaningful when other work shares the machine, and
// the load average at the start.
// Build it optimized (-DCMAKE_BUILD_TYPE=RelWithDebInfo or Release) for meaningful numbers.

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/json.hpp>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "mini8s/common/json.h"
#include "mini8s/common/unique_fd.h"
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

// ---- load generator -----------------------------------------------------------------------------
//
// Closed-loop clients: kClients keep-alive connections, each with exactly one request outstanding
// (no pipelining), driven by kLoadThreads threads with an epoll each. The first version used one
// blocking Asio/Beast client per thread (16 threads, an io_context per request) and spent more CPU
// than the server it measured on a 2-core machine; this one is raw HTTP/1.1 over OpenSSL or plain
// TCP, so the figures are the server's rather than the client's.

constexpr int kLoadThreads = 2;
static_assert(kClients % kLoadThreads == 0, "connections are split evenly over the threads");

// Where the load goes: 127.0.0.1:port, TLS when `tls` is set (mini8s), plain TCP otherwise (etcd).
struct Target {
  int port = 0;
  SSL_CTX* tls = nullptr;
};

// What a phase sends: the raw bytes of connection `conn`'s `n`-th request, the status that counts
// as success, and what to remember about a success (may be empty).
struct Workload {
  std::function<std::string(int conn, long n)> request;
  int expected_status = 200;
  std::function<void(int conn, long n)> on_ok;
};

std::string RawRequest(std::string_view method, std::string_view target, int port,
                       std::string_view body = {}) {
  std::string r;
  r.reserve(160 + body.size());
  r.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: 127.0.0.1:");
  r.append(std::to_string(port)).append("\r\nAccept: application/json\r\n");
  if (method != "GET") {
    r.append("Content-Type: application/json\r\nContent-Length: ");
    r.append(std::to_string(body.size())).append("\r\n");
  }
  r.append("\r\n").append(body);
  return r;
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool IContains(std::string_view haystack, std::string_view needle) {
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    if (IEquals(haystack.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

// Incremental HTTP/1.1 response parser over a connection's receive buffer: status line, headers
// up to CRLFCRLF, then a Content-Length, chunked, or (without either) read-until-close body. The
// mini8s server answers these requests with Content-Length; chunked is here because etcd's Go
// gateway may use it and a response is only counted when its body is complete.
class ResponseParser {
 public:
  enum class Step { kMore, kDone, kBad };

  // Parses `buf` from where the last call stopped. On kDone, consumed() bytes of `buf` form the
  // response (anything after belongs to the next one).
  Step Parse(const std::string& buf) {
    while (true) {
      switch (part_) {
        case Part::kHead: {
          std::size_t end = buf.find("\r\n\r\n", scan_);
          if (end == std::string::npos) {
            scan_ = buf.size() < 3 ? 0 : buf.size() - 3;
            return buf.size() > kMaxHead ? Step::kBad : Step::kMore;
          }
          if (!ParseHead(std::string_view(buf).substr(0, end))) return Step::kBad;
          pos_ = end + 4;
          if (chunked_) {
            part_ = Part::kChunkSize;
          } else if (length_) {
            remaining_ = *length_;
            part_ = Part::kBody;
          } else if (status_ / 100 == 1 || status_ == 204 || status_ == 304) {
            return Step::kDone;
          } else {
            close_ = true;
            part_ = Part::kUntilClose;
          }
          break;
        }
        case Part::kBody:
          if (!Take(buf)) return Step::kMore;
          return Step::kDone;
        case Part::kChunkSize: {
          std::size_t eol = buf.find("\r\n", pos_);
          if (eol == std::string::npos) return buf.size() - pos_ > 1024 ? Step::kBad : Step::kMore;
          std::string_view line = std::string_view(buf).substr(pos_, eol - pos_);
          line = line.substr(0, line.find(';'));  // chunk extensions are ignored
          std::size_t size = 0;
          auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), size, 16);
          if (ec != std::errc() || end == line.data()) return Step::kBad;
          pos_ = eol + 2;
          remaining_ = size;
          part_ = size == 0 ? Part::kTrailer : Part::kChunkData;
          break;
        }
        case Part::kChunkData:
          if (!Take(buf)) return Step::kMore;
          part_ = Part::kChunkEnd;
          break;
        case Part::kChunkEnd:
          if (buf.size() - pos_ < 2) return Step::kMore;
          if (buf.compare(pos_, 2, "\r\n") != 0) return Step::kBad;
          pos_ += 2;
          part_ = Part::kChunkSize;
          break;
        case Part::kTrailer: {
          std::size_t eol = buf.find("\r\n", pos_);
          if (eol == std::string::npos) return Step::kMore;
          bool last = eol == pos_;
          pos_ = eol + 2;
          if (last) return Step::kDone;
          break;  // a trailer field: skipped
        }
        case Part::kUntilClose:
          pos_ = buf.size();
          return Step::kMore;  // complete only at EOF: see AtEof()
      }
    }
  }

  // The peer closed the connection: a read-until-close body is complete, anything else is not.
  bool AtEof() const { return part_ == Part::kUntilClose; }

  int status() const { return status_; }
  bool close() const { return close_; }  // the connection cannot carry another request
  std::size_t consumed() const { return pos_; }
  void Reset() { *this = ResponseParser(); }

 private:
  enum class Part { kHead, kBody, kChunkSize, kChunkData, kChunkEnd, kTrailer, kUntilClose };
  static constexpr std::size_t kMaxHead = 64 * 1024;

  // Consumes up to remaining_ body bytes; true when none remain.
  bool Take(const std::string& buf) {
    std::size_t take = std::min(remaining_, buf.size() - pos_);
    pos_ += take;
    remaining_ -= take;
    return remaining_ == 0;
  }

  bool ParseHead(std::string_view head) {
    std::size_t eol = head.find("\r\n");
    std::string_view status_line = head.substr(0, eol);
    // "HTTP/1.1 200 OK"
    if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ')
      return false;
    auto [end, ec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, status_);
    if (ec != std::errc() || end != status_line.data() + 12) return false;
    close_ = status_line[7] == '0';  // HTTP/1.0 closes unless it says keep-alive
    while (eol != std::string_view::npos) {
      head.remove_prefix(eol + 2);
      eol = head.find("\r\n");
      std::string_view line = head.substr(0, eol);
      std::size_t colon = line.find(':');
      if (colon == std::string_view::npos) return false;
      std::string_view name = line.substr(0, colon);
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
      if (IEquals(name, "content-length")) {
        std::size_t n = 0;
        auto [e, err] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (err != std::errc() || e != value.data() + value.size()) return false;
        length_ = n;
      } else if (IEquals(name, "transfer-encoding")) {
        chunked_ = IContains(value, "chunked");
      } else if (IEquals(name, "connection")) {
        if (IContains(value, "close")) close_ = true;
        if (IContains(value, "keep-alive")) close_ = false;
      }
    }
    return true;
  }

  Part part_ = Part::kHead;
  std::size_t scan_ = 0;       // where to resume looking for CRLFCRLF
  std::size_t pos_ = 0;        // bytes of the buffer consumed so far
  std::size_t remaining_ = 0;  // of the body or the current chunk
  int status_ = 0;
  std::optional<std::size_t> length_;
  bool chunked_ = false;
  bool close_ = false;
};

// One keep-alive connection and its one outstanding request. State machine:
//   kClosed --Open--> kWriting --request sent--> kReading --response parsed--> kWriting ...
// with kDone once the phase is over. Reads and writes never block; each returns what the
// connection waits for when it cannot go on.
class Connection {
 public:
  enum class State { kClosed, kWriting, kReading, kDone };
  enum class Io { kOk, kWantRead, kWantWrite, kEof, kError };

  explicit Connection(int index) : index_(index) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() { Close(); }

  // Blocking connect and TLS handshake (a handshake per connection, not per request, so keeping
  // it simple costs nothing), then O_NONBLOCK for the request loop.
  bool Open(const Target& target) {
    Close();
    fd_.Reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd_) return false;
    int one = 1;
    ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(target.port));
    if (::connect(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return Fail();
    if (target.tls != nullptr) {
      ssl_ = SSL_new(target.tls);
      // The serving certificate is for 127.0.0.1 (an IP SAN); check it, not only the chain.
      if (ssl_ == nullptr ||
          X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), "127.0.0.1") != 1 ||
          SSL_set_fd(ssl_, fd_.get()) != 1 || SSL_connect(ssl_) != 1) {
        return Fail();
      }
    }
    int flags = ::fcntl(fd_.get(), F_GETFL);
    if (flags < 0 || ::fcntl(fd_.get(), F_SETFL, flags | O_NONBLOCK) != 0) return Fail();
    in_.clear();
    parser_.Reset();
    return true;
  }

  // Closing the fd also takes it out of its epoll set, hence interest = 0.
  void Close() {
    if (ssl_ != nullptr) SSL_free(ssl_);  // no close_notify: the bench just drops the connection
    ssl_ = nullptr;
    fd_.Reset();
    interest = 0;
    state = State::kClosed;
  }

  void StartRequest(std::string bytes) {
    out_ = std::move(bytes);
    written_ = 0;
    state = State::kWriting;
  }

  // Sends what is left of the request.
  Io Write() {
    while (written_ < out_.size()) {
      std::size_t n = 0;
      // SSL_write_ex reports success only once the whole buffer is sent (no partial-write
      // mode), and a retry after WANT_* passes the same buffer, as OpenSSL requires.
      Io io = ssl_ != nullptr
                  ? SslIo(SSL_write_ex(ssl_, out_.data() + written_, out_.size() - written_, &n))
                  : SysIo(::send(fd_.get(), out_.data() + written_, out_.size() - written_,
                                 MSG_NOSIGNAL),
                          n, Io::kWantWrite);
      if (io != Io::kOk) return io;
      written_ += n;
    }
    written_ = 0;
    return Io::kOk;
  }

  // Reads whatever is available into the receive buffer (kOk: some bytes arrived).
  Io Read() {
    char buf[16 * 1024];
    std::size_t n = 0;
    Io io = ssl_ != nullptr ? SslIo(SSL_read_ex(ssl_, buf, sizeof(buf), &n))
                            : SysIo(::recv(fd_.get(), buf, sizeof(buf), 0), n, Io::kWantRead);
    if (io == Io::kOk) in_.append(buf, n);
    return io;
  }

  // Parses the receive buffer; on kDone the response is taken off it.
  ResponseParser::Step ParseResponse() {
    auto step = parser_.Parse(in_);
    if (step == ResponseParser::Step::kDone) {
      in_.erase(0, parser_.consumed());
      last_status_ = parser_.status();
      last_close_ = parser_.close();
      parser_.Reset();
    }
    return step;
  }

  // The peer closed: true when that completes a read-until-close response.
  bool FinishAtEof() {
    if (!parser_.AtEof()) return false;
    last_status_ = parser_.status();
    last_close_ = true;
    return true;
  }
  int last_status() const { return last_status_; }
  bool last_close() const { return last_close_; }
  int fd() const { return fd_.get(); }
  int index() const { return index_; }

  State state = State::kClosed;
  long next = 0;               // the number of the next request on this connection
  std::uint32_t interest = 0;  // the epoll events it is registered for (0: not registered)

 private:
  bool Fail() {
    ERR_clear_error();
    Close();
    return false;
  }

  Io SslIo(int ret) {
    if (ret == 1) return Io::kOk;
    switch (SSL_get_error(ssl_, ret)) {
      case SSL_ERROR_WANT_READ:
        return Io::kWantRead;
      case SSL_ERROR_WANT_WRITE:
        return Io::kWantWrite;
      case SSL_ERROR_ZERO_RETURN:
        return Io::kEof;
      default:
        ERR_clear_error();
        return Io::kError;
    }
  }

  // `would_block`: what to wait for when the socket has no room or no data (EINTR too: the
  // level-triggered epoll reports the socket again at once if it is ready).
  static Io SysIo(ssize_t ret, std::size_t& n, Io would_block) {
    if (ret > 0) {
      n = static_cast<std::size_t>(ret);
      return Io::kOk;
    }
    if (ret == 0) return Io::kEof;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? would_block : Io::kError;
  }

  int index_;
  mini8s::UniqueFd fd_;
  SSL* ssl_ = nullptr;
  std::string out_;
  std::size_t written_ = 0;
  std::string in_;
  ResponseParser parser_;
  int last_status_ = 0;
  bool last_close_ = false;
};

// The CA, client certificate and key from the kubeconfig; the server's certificate is verified.
struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

SslCtxPtr MakeTlsContext(const ClientOptions& o) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) Die("SSL_CTX_new failed");
  auto bio = [](const std::string& pem) {
    return std::unique_ptr<BIO, int (*)(BIO*)>(
        BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  };
  auto ca_bio = bio(o.ca_pem);
  int cas = 0;
  while (X509* ca = PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), ca);
    X509_free(ca);
    ++cas;
  }
  ERR_clear_error();  // the loop ends on "no start line"
  auto cert_bio = bio(o.client_cert_pem);
  X509* cert = PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr);
  auto key_bio = bio(o.client_key_pem);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr);
  bool ok = cas > 0 && cert != nullptr && key != nullptr &&
            SSL_CTX_use_certificate(ctx.get(), cert) == 1 &&
            SSL_CTX_use_PrivateKey(ctx.get(), key) == 1 &&
            SSL_CTX_check_private_key(ctx.get()) == 1;
  X509_free(cert);
  EVP_PKEY_free(key);
  if (!ok) Die("cannot load the kubeconfig's CA, client certificate or key");
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  return ctx;
}

// CPU seconds (user + system, all threads) of a process, from /proc/<pid>/stat.
double ProcessCpuSeconds(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  std::size_t paren = stat.rfind(')');  // the command name may hold spaces
  if (paren == std::string::npos) return 0;
  std::istringstream in(stat.substr(paren + 1));
  std::string skip;
  for (int field = 3; field <= 13; ++field) in >> skip;  // state .. cmajflt
  unsigned long long utime = 0, stime = 0;
  in >> utime >> stime;
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// CPU seconds of this process (the load generator: during a phase nothing else runs here).
double SelfCpuSeconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

std::string LoadAverage() {
  std::string s = ReadFile("/proc/loadavg");
  // "4.27 3.78 2.77 3/612 12345": the three averages only.
  std::size_t end = 0;
  for (int i = 0; i < 3 && end != std::string::npos; ++i) end = s.find(' ', end + (i > 0));
  return s.substr(0, end);
}

struct Tally {
  long ok = 0;
  long failed = 0;
  double seconds = 0;
  double server_cpu = 0;  // seconds of the server's CPU over the phase
  double client_cpu = 0;  // seconds of the load generator's CPU over the phase
  double rate() const { return seconds > 0 ? ok / seconds : 0; }
  long requests() const { return ok + failed; }
  double ServerUs() const { return requests() > 0 ? server_cpu * 1e6 / requests() : 0; }
  double ClientUs() const { return requests() > 0 ? client_cpu * 1e6 / requests() : 0; }
};

// Connects (if needed) and starts the connection's next request; false when it cannot connect.
bool Begin(Connection& c, const Target& target, const Workload& w) {
  if (!c.Open(target)) return false;
  c.StartRequest(w.request(c.index(), c.next));
  return true;
}

// Drives one connection as far as it goes without blocking; returns the epoll events it now
// waits for, or 0 once it is done (the phase is over).
std::uint32_t Drive(Connection& c, const Target& target, const Workload& w,
                    Clock::time_point deadline, Tally& counts) {
  using Io = Connection::Io;
  // A broken connection fails its outstanding request (the next one gets a new number, so a
  // create that did land is not retried into a 409) and reconnects.
  auto broken = [&] {
    ++counts.failed;
    ++c.next;
    c.Close();
  };
  auto finished = [&] {
    if (c.last_status() == w.expected_status) {
      ++counts.ok;
      if (w.on_ok) w.on_ok(c.index(), c.next);
    } else {
      ++counts.failed;
    }
    ++c.next;
    if (c.last_close()) {
      c.Close();
    } else if (Clock::now() >= deadline) {
      c.state = Connection::State::kDone;
    } else {
      c.StartRequest(w.request(c.index(), c.next));
    }
  };
  while (true) {
    switch (c.state) {
      case Connection::State::kDone:
        return 0;
      case Connection::State::kClosed:
        if (Clock::now() >= deadline) {
          c.state = Connection::State::kDone;
        } else if (!Begin(c, target, w)) {
          ++counts.failed;
          std::this_thread::sleep_for(std::chrono::milliseconds(10));  // server gone: no spinning
        }
        break;
      case Connection::State::kWriting:
        switch (c.Write()) {
          case Io::kOk:
            c.state = Connection::State::kReading;
            break;
          case Io::kWantRead:
            return EPOLLIN;
          case Io::kWantWrite:
            return EPOLLOUT;
          case Io::kEof:
          case Io::kError:
            broken();
            break;
        }
        break;
      case Connection::State::kReading:
        switch (c.Read()) {
          case Io::kOk:
            switch (c.ParseResponse()) {
              case ResponseParser::Step::kMore:
                break;
              case ResponseParser::Step::kDone:
                finished();
                break;
              case ResponseParser::Step::kBad:
                broken();
                break;
            }
            break;
          case Io::kWantRead:
            return EPOLLIN;
          case Io::kWantWrite:
            return EPOLLOUT;
          case Io::kEof:
            if (c.FinishAtEof()) {
              finished();
            } else {
              broken();
            }
            break;
          case Io::kError:
            broken();
            break;
        }
        break;
    }
  }
}

// One load thread: its connections on one level-triggered epoll until each has finished its last
// request after `deadline` (or a grace period is over: those requests are not counted).
Tally RunLoadThread(const std::vector<Connection*>& conns, const Target& target, const Workload& w,
                    Clock::time_point deadline) {
  Tally counts;
  mini8s::UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep) Die("epoll_create1 failed");
  int active = 0;
  auto update = [&](Connection& c, std::uint32_t want) {
    if (want == 0) {  // done; its fd may still be open and registered
      if (c.interest != 0) ::epoll_ctl(ep.get(), EPOLL_CTL_DEL, c.fd(), nullptr);
      c.interest = 0;
      --active;
      return;
    }
    if (c.interest == want) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.ptr = &c;
    ::epoll_ctl(ep.get(), c.interest == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c.fd(), &ev);
    c.interest = want;
  };
  for (Connection* c : conns) {
    ++active;
    update(*c, Drive(*c, target, w, deadline, counts));
  }
  const auto hard_stop = deadline + std::chrono::seconds(5);
  std::vector<epoll_event> events(conns.size());
  while (active > 0 && Clock::now() < hard_stop) {
    int n = ::epoll_wait(ep.get(), events.data(), static_cast<int>(events.size()), 100);
    for (int i = 0; i < n; ++i) {
      auto& c = *static_cast<Connection*>(events[i].data.ptr);
      update(c, Drive(c, target, w, deadline, counts));
    }
  }
  return counts;
}

// Runs a phase: kClients connections over kLoadThreads threads for `seconds`; `pid` is the server
// whose CPU time is charged to the phase.
Tally RunLoad(const Target& target, const Workload& w, double seconds, pid_t pid) {
  std::vector<std::unique_ptr<Connection>> conns;
  for (int i = 0; i < kClients; ++i) {
    conns.push_back(std::make_unique<Connection>(i));
    (void)Begin(*conns.back(), target, w);  // a failure is retried (and counted) in the phase
  }
  const double server_cpu0 = ProcessCpuSeconds(pid), client_cpu0 = SelfCpuSeconds();
  const auto start = Clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<Tally> per_thread(kLoadThreads);
  std::vector<std::thread> threads;
  constexpr int kPerThread = kClients / kLoadThreads;
  for (int t = 0; t < kLoadThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<Connection*> mine;
      for (int i = t * kPerThread; i < (t + 1) * kPerThread; ++i) mine.push_back(conns[i].get());
      per_thread[t] = RunLoadThread(mine, target, w, deadline);
    });
  }
  for (auto& th : threads) th.join();
  Tally total;
  total.seconds = Seconds(Clock::now() - start);
  total.server_cpu = ProcessCpuSeconds(pid) - server_cpu0;
  total.client_cpu = SelfCpuSeconds() - client_cpu0;
  for (const Tally& t : per_thread) {
    total.ok += t.ok;
    total.failed += t.failed;
  }
  return total;
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
  Workload put;
  put.request = [&](int conn, long n) {
    return RawRequest("POST", "/v3/kv/put", client_port,
                      R"({"key":")" +
                          Base64("/registry/configmaps/default/bench-" + std::to_string(conn) +
                                 "-" + std::to_string(n)) +
                          R"(","value":")" + value64 + R"("})");
  };
  put.expected_status = 200;
  Tally t = RunLoad(Target{client_port, nullptr}, put, seconds, child.pid);
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
  // Other work on the machine shows in the rates; the CPU-per-request figures stay meaningful.
  const std::string load_start = LoadAverage();

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
  const std::string cm_path = "/api/v1/namespaces/default/configmaps";
  const SslCtxPtr tls = MakeTlsContext(admin);
  const Target api{server.port, tls.get()};

  // Creates: distinct names per connection; a connection's successes are what it GETs next.
  std::vector<std::vector<std::string>> created(kClients);
  auto name_of = [](int conn, long n) {
    return "bench-" + std::to_string(conn) + "-" + std::to_string(n);
  };
  Workload create;
  create.request = [&](int conn, long n) {
    return RawRequest("POST", cm_path, server.port, ConfigMapJson(name_of(conn, n)));
  };
  create.expected_status = 201;
  create.on_ok = [&](int conn, long n) { created[conn].push_back(name_of(conn, n)); };
  Tally creates = RunLoad(api, create, seconds, server.child.pid);
  // Writes per group commit decide how many fsyncs a create pays: printed beside the CPU figure.
  double batch = 0;
  {
    auto c = MakeClient(admin);
    auto r = c->Get(base + "/metrics");
    const std::string name = "\nmini8s_store_mean_batch_size ";
    if (r.ok() && r->status == 200) {
      if (auto p = r->body.find(name); p != std::string::npos) {
        batch = std::atof(r->body.c_str() + p + name.size());
      }
    }
  }

  // GETs: round-robin over what the connection created (connection 0's list if it created none;
  // with no creates at all the GETs ask for a missing name and count as failures).
  Workload get;
  get.request = [&](int conn, long n) {
    const auto& names = created[conn].empty() ? created[0] : created[conn];
    std::string name = names.empty() ? "bench-missing" : names[n % names.size()];
    return RawRequest("GET", cm_path + "/" + name, server.port);
  };
  get.expected_status = 200;
  Tally gets = RunLoad(api, get, seconds, server.child.pid);

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
  std::printf("%-44s %12.1f\n", "  server CPU per create (us)", creates.ServerUs());
  std::printf("%-44s %12.1f   (mean since start: /metrics mini8s_store_mean_batch_size)\n",
              "  writes per group commit", batch);
  std::printf("%-44s %12.1f\n", "  load generator CPU per create (us)", creates.ClientUs());
  std::printf("%-44s %12.0f   >= 30000 (%s)\n", "GETs/s (16 clients)", gets.rate(),
              Verdict(gets.rate() >= 30000));
  std::printf("%-44s %12ld\n", "  GET failures", gets.failed);
  std::printf("%-44s %12.1f\n", "  server CPU per GET (us)", gets.ServerUs());
  std::printf("%-44s %12.1f\n", "  load generator CPU per GET (us)", gets.ClientUs());
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
    std::printf("%-44s %12.1f\n", "  etcd CPU per put (us)", etcd_puts->ServerUs());
    std::printf("%-44s %12.1f\n", "  load generator CPU per put (us)", etcd_puts->ClientUs());
  } else {
    std::printf("%-44s %12s   (etcd not found or not healthy)\n", "etcd puts/s", "-");
  }
  std::printf("%-44s %12s   (at the end: %s)\n", "load average at the start", load_start.c_str(),
              LoadAverage().c_str());
  std::error_code ec;
  fs::remove_all(work, ec);
  return 0;
}
