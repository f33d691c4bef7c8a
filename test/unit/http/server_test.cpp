#include "mini8s/http/server.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "mini8s/http/client.h"
#include "mini8s/http/tls_material.h"
#include "testutil/temp_dir.h"
#include "unit/http/test_server.h"

namespace mini8s::http {
namespace {

using namespace std::chrono_literals;
using testing::RawConnection;
using testing::ServerThread;
using testing::TestPki;
using testing::TestServerTls;

ServerOptions TlsOptions() {
  ServerOptions o;
  o.tls = TestServerTls();
  return o;
}

ClientOptions TrustingClient(bool with_client_cert = false) {
  ClientOptions o;
  o.ca_pem = TestPki::Get().ca.cert_pem;
  if (with_client_cert) {
    o.client_cert_pem = TestPki::Get().client.cert_pem;
    o.client_key_pem = TestPki::Get().client.key_pem;
  }
  return o;
}

// Answers with "<method> <path> <query...> from=<remote> body=<n>".
void EchoHandler(HttpRequest req, Responder r) {
  std::string out = req.method + " " + req.path;
  for (const auto& [k, v] : req.query) out += " " + k + "=" + v;
  out += " from=" + req.remote_address + " body=" + std::to_string(req.body.size());
  r.Send(HttpResponse::Text(200, out));
}

TEST_CASE("Server: HTTPS keep-alive serves several requests on one connection", "[http][unit]") {
  ServerThread st(TlsOptions(), [](HttpRequest req, Responder r) {
    REQUIRE(req.tls.has_value());
    HttpResponse res = HttpResponse::Text(200, req.remote_address);
    res.headers.Set("X-Alpn", req.tls->alpn);
    res.headers.Set("X-Proto", req.tls->protocol);
    r.Send(std::move(res));
  });
  auto client = BlockingClient::Create(TrustingClient());
  REQUIRE(client.ok());
  std::string first_remote;
  for (int i = 0; i < 4; ++i) {
    auto res = (*client)->Get(st.url() + "/x");
    REQUIRE(res.ok());
    CHECK(res->status == 200);
    CHECK(res->headers.Get("X-Alpn") == "http/1.1");
    CHECK(res->headers.GetOr("X-Proto").rfind("TLSv1.", 0) == 0);
    if (i == 0) first_remote = res->body;
    CHECK(res->body == first_remote);  // same client port: the connection was reused
  }
  CHECK((*client)->async_client().idle_connection_count() == 1);
  CHECK(st.server().connection_count() == 1);
}

TEST_CASE("Server: with io_threads, connections are spread over the server's own threads",
          "[http][unit]") {
  ServerOptions o = TlsOptions();
  o.io_threads = 2;
  std::mutex mu;
  std::set<std::thread::id> handler_threads;
  auto st = std::make_unique<ServerThread>(o, [&](HttpRequest req, Responder r) {
    {
      std::lock_guard<std::mutex> lock(mu);
      handler_threads.insert(std::this_thread::get_id());
    }
    r.Send(HttpResponse::Text(200, req.remote_address));
  });
  // Four keep-alive clients at once, several requests each: every one answered on its
  // connection, and the connections end up on both threads (round-robin at accept).
  std::vector<std::unique_ptr<BlockingClient>> clients;
  for (int c = 0; c < 4; ++c) {
    auto client = BlockingClient::Create(TrustingClient());
    REQUIRE(client.ok());
    clients.push_back(std::move(*client));
  }
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (auto& client : clients) {
    threads.emplace_back([&, c = client.get()] {
      std::string first;
      for (int i = 0; i < 5; ++i) {
        auto res = c->Get(st->url() + "/x");
        if (!res.ok() || res->status != 200) continue;
        if (i == 0) first = res->body;
        if (res->body == first) ok++;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == 20);
  CHECK(st->server().connection_count() == 4);
  {
    std::lock_guard<std::mutex> lock(mu);
    CHECK(handler_threads.size() == 2);
    CHECK(handler_threads.count(std::this_thread::get_id()) == 0);
  }
  // Destroying the server with the four connections still open closes them and joins its
  // threads (this returns); nothing listens on the port afterwards.
  uint16_t port = st->port();
  st.reset();
  RawConnection refused(port);
  CHECK_FALSE(refused.connected());
}

TEST_CASE("Server: requests carry decoded path, query and body", "[http][unit]") {
  ServerThread st(TlsOptions(), EchoHandler);
  auto client = BlockingClient::Create(TrustingClient());
  REQUIRE(client.ok());
  ClientRequest req;
  req.method = "POST";
  req.url = st.url() + "/api/v1/namespaces/a%20b/pods?labelSelector=app%3Dweb&x=1+2";
  req.body = std::string(1000, 'z');
  auto res = (*client)->Send(req);
  REQUIRE(res.ok());
  CHECK(res->body.rfind("POST /api/v1/namespaces/a b/pods labelSelector=app=web x=1 2 from=", 0) ==
        0);
  CHECK(res->body.find("body=1000") != std::string::npos);
}

TEST_CASE("Server: a chunked stream is read by the client line by line", "[http][unit]") {
  ServerThread st(TlsOptions(), [](HttpRequest, Responder r) {
    Headers h;
    h.Set("Content-Type", "application/json");
    auto w = r.StartStream(200, h);
    REQUIRE(w != nullptr);
    // Written from another thread, as a watch hub would.
    std::thread([w] {
      w->Write(std::string("{\"type\":\"ADDED\"}\n"));
      w->Write(std::string("{\"type\":\"MODIFIED\"}\n{\"type\":"));
      w->Write(std::string("\"DELETED\"}\n"));
      w->Finish();
    }).detach();
  });
  auto client = BlockingClient::Create(TrustingClient());
  REQUIRE(client.ok());
  ClientRequest req;
  req.url = st.url() + "/api/v1/pods?watch=true";
  auto stream = (*client)->OpenStream(req);
  REQUIRE(stream.ok());
  CHECK((*stream)->status() == 200);
  CHECK((*stream)->headers().Get("Transfer-Encoding") == "chunked");
  std::vector<std::string> lines;
  for (;;) {
    auto line = (*stream)->ReadLine();
    REQUIRE(line.ok());
    if (!line->has_value()) break;
    lines.push_back(**line);
  }
  CHECK(lines == std::vector<std::string>{"{\"type\":\"ADDED\"}", "{\"type\":\"MODIFIED\"}",
                                          "{\"type\":\"DELETED\"}"});
}

TEST_CASE("Server: a stream notices the client disconnecting mid-stream", "[http][unit]") {
  std::promise<void> closed;
  std::shared_ptr<StreamWriter> writer;
  std::mutex mu;
  ServerThread st(TlsOptions(), [&](HttpRequest, Responder r) {
    auto w = r.StartStream(200, {});
    w->Write(std::string("first\n"));
    w->OnClose([&closed] { closed.set_value(); });
    std::lock_guard<std::mutex> lock(mu);
    writer = w;
  });
  auto client = BlockingClient::Create(TrustingClient());
  REQUIRE(client.ok());
  ClientRequest req;
  req.url = st.url() + "/watch";
  {
    auto stream = (*client)->OpenStream(req);
    REQUIRE(stream.ok());
    auto line = (*stream)->ReadLine();
    REQUIRE(line.ok());
    CHECK(line->value() == "first");
  }  // the stream (and its connection) goes away here
  REQUIRE(closed.get_future().wait_for(10s) == std::future_status::ready);
  std::lock_guard<std::mutex> lock(mu);
  CHECK(writer->closed());
  CHECK_FALSE(writer->Write(std::string("late\n")));
  writer.reset();  // handles must not outlive the server's io_context
}

TEST_CASE("Server: WebSocket echo with a negotiated subprotocol", "[http][unit]") {
  ServerThread st(TlsOptions(), [](HttpRequest req, Responder r) {
    if (!req.websocket_upgrade) {
      r.Send(HttpResponse::Text(400, "want websocket"));
      return;
    }
    std::string chosen;
    for (const auto& p : req.headers.GetTokens("Sec-WebSocket-Protocol")) {
      if (p == "v5.channel.k8s.io") chosen = p;
    }
    auto self = std::make_shared<std::shared_ptr<WebSocket>>();
    WebSocketHandlers h;
    h.on_open = [self](std::shared_ptr<WebSocket> ws) { *self = ws; };
    h.on_message = [self](WebSocketMessage m) { (*self)->Send(m.data, m.binary); };
    h.on_close = [self](uint16_t, std::string) { self->reset(); };
    r.AcceptWebSocket(chosen, std::move(h));
  });
  auto client = BlockingClient::Create(TrustingClient());
  REQUIRE(client.ok());
  ClientRequest req;
  req.url = st.url() + "/api/v1/namespaces/default/pods/x/exec?command=ls";
  auto ws = (*client)->ConnectWebSocket(req, {"v4.channel.k8s.io", "v5.channel.k8s.io"});
  REQUIRE(ws.ok());
  CHECK((*ws)->subprotocol() == "v5.channel.k8s.io");
  std::string frame("\x01hello", 6);
  (*ws)->Send(frame, true);
  auto m1 = (*ws)->Receive(5s);
  REQUIRE(m1.ok());
  CHECK(m1->binary);
  CHECK(m1->data == frame);
  (*ws)->Send("text", false);
  auto m2 = (*ws)->Receive(5s);
  REQUIRE(m2.ok());
  CHECK_FALSE(m2->binary);
  CHECK(m2->data == "text");
  CHECK((*ws)->Close(1000) == 1000);
}

TEST_CASE("Server: a WebSocket request the handler refuses gets its status", "[http][unit]") {
  ServerThread st(TlsOptions(),
                  [](HttpRequest, Responder r) { r.Send(HttpResponse::Text(403, "no")); });
  auto client = BlockingClient::Create(TrustingClient());
  REQUIRE(client.ok());
  ClientRequest req;
  req.url = st.url() + "/exec";
  auto ws = (*client)->ConnectWebSocket(req, {"v5.channel.k8s.io"});
  REQUIRE_FALSE(ws.ok());
  CHECK(ws.error().message().find("403") != std::string::npos);
}

TEST_CASE("Server: a body over the limit gets 413 and the limit itself passes", "[http][unit]") {
  ServerThread st(TlsOptions(), EchoHandler);
  auto client = BlockingClient::Create(TrustingClient());
  REQUIRE(client.ok());
  ClientRequest req;
  req.method = "PUT";
  req.url = st.url() + "/big";
  req.body = std::string(3 * 1024 * 1024, 'a');
  auto ok = (*client)->Send(req);
  REQUIRE(ok.ok());
  CHECK(ok->status == 200);
  req.body.push_back('b');
  auto big = (*client)->Send(req);
  REQUIRE(big.ok());
  CHECK(big->status == 413);
  CHECK(big->headers.Get("Connection") == "close");
}

TEST_CASE("Server: a chunked body over the limit gets 413", "[http][unit]") {
  ServerOptions o;
  o.max_body_bytes = 1024;
  ServerThread st(o, EchoHandler);
  RawConnection c(st.port());
  REQUIRE(c.connected());
  std::string chunk(800, 'x');
  REQUIRE(c.SendAll("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n320\r\n" +
                    chunk + "\r\n320\r\n" + chunk + "\r\n0\r\n\r\n"));
  std::string res = c.ReadUntilClose();
  CHECK(res.rfind("HTTP/1.1 413", 0) == 0);
}

TEST_CASE("Server: oversized request headers get 431", "[http][unit]") {
  ServerOptions o = TlsOptions();
  o.max_header_bytes = 8 * 1024;
  ServerThread st(o, EchoHandler);
  auto client = BlockingClient::Create(TrustingClient());
  REQUIRE(client.ok());
  ClientRequest req;
  req.url = st.url() + "/";
  req.headers.Set("X-Huge", std::string(16 * 1024, 'h'));
  auto res = (*client)->Send(req);
  // 431, or (if the reset beat the response) a closed connection; never a hang or a 200.
  if (res.ok()) {
    CHECK(res->status == 431);
  } else {
    CHECK(res.error().code() == Code::kUnavailable);
  }
  req.headers.Remove("X-Huge");
  auto after = (*client)->Send(req);
  REQUIRE(after.ok());
  CHECK(after->status == 200);
}

TEST_CASE("Server: malformed HTTP gets 400 and a closed connection", "[http][unit]") {
  ServerThread st(ServerOptions{}, EchoHandler);
  for (std::string bad : {std::string("GET / HTTP/1.1\r\nHost x\r\n\r\n"),
                          std::string("G@T / HTTP/1.1\r\nHost: x\r\n\r\n"),
                          std::string("GET / HTTP/9.1\r\nHost: x\r\n\r\n"),
                          std::string("POST / HTTP/1.1\r\nContent-Length: zz\r\n\r\n"),
                          std::string("GET http://evil/ HTTP/1.1\r\nHost: x\r\n\r\n")}) {
    RawConnection c(st.port());
    REQUIRE(c.connected());
    REQUIRE(c.SendAll(bad));
    std::string res = c.ReadUntilClose();
    INFO(bad);
    CHECK(res.rfind("HTTP/1.1 400", 0) == 0);
  }
}

TEST_CASE("Server: a connection that sends nothing is dropped after the read timeout",
          "[http][unit]") {
  ServerOptions o;
  o.read_timeout = 300ms;
  ServerThread st(o, EchoHandler);
  RawConnection silent(st.port(), 10s);
  REQUIRE(silent.connected());
  auto start = std::chrono::steady_clock::now();
  CHECK(silent.WaitClosed());
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed >= 250ms);
  CHECK(elapsed < 5s);
  // Half a request head is dropped the same way.
  RawConnection partial(st.port(), 10s);
  REQUIRE(partial.SendAll("GET / HTTP/1.1\r\nHost: x\r\n"));
  CHECK(partial.WaitClosed());
  // And a body that stops arriving (a half-open or stalled client).
  RawConnection stalled(st.port(), 10s);
  REQUIRE(stalled.SendAll("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789"));
  CHECK(stalled.WaitClosed());
}

TEST_CASE("Server: a plain-HTTP request on the TLS port is closed and others are unaffected",
          "[http][unit]") {
  ServerThread st(TlsOptions(), EchoHandler);
  auto client = BlockingClient::Create(TrustingClient());
  REQUIRE(client.ok());
  REQUIRE((*client)->Get(st.url() + "/before")->status == 200);
  RawConnection garbage(st.port(), 10s);
  REQUIRE(garbage.connected());
  REQUIRE(garbage.SendAll("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  // The open keep-alive connection keeps working while the garbage one is being rejected.
  REQUIRE((*client)->Get(st.url() + "/during")->status == 200);
  CHECK(garbage.WaitClosed());
  RawConnection random(st.port(), 10s);
  REQUIRE(random.SendAll(std::string("\x16\x03\x01\x00\x05\xff\xff\xff\xff\xff", 10)));
  CHECK(random.WaitClosed());
  auto after = (*client)->Get(st.url() + "/after");
  REQUIRE(after.ok());
  CHECK(after->status == 200);
}

TEST_CASE("Server: a client certificate is visible to the handler", "[http][unit]") {
  std::mutex mu;
  std::optional<TlsPeerInfo> seen;
  ServerThread st(TlsOptions(), [&](HttpRequest req, Responder r) {
    std::lock_guard<std::mutex> lock(mu);
    seen = req.tls;
    r.Send(HttpResponse::Text(200, "ok"));
  });
  {
    auto client = BlockingClient::Create(TrustingClient(/*with_client_cert=*/true));
    REQUIRE(client.ok());
    REQUIRE((*client)->Get(st.url() + "/")->status == 200);
    std::lock_guard<std::mutex> lock(mu);
    REQUIRE(seen.has_value());
    REQUIRE(seen->certificate_chain_pem.size() >= 1);
    CHECK(seen->certificate_verified);
    auto info = InspectCertificate(seen->certificate_chain_pem[0]);
    REQUIRE(info.ok());
    CHECK(info->common_name == "alice");
    CHECK(info->organizations == std::vector<std::string>{"system:masters"});
  }
  {
    // No certificate: still served (requested, not required), with an empty chain.
    auto client = BlockingClient::Create(TrustingClient(false));
    REQUIRE(client.ok());
    REQUIRE((*client)->Get(st.url() + "/")->status == 200);
    std::lock_guard<std::mutex> lock(mu);
    REQUIRE(seen.has_value());
    CHECK(seen->certificate_chain_pem.empty());
    CHECK_FALSE(seen->certificate_verified);
  }
  {
    // A certificate from an unknown CA fails the handshake.
    auto rogue_ca = GenerateSelfSignedCa("rogue");
    REQUIRE(rogue_ca.ok());
    CertificateRequest cr;
    cr.common_name = "mallory";
    cr.client_auth = true;
    auto rogue = IssueCertificate(*rogue_ca, cr);
    REQUIRE(rogue.ok());
    ClientOptions o = TrustingClient();
    o.client_cert_pem = rogue->cert_pem;
    o.client_key_pem = rogue->key_pem;
    auto client = BlockingClient::Create(o);
    REQUIRE(client.ok());
    CHECK_FALSE((*client)->Get(st.url() + "/").ok());
  }
}

TEST_CASE("Server: the client rejects a server certificate it cannot verify", "[http][unit]") {
  ServerThread st(TlsOptions(), EchoHandler);
  auto other_ca = GenerateSelfSignedCa("other");
  REQUIRE(other_ca.ok());
  ClientOptions o;
  o.ca_pem = other_ca->cert_pem;
  auto client = BlockingClient::Create(o);
  REQUIRE(client.ok());
  CHECK_FALSE((*client)->Get(st.url() + "/").ok());
  // Right CA, wrong name: the certificate is for localhost/127.0.0.1.
  ClientOptions named = TrustingClient();
  named.tls_server_name = "kubernetes.default.svc";
  auto named_client = BlockingClient::Create(named);
  REQUIRE(named_client.ok());
  CHECK_FALSE((*named_client)->Get(st.url() + "/").ok());
}

TEST_CASE("Server: graceful shutdown completes the request in flight, then stops", "[http][unit]") {
  std::promise<Responder> arrived;
  std::atomic<int> calls{0};
  ServerThread st(TlsOptions(), [&](HttpRequest, Responder r) {
    if (calls++ == 0) {
      arrived.set_value(std::move(r));  // answered later, from the test thread
    } else {
      r.Send(HttpResponse::Text(200, "quick"));
    }
  });
  std::string url = st.url();
  std::promise<Result<ClientResponse>> result;
  std::thread in_flight([&] {
    auto client = BlockingClient::Create(TrustingClient());
    result.set_value((*client)->Get(url + "/slow"));
  });
  // A second, idle keep-alive connection: shutdown must drop it.
  auto idle_client = BlockingClient::Create(TrustingClient());
  REQUIRE(idle_client.ok());
  auto fut = arrived.get_future();
  REQUIRE(fut.wait_for(10s) == std::future_status::ready);
  Responder responder = fut.get();
  REQUIRE((*idle_client)->Get(url + "/quick")->status == 200);
  REQUIRE(st.server().connection_count() == 2);

  std::promise<void> done;
  st.server().Shutdown(10s, [&] { done.set_value(); });
  auto done_fut = done.get_future();
  CHECK(done_fut.wait_for(200ms) == std::future_status::timeout);  // still in flight
  responder.Send(HttpResponse::Text(200, "finished"));
  auto res_fut = result.get_future();
  REQUIRE(res_fut.wait_for(10s) == std::future_status::ready);
  auto res = res_fut.get();
  in_flight.join();
  REQUIRE(res.ok());
  CHECK(res->status == 200);
  CHECK(res->body == "finished");
  CHECK(res->headers.Get("Connection") == "close");
  REQUIRE(done_fut.wait_for(10s) == std::future_status::ready);
  CHECK(st.server().connection_count() == 0);
  RawConnection refused(st.port());
  CHECK_FALSE(refused.connected());
}

TEST_CASE("Server: SIGTERM triggers the graceful shutdown", "[http][unit]") {
  // In a child process: the signal disposition is process-wide and Catch has its own handlers.
  int ready[2];
  REQUIRE(pipe(ready) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(ready[0]);
    // Catch's fatal-signal handlers are inherited; start from the default disposition.
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    boost::asio::io_context ioc;
    auto server = Server::Create(ioc.get_executor(), ServerOptions{}, EchoHandler);
    if (!server.ok()) _exit(2);
    bool done = false;
    (*server)->Start();
    (*server)->ShutdownOnSignals(1s, [&] { done = true; });
    if (write(ready[1], "r", 1) != 1) _exit(3);
    ioc.run_for(10s);  // returns early once the shutdown left no work
    _exit(done ? 0 : 1);
  }
  close(ready[1]);
  char c;
  REQUIRE(read(ready[0], &c, 1) == 1);
  close(ready[0]);
  REQUIRE(kill(pid, SIGTERM) == 0);
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + 15s;
  pid_t got = 0;
  while ((got = waitpid(pid, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  if (got == 0) kill(pid, SIGKILL);
  REQUIRE(got == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("Server: graceful shutdown ends open streams with their last chunk", "[http][unit]") {
  ServerThread st(TlsOptions(), [](HttpRequest, Responder r) {
    auto w = r.StartStream(200, {});
    w->Write(std::string("hello\n"));
  });
  auto client = BlockingClient::Create(TrustingClient());
  REQUIRE(client.ok());
  ClientRequest req;
  req.url = st.url() + "/watch";
  auto stream = (*client)->OpenStream(req);
  REQUIRE(stream.ok());
  REQUIRE((*stream)->ReadLine()->value() == "hello");
  std::promise<void> done;
  st.server().Shutdown(10s, [&] { done.set_value(); });
  auto end = (*stream)->ReadLine();
  REQUIRE(end.ok());
  CHECK_FALSE(end->has_value());  // a clean end of the body, not an error
  CHECK(done.get_future().wait_for(10s) == std::future_status::ready);
}

TEST_CASE("Server: connections beyond the limit are closed", "[http][unit]") {
  ServerOptions o;
  o.max_connections = 2;
  ServerThread st(o, EchoHandler);
  auto c1 = BlockingClient::Create();
  auto c2 = BlockingClient::Create();
  REQUIRE((*c1)->Get(st.url() + "/")->status == 200);
  REQUIRE((*c2)->Get(st.url() + "/")->status == 200);
  RawConnection third(st.port(), 10s);
  REQUIRE(third.connected());
  third.SendAll("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(third.ReadUntilClose().empty());
}

TEST_CASE("Client: plain HTTP, redirects and timeouts", "[http][unit]") {
  std::mutex mu;
  std::vector<Responder> parked;  // answered never; released before the server goes away
  ServerThread st(ServerOptions{}, [&](HttpRequest req, Responder r) {
    if (req.path == "/redirect") {
      HttpResponse res;
      res.status = 302;
      res.headers.Set("Location", "/target?from=redirect");
      r.Send(std::move(res));
    } else if (req.path == "/hang") {
      std::lock_guard<std::mutex> lock(mu);
      parked.push_back(std::move(r));
    } else {
      EchoHandler(std::move(req), std::move(r));
    }
  });
  ClientOptions o;
  o.follow_redirects = true;
  auto client = BlockingClient::Create(o);
  REQUIRE(client.ok());
  auto res = (*client)->Get(st.url() + "/redirect");
  REQUIRE(res.ok());
  CHECK(res->status == 200);
  CHECK(res->body.rfind("GET /target from=redirect", 0) == 0);
  ClientRequest slow;
  slow.url = st.url() + "/hang";
  slow.timeout = 200ms;
  auto timed_out = (*client)->Send(slow);
  REQUIRE_FALSE(timed_out.ok());
  CHECK(timed_out.error().code() == Code::kTimeout);
  auto refused = (*client)->Get("http://127.0.0.1:1/");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code() == Code::kUnavailable);
  std::lock_guard<std::mutex> lock(mu);
  parked.clear();
}

TEST_CASE("Server: a handler that drops the Responder yields 500", "[http][unit]") {
  ServerThread st(ServerOptions{}, [](HttpRequest req, Responder) {
    if (req.path == "/throw") throw std::runtime_error("boom");
  });
  auto client = BlockingClient::Create();
  REQUIRE(client.ok());
  CHECK((*client)->Get(st.url() + "/drop")->status == 500);
  CHECK((*client)->Get(st.url() + "/throw")->status == 500);
}

TEST_CASE("Server: curl talks to it with --cacert and with a client certificate", "[http][unit]") {
  int rc = 0;
  testing::RunCommand("curl --version >/dev/null 2>&1", &rc);
  if (rc != 0) {
    WARN("curl not installed; skipping");
    return;
  }
  ServerThread st(TlsOptions(), [](HttpRequest req, Responder r) {
    std::string who = "anonymous";
    if (req.tls && !req.tls->certificate_chain_pem.empty()) {
      who = InspectCertificate(req.tls->certificate_chain_pem[0])->common_name;
    }
    r.Send(HttpResponse::Text(200, who + " " + req.tls->alpn));
  });
  testutil::TempDir dir;
  const TestPki& pki = TestPki::Get();
  REQUIRE(WritePemFile(dir.File("ca.pem"), pki.ca.cert_pem, 0644).ok());
  REQUIRE(WritePemFile(dir.File("client.pem"), pki.client.cert_pem, 0644).ok());
  REQUIRE(WritePemFile(dir.File("client.key"), pki.client.key_pem, 0600).ok());
  std::string base = "curl -sS --max-time 10 --cacert " + dir.File("ca.pem") + " ";
  std::string out = testing::RunCommand(base + st.url() + "/", &rc);
  CHECK(rc == 0);
  CHECK(out == "anonymous http/1.1");
  out = testing::RunCommand(base + "--cert " + dir.File("client.pem") + " --key " +
                                dir.File("client.key") + " " + st.url() + "/",
                            &rc);
  CHECK(rc == 0);
  CHECK(out == "alice http/1.1");
  // curl offers h2 first; the server must still pick http/1.1.
  out = testing::RunCommand(base + "--http2 " + st.url() + "/", &rc);
  CHECK(rc == 0);
  CHECK(out == "anonymous http/1.1");
  // Without the CA, curl refuses the server.
  testing::RunCommand("curl -sS --max-time 10 " + st.url() + "/ 2>/dev/null", &rc);
  CHECK(rc != 0);
}

}  // namespace
}  // namespace mini8s::http

namespace mini8s::http {
namespace {

// Runs `openssl s_client` against the server with extra arguments; returns its output and sets
// *ok when the handshake completed (a cipher was negotiated).
std::string SClient(uint16_t port, const std::string& args, bool* ok) {
  int rc = 0;
  std::string out = testing::RunCommand(
      "echo | timeout 10 openssl s_client -connect 127.0.0.1:" + std::to_string(port) + " " +
          args + " 2>&1",
      &rc);
  *ok = rc == 0 && out.find("Cipher is (NONE)") == std::string::npos &&
        out.find("Cipher is ") != std::string::npos;
  return out;
}

TEST_CASE("Server: TLS below 1.2 and non-AEAD or non-forward-secret ciphers are refused",
          "[http][unit]") {
  int rc = 0;
  testing::RunCommand("openssl version >/dev/null 2>&1", &rc);
  if (rc != 0) {
    WARN("openssl not installed; skipping");
    return;
  }
  ServerThread st(TlsOptions(), EchoHandler);
  bool ok = false;
  // SECLEVEL=0 makes the client itself willing to speak the old protocols, so a failure is the
  // server's refusal and not the local client policy.
  std::string out = SClient(st.port(), "-tls1_2", &ok);
  CHECK(ok);
  CHECK(out.find("TLSv1.2") != std::string::npos);
  out = SClient(st.port(), "-tls1_3", &ok);
  CHECK(ok);
  CHECK(out.find("TLSv1.3") != std::string::npos);
  out = SClient(st.port(), "-tls1_2 -cipher ECDHE-ECDSA-CHACHA20-POLY1305", &ok);
  CHECK(ok);
  for (const char* args : {"-tls1_1 -cipher DEFAULT:@SECLEVEL=0", "-tls1 -cipher DEFAULT:@SECLEVEL=0",
                           "-tls1_2 -cipher AES128-SHA", "-tls1_2 -cipher AES128-GCM-SHA256",
                           "-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA256",
                           "-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA"}) {
    CAPTURE(args);
    out = SClient(st.port(), args, &ok);
    CAPTURE(out);
    CHECK_FALSE(ok);
  }
  // The server's preference wins: a client listing CHACHA20 first still gets AES-GCM.
  out = SClient(st.port(),
                "-tls1_2 -cipher ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256", &ok);
  CHECK(ok);
  CHECK(out.find("ECDHE-ECDSA-AES128-GCM-SHA256") != std::string::npos);
  // Client-initiated renegotiation ("R" on s_client's stdin) is refused.
  out = testing::RunCommand("(sleep 1; echo R; sleep 1) | timeout 10 openssl s_client -tls1_2 "
                            "-connect 127.0.0.1:" +
                                std::to_string(st.port()) + " 2>&1",
                            &rc);
  CHECK(out.find("RENEGOTIATING") != std::string::npos);
  CHECK(out.find("no renegotiation") != std::string::npos);
}

TEST_CASE("Server: ReloadTls serves new connections the new certificate; open ones keep working",
          "[http][unit]") {
  ServerThread st(TlsOptions(), [](HttpRequest req, Responder r) {
    r.Send(HttpResponse::Text(200, req.remote_address));
  });
  auto old_client = BlockingClient::Create(TrustingClient());
  REQUIRE(old_client.ok());
  auto first = (*old_client)->Get(st.url() + "/");
  REQUIRE(first.ok());
  CHECK(first->status == 200);

  // A certificate from another CA makes the switch observable: only its CA trusts it.
  auto other_ca = GenerateSelfSignedCa("rotated-ca");
  REQUIRE(other_ca.ok());
  CertificateRequest req;
  req.common_name = "localhost";
  req.dns_names = {"localhost"};
  req.ip_addresses = {"127.0.0.1"};
  req.server_auth = true;
  auto leaf = IssueCertificate(*other_ca, req);
  REQUIRE(leaf.ok());
  ServerTlsOptions bad;
  bad.cert_chain_pem = leaf->cert_pem;
  bad.key_pem = TestPki::Get().server.key_pem;  // does not match
  CHECK_FALSE(st.server().ReloadTls(bad).ok());
  ServerTlsOptions rotated = TestServerTls();
  rotated.cert_chain_file.clear();
  rotated.key_file.clear();
  rotated.cert_chain_pem = leaf->cert_pem;
  rotated.key_pem = leaf->key_pem;
  REQUIRE(st.server().ReloadTls(rotated).ok());

  // The open keep-alive connection still works (same client port as before).
  auto again = (*old_client)->Get(st.url() + "/");
  REQUIRE(again.ok());
  CHECK(again->body == first->body);
  // New connections get the new certificate.
  auto fresh_old_trust = BlockingClient::Create(TrustingClient());
  REQUIRE(fresh_old_trust.ok());
  CHECK_FALSE((*fresh_old_trust)->Get(st.url() + "/").ok());
  ClientOptions new_trust;
  new_trust.ca_pem = other_ca->cert_pem;
  auto fresh = BlockingClient::Create(new_trust);
  REQUIRE(fresh.ok());
  auto got = (*fresh)->Get(st.url() + "/");
  REQUIRE(got.ok());
  CHECK(got->status == 200);
}

}  // namespace
}  // namespace mini8s::http
