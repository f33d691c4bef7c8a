// Helpers for the http tests: a test PKI, a server running on its own io_context thread, and a
// raw TCP connection for feeding the server bytes no well-behaved client would send.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "mini8s/common/unique_fd.h"
#include "mini8s/http/server.h"
#include "mini8s/http/tls_material.h"

namespace mini8s::http::testing {

struct TestPki {
  CertificateAndKey ca;      // signs the server and client certificates
  CertificateAndKey server;  // CN=localhost, SANs localhost/127.0.0.1, serverAuth
  CertificateAndKey client;  // CN=alice, O=system:masters, clientAuth
  // Generated once per process.
  static const TestPki& Get();
};

// TLS options for a server using TestPki, requesting client certificates from its CA.
ServerTlsOptions TestServerTls();

// A Server on 127.0.0.1:0 driven by a private io_context thread.
class ServerThread {
 public:
  ServerThread(ServerOptions options, Handler handler);
  ~ServerThread();
  Server& server() { return *server_; }
  std::string url() const { return server_->url(); }
  uint16_t port() const { return server_->port(); }

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

// A blocking TCP connection to 127.0.0.1:port with a receive timeout.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port,
                         std::chrono::milliseconds recv_timeout = std::chrono::seconds(10));
  bool connected() const { return fd_.valid(); }
  bool SendAll(const std::string& data);
  // Reads until the peer closes (returns everything read), the timeout hits or `max` bytes.
  std::string ReadUntilClose(std::size_t max = 1 << 20);
  // True if the peer closed (EOF or reset) within the receive timeout, discarding data.
  bool WaitClosed();

 private:
  UniqueFd fd_;
};

// Runs a shell command, returns its stdout and sets *exit_code.
std::string RunCommand(const std::string& cmd, int* exit_code);

}  // namespace mini8s::http::testing
