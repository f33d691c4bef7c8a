// LocalClient: client::RestClient over an in-process transport that hands each request to
// ApiServer::Impl::Process on the server's worker pool with the caller's identity already
// established. Responses come back through an http::LocalSink; watch streams through a
// concurrent channel whose receiving side is the http::ResponseStream the RestClient reads.
#include <deque>
#include <mutex>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "mini8s/client/rest_client.h"
#include "mini8s/common/json.h"
#include "mini8s/http/client.h"
#include "server/internal.h"

namespace mini8s::server {

namespace asio = boost::asio;

namespace {

// The ServerRequest an HTTP connection would have produced for `request`.
Result<http::HttpRequest> ToServerRequest(http::ClientRequest request) {
  http::HttpRequest req;
  req.method = std::move(request.method);
  req.target = std::move(request.url);
  std::string_view target = req.target;
  std::size_t q = target.find('?');
  MINI8S_ASSIGN_OR_RETURN(req.path, http::DecodePath(target.substr(0, q)));
  if (q != std::string_view::npos) {
    req.raw_query = std::string(target.substr(q + 1));
    MINI8S_ASSIGN_OR_RETURN(req.query, http::ParseQuery(req.raw_query));
  }
  req.headers = std::move(request.headers);
  req.body = std::move(request.body);
  req.remote_address = "local";
  return req;
}

// Chunks of a streamed answer, pushed by server threads and read by the client's coroutine.
using Channel =
    asio::experimental::concurrent_channel<void(boost::system::error_code, std::string)>;

// Both ends of one in-process stream: the server writes through the StreamWriter face, the client
// reads through the ResponseStream face.
class LocalStream final : public http::StreamWriter,
                          public http::ResponseStream,
                          public std::enable_shared_from_this<LocalStream> {
 public:
  // A watch that falls this many events behind is cut off, as a slow HTTP watcher is.
  static constexpr std::size_t kCapacity = 8192;

  LocalStream(asio::any_io_executor reader, int status, http::Headers headers)
      : channel_(reader, kCapacity), status_(status), headers_(std::move(headers)) {}

  // ---- StreamWriter (server side, any thread) ----
  bool Write(std::shared_ptr<const std::string> chunk) override {
    if (closed_.load() || chunk == nullptr) return false;
    if (!channel_.try_send(boost::system::error_code(), *chunk)) {
      Abort();  // the reader is too far behind
      return false;
    }
    return true;
  }
  void Finish() override { End(); }
  void Abort() override { End(); }
  bool closed() const override { return closed_.load(); }
  std::size_t queued_bytes() const override { return 0; }  // bounded by kCapacity instead
  void OnClose(std::function<void()> callback) override {
    {
      std::lock_guard lock(mu_);
      if (!closed_.load()) {
        on_close_.push_back(std::move(callback));
        return;
      }
    }
    callback();
  }

  // ---- ResponseStream (client side, the reader's executor) ----
  int status() const override { return status_; }
  const std::string& reason() const override { return reason_; }
  const http::Headers& headers() const override { return headers_; }
  asio::awaitable<Result<std::string>> ReadSome(std::size_t max_bytes) override {
    if (pending_.empty()) {
      auto next = co_await Receive();
      if (!next) co_return std::string();
      pending_ = std::move(*next);
    }
    std::string out = pending_.substr(0, max_bytes);
    pending_.erase(0, out.size());
    co_return out;
  }
  asio::awaitable<Result<std::optional<std::string>>> ReadLine(std::size_t max_line) override {
    for (;;) {
      std::size_t nl = pending_.find('\n');
      if (nl != std::string::npos) {
        std::string line = pending_.substr(0, nl);
        pending_.erase(0, nl + 1);
        co_return std::optional<std::string>(std::move(line));
      }
      if (pending_.size() > max_line) co_return Status::ResourceExhausted("line too long");
      auto next = co_await Receive();
      if (!next) {
        if (pending_.empty()) co_return std::optional<std::string>();
        std::string last = std::move(pending_);
        pending_.clear();
        co_return std::optional<std::string>(std::move(last));
      }
      pending_ += *next;
    }
  }
  asio::awaitable<Result<std::string>> ReadAll() override {
    std::string all = std::move(pending_);
    pending_.clear();
    for (;;) {
      auto next = co_await Receive();
      if (!next) break;
      all += *next;
    }
    co_return all;
  }
  void Close() override { End(); }
  void SetReadTimeout(std::chrono::milliseconds) override {}

 private:
  // The next chunk; nullopt once the stream ended and every chunk was read.
  asio::awaitable<std::optional<std::string>> Receive() {
    auto [ec, chunk] = co_await channel_.async_receive(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return std::nullopt;
    co_return std::optional<std::string>(std::move(chunk));
  }

  void End() {
    std::vector<std::function<void()>> callbacks;
    {
      std::lock_guard lock(mu_);
      if (closed_.exchange(true)) return;
      callbacks.swap(on_close_);
    }
    // Chunks already queued stay readable; the reader then sees the end.
    channel_.close();
    for (auto& cb : callbacks) cb();
  }

  Channel channel_;
  int status_;
  std::string reason_;
  http::Headers headers_;
  std::string pending_;  // reader side only
  std::mutex mu_;
  std::atomic<bool> closed_{false};
  std::vector<std::function<void()>> on_close_;
};

// Completes a coroutine's handler exactly once, on the handler's executor.
template <class Handler, class T>
class Completion {
 public:
  explicit Completion(Handler h) : handler_(std::move(h)) {}
  void Complete(T value) {
    std::optional<Handler> h;
    {
      std::lock_guard lock(mu_);
      if (!handler_) return;
      h.emplace(std::move(*handler_));
      handler_.reset();
    }
    auto ex = asio::get_associated_executor(*h);
    asio::post(ex, [h = std::move(*h), v = std::move(value)]() mutable { std::move(h)(std::move(v)); });
  }

 private:
  std::mutex mu_;
  std::optional<Handler> handler_;
};

// Send(): whole responses; a streamed answer is collected until it ends.
template <class Handler>
class WholeSink final : public http::LocalSink {
 public:
  using Value = Result<http::ClientResponse>;
  WholeSink(Handler h, asio::any_io_executor ex) : done_(std::move(h)), ex_(std::move(ex)) {}

  void OnResponse(http::HttpResponse response) override {
    http::ClientResponse r;
    r.status = response.status;
    r.reason = std::string(http::ReasonPhrase(response.status));
    r.headers = std::move(response.headers);
    r.body = std::move(response.body);
    done_.Complete(Value(std::move(r)));
  }
  std::shared_ptr<http::StreamWriter> OnStream(int status, http::Headers headers) override {
    auto stream = std::make_shared<LocalStream>(ex_, status, std::move(headers));
    asio::co_spawn(
        ex_,
        [stream, self = this->shared_from_this_sink()]() -> asio::awaitable<void> {
          auto body = co_await stream->ReadAll();
          http::ClientResponse r;
          r.status = stream->status();
          r.headers = stream->headers();
          r.body = body.has_value() ? std::move(body).value() : std::string();
          self->done_.Complete(Value(std::move(r)));
        },
        asio::detached);
    return stream;
  }
  void OnAbandoned() override {
    done_.Complete(Value(Status::Internal("the API server dropped an in-process request")));
  }

  void set_self(std::weak_ptr<WholeSink> self) { self_ = std::move(self); }

 private:
  std::shared_ptr<WholeSink> shared_from_this_sink() { return self_.lock(); }
  Completion<Handler, Value> done_;
  asio::any_io_executor ex_;
  std::weak_ptr<WholeSink> self_;
};

// OpenStream(): the answer as a ResponseStream (a whole response becomes a finished stream).
template <class Handler>
class StreamSink final : public http::LocalSink {
 public:
  using Value = Result<std::unique_ptr<http::ResponseStream>>;
  StreamSink(Handler h, asio::any_io_executor ex) : done_(std::move(h)), ex_(std::move(ex)) {}

  void OnResponse(http::HttpResponse response) override {
    auto stream = std::make_shared<LocalStream>(ex_, response.status, std::move(response.headers));
    if (!response.body.empty()) stream->http::StreamWriter::Write(std::move(response.body));
    stream->Finish();
    done_.Complete(Value(Wrap(std::move(stream))));
  }
  std::shared_ptr<http::StreamWriter> OnStream(int status, http::Headers headers) override {
    auto stream = std::make_shared<LocalStream>(ex_, status, std::move(headers));
    done_.Complete(Value(Wrap(stream)));
    return stream;
  }
  void OnAbandoned() override {
    done_.Complete(Value(Status::Internal("the API server dropped an in-process request")));
  }

 private:
  // The RestClient owns a unique_ptr<ResponseStream>; the server keeps its shared writer face.
  class Owner final : public http::ResponseStream {
   public:
    explicit Owner(std::shared_ptr<LocalStream> s) : s_(std::move(s)) {}
    ~Owner() override { s_->Close(); }
    int status() const override { return s_->status(); }
    const std::string& reason() const override { return s_->reason(); }
    const http::Headers& headers() const override { return s_->headers(); }
    asio::awaitable<Result<std::string>> ReadSome(std::size_t n) override {
      return s_->ReadSome(n);
    }
    asio::awaitable<Result<std::optional<std::string>>> ReadLine(std::size_t n) override {
      return s_->ReadLine(n);
    }
    asio::awaitable<Result<std::string>> ReadAll() override { return s_->ReadAll(); }
    void Close() override { s_->Close(); }
    void SetReadTimeout(std::chrono::milliseconds t) override { s_->SetReadTimeout(t); }

   private:
    std::shared_ptr<LocalStream> s_;
  };
  static std::unique_ptr<http::ResponseStream> Wrap(std::shared_ptr<LocalStream> s) {
    return std::make_unique<Owner>(std::move(s));
  }

  Completion<Handler, Value> done_;
  asio::any_io_executor ex_;
};

class LocalTransport final : public client::RestTransport {
 public:
  LocalTransport(ApiServer::Impl* impl, UserInfo user) : impl_(impl), user_(std::move(user)) {}

  asio::awaitable<Result<http::ClientResponse>> Send(http::ClientRequest request) override {
    auto req = ToServerRequest(std::move(request));
    if (!req.has_value()) co_return req.error();
    auto ex = co_await asio::this_coro::executor;
    ApiServer::Impl* impl = impl_;
    const UserInfo* user = &user_;
    using Value = Result<http::ClientResponse>;
    // The initiation is a named local: GCC 12 destroys temporaries in a co_await's arguments
    // twice.
    auto init = [impl, user, ex, r = std::move(req).value()](auto handler) mutable {
      using H = decltype(handler);
      auto sink = std::make_shared<WholeSink<H>>(std::move(handler), ex);
      sink->set_self(sink);
      Dispatch(impl, user, std::move(r), std::move(sink));
    };
    Value v = co_await asio::async_initiate<decltype(asio::use_awaitable), void(Value)>(
        std::move(init), asio::use_awaitable);
    co_return v;
  }

  asio::awaitable<Result<std::unique_ptr<http::ResponseStream>>> OpenStream(
      http::ClientRequest request) override {
    auto req = ToServerRequest(std::move(request));
    if (!req.has_value()) co_return req.error();
    auto ex = co_await asio::this_coro::executor;
    ApiServer::Impl* impl = impl_;
    const UserInfo* user = &user_;
    using Value = Result<std::unique_ptr<http::ResponseStream>>;
    auto init = [impl, user, ex, r = std::move(req).value()](auto handler) mutable {
      using H = decltype(handler);
      auto sink = std::make_shared<StreamSink<H>>(std::move(handler), ex);
      Dispatch(impl, user, std::move(r), std::move(sink));
    };
    Value v = co_await asio::async_initiate<decltype(asio::use_awaitable), void(Value)>(
        std::move(init), asio::use_awaitable);
    co_return v;
  }

 private:
  static void Dispatch(ApiServer::Impl* impl, const UserInfo* user, http::HttpRequest req,
                       std::shared_ptr<http::LocalSink> sink) {
    if (impl->stopping.load()) {
      http::HttpResponse resp;
      resp.status = 503;
      resp.headers.Set("Content-Type", "application/json");
      resp.body = SerializeJson(
          StatusObject(503, "ServiceUnavailable", "the server is shutting down"));
      sink->OnResponse(std::move(resp));
      return;
    }
    asio::post(impl->pool, [impl, user, req = std::move(req), sink = std::move(sink)]() mutable {
      http::Responder responder = http::MakeLocalResponder(std::move(sink));
      impl->Process(req, responder, user);
    });
  }

  ApiServer::Impl* impl_;
  UserInfo user_;
};

}  // namespace

std::unique_ptr<client::Client> ApiServer::NewLocalClient(UserInfo user) {
  client::RestConfig config;  // server "" : request targets are plain paths
  client::RestClientOptions options;
  options.user_agent = "mini8s-local";
  return client::RestClient::WithTransport(
      std::move(config), std::move(options),
      std::make_unique<LocalTransport>(impl_.get(), std::move(user)));
}

}  // namespace mini8s::server
