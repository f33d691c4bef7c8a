#include "unit/http/test_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "mini8s/common/check.h"

namespace mini8s::http::testing {

const TestPki& TestPki::Get() {
  static const TestPki pki = [] {
    TestPki p;
    auto ca = GenerateSelfSignedCa("mini8s-test-ca");
    MINI8S_CHECK(ca.ok()) << ca.error().ToString();
    p.ca = *ca;
    CertificateRequest s;
    s.common_name = "localhost";
    s.dns_names = {"localhost"};
    s.ip_addresses = {"127.0.0.1"};
    s.server_auth = true;
    auto server = IssueCertificate(p.ca, s);
    MINI8S_CHECK(server.ok()) << server.error().ToString();
    p.server = *server;
    CertificateRequest c;
    c.common_name = "alice";
    c.organizations = {"system:masters"};
    c.client_auth = true;
    auto client = IssueCertificate(p.ca, c);
    MINI8S_CHECK(client.ok()) << client.error().ToString();
    p.client = *client;
    return p;
  }();
  return pki;
}

ServerTlsOptions TestServerTls() {
  const TestPki& pki = TestPki::Get();
  ServerTlsOptions tls;
  tls.cert_chain_pem = pki.server.cert_pem;
  tls.key_pem = pki.server.key_pem;
  tls.client_ca_pem = pki.ca.cert_pem;
  return tls;
}

ServerThread::ServerThread(ServerOptions options, Handler handler)
    : work_(boost::asio::make_work_guard(ioc_)) {
  auto server = Server::Create(ioc_.get_executor(), std::move(options), std::move(handler));
  MINI8S_CHECK(server.ok()) << server.error().ToString();
  server_ = std::move(server).value();
  server_->Start();
  thread_ = std::thread([this] { ioc_.run(); });
}

ServerThread::~ServerThread() {
  work_.reset();
  ioc_.stop();
  thread_.join();
  server_.reset();
}

RawConnection::RawConnection(uint16_t port, std::chrono::milliseconds recv_timeout) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return;
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(recv_timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((recv_timeout.count() % 1000) * 1000);
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return;
  fd_ = std::move(fd);
}

bool RawConnection::SendAll(const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(fd_.get(), data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

std::string RawConnection::ReadUntilClose(std::size_t max) {
  std::string out;
  char buf[4096];
  while (out.size() < max) {
    ssize_t n = recv(fd_.get(), buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

bool RawConnection::WaitClosed() {
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd_.get(), buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;  // EAGAIN: the receive timeout hit
  }
}

std::string RunCommand(const std::string& cmd, int* exit_code) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    *exit_code = -1;
    return out;
  }
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int status = pclose(p);
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

}  // namespace mini8s::http::testing
