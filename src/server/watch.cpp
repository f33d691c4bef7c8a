// Watch streams: chunked JSON event lines driven by store notifications.
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "mini8s/api/object.h"
#include "mini8s/api/selector.h"
#include "mini8s/common/json.h"
#include "mini8s/common/logging.h"
#include "server/internal.h"
#include "server/stored_json.h"

namespace mini8s::server {

namespace asio = boost::asio;

// Bytes a client may leave unread before its watch is cut off (upstream drops slow watchers too).
constexpr size_t kMaxQueuedBytes = 16 * 1024 * 1024;

struct WatchSession : std::enable_shared_from_this<WatchSession> {
  using Strand = asio::strand<asio::thread_pool::executor_type>;

  ApiServer::Impl* impl;
  api::KindInfoConstSharedPtr kind;
  Strand strand;
  std::unique_ptr<store::Watcher> watcher;
  std::shared_ptr<http::StreamWriter> writer;
  api::LabelSelector labels;
  api::FieldSelector fields;
  bool bookmarks = false;
  asio::steady_timer deadline;
  asio::steady_timer bookmark_timer;
  bool done = false;
  OutputFormat format;
  bool table_headers_sent = false;

  WatchSession(ApiServer::Impl* i, api::KindInfoConstSharedPtr k)
      : impl(i),
        kind(std::move(k)),
        strand(asio::make_strand(i->pool.get_executor())),
        deadline(strand),
        bookmark_timer(strand) {}

  bool Matches(const json::object& obj) const {
    if (!labels.Empty() && !labels.Matches(api::Labels(obj))) return false;
    if (!fields.Empty() && !fields.Matches(ObjectFields(*kind, obj))) return false;
    return true;
  }

  // One event line; objects become one-row Tables when the client asked for Tables (column
  // definitions only in the first, as upstream).
  std::string EventLine(std::string_view type, const json::object& obj) {
    std::string body;
    if (format.table && type != "BOOKMARK" && type != "ERROR") {
      api::TableOptions to;
      to.now = impl->opts.clock->Now();
      to.include_object = format.include_object;
      to.no_headers = table_headers_sent;
      table_headers_sent = true;
      body = SerializeJson(api::BuildTable(*kind, {&obj}, to));
    } else {
      body = SerializeJson(obj);
    }
    return LineWithBody(type, body);
  }

  // `{"type":"<type>","object":<body>}` and a newline: a watch event as upstream frames it.
  static std::string LineWithBody(std::string_view type, std::string_view body) {
    std::string line;
    line.reserve(body.size() + type.size() + 24);
    line.append("{\"type\":\"").append(type).append("\",\"object\":");
    line.append(body).append("}\n");
    return line;
  }

  void WriteEvent(std::string_view type, const json::object& obj) {
    WriteLine(EventLine(type, obj));
  }

  void WriteLine(std::string line) {
    if (!writer->Write(std::move(line)) || writer->queued_bytes() > kMaxQueuedBytes) {
      if (!writer->closed()) {
        impl->metrics.watchers_terminated.fetch_add(1, std::memory_order_relaxed);
        writer->Abort();
      }
      End();
      return;
    }
    impl->metrics.watch_events_sent.fetch_add(1, std::memory_order_relaxed);
  }

  // True when the selection can be decided from the store key alone (no label selector, field
  // terms only on metadata.name / metadata.namespace, which never change) and events go out as
  // JSON: then an event is the stored bytes plus its resourceVersion, as a GET sends them
  // (stored_json.h), with no decode and re-serialization per event and watcher.
  bool KeyOnly() const {
    if (format.table || !labels.Empty()) return false;
    for (const auto& r : fields.requirements()) {
      if (r.field != "metadata.name" && r.field != "metadata.namespace") return false;
    }
    return true;
  }

  bool KeyMatches(std::string_view key) const {
    if (fields.Empty()) return true;
    auto slash = key.rfind('/');
    std::string_view name = key.substr(slash + 1), ns;
    if (kind->namespaced && slash != std::string_view::npos) {
      std::string_view rest = key.substr(0, slash);
      ns = rest.substr(rest.rfind('/') + 1);
    }
    return fields.Matches(api::StringMap{{"metadata.name", std::string(name)},
                                         {"metadata.namespace", std::string(ns)}});
  }

  // Runs on the strand: forwards every ready event.
  void Drain() {
    if (done) return;
    std::vector<store::EventPtr> events;
    Status s = watcher->Drain(events, 256);
    const bool key_only = KeyOnly();
    for (const auto& ev : events) {
      if (done) return;
      if (key_only) {
        if (!KeyMatches(ev->key)) continue;
        if (auto body = WithResourceVersion(*ev->value, ev->revision)) {
          std::string_view type = ev->type == store::EventType::kAdded      ? "ADDED"
                                  : ev->type == store::EventType::kModified ? "MODIFIED"
                                                                            : "DELETED";
          WriteLine(LineWithBody(type, *body));
          continue;
        }
      }
      auto obj = impl->DecodeValue(*ev->value, ev->revision);
      if (!obj.ok()) continue;
      bool now = Matches(*obj);
      bool before = false;
      if (ev->prev_value) {
        // Without selectors every object matches: decoding the old value would be wasted work
        // (it is most of a watch's cost when nobody filters).
        if (labels.Empty() && fields.Empty()) {
          before = true;
        } else {
          auto prev = impl->DecodeValue(*ev->prev_value, ev->prev_revision);
          before = prev.ok() && Matches(*prev);
        }
      }
      switch (ev->type) {
        case store::EventType::kAdded:
          if (now) WriteEvent("ADDED", *obj);
          break;
        case store::EventType::kModified:
          if (now && before) WriteEvent("MODIFIED", *obj);
          else if (now) WriteEvent("ADDED", *obj);
          else if (before) WriteEvent("DELETED", *obj);
          break;
        case store::EventType::kDeleted:
          if (now) WriteEvent("DELETED", *obj);
          break;
      }
    }
    if (!s.ok()) {
      if (s.Is(Code::kResourceExhausted)) {
        impl->metrics.watchers_terminated.fetch_add(1, std::memory_order_relaxed);
      }
      // The watch ended (store closed, or this watcher fell behind): close the stream and let
      // the client re-watch from its last resourceVersion, as upstream does.
      Finish();
      return;
    }
    if (!events.empty()) {
      asio::post(strand, [self = shared_from_this()] { self->Drain(); });
    }
  }

  void ScheduleBookmark() {
    bookmark_timer.expires_after(impl->opts.bookmark_interval);
    bookmark_timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->done) return;
      json::object bm{{"kind", self->kind->kind},
                      {"apiVersion", self->kind->ApiVersion()},
                      {"metadata", json::object{{"resourceVersion",
                                                 std::to_string(
                                                     self->watcher->ProgressRevision())}}}};
      self->WriteEvent("BOOKMARK", bm);
      if (!self->done) self->ScheduleBookmark();
    });
  }

  void Start(std::chrono::milliseconds timeout) {
    deadline.expires_after(timeout);
    deadline.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->Finish();
    });
    if (bookmarks) ScheduleBookmark();
    std::weak_ptr<WatchSession> weak = shared_from_this();
    writer->OnClose([weak] {
      if (auto self = weak.lock()) asio::post(self->strand, [self] { self->End(); });
    });
    watcher->SetNotify([weak] {
      if (auto self = weak.lock()) asio::post(self->strand, [self] { self->Drain(); });
    });
  }

  void Finish() {
    if (done) return;
    writer->Finish();
    End();
  }

  // Releases everything; runs on the strand.
  void End() {
    if (done) return;
    done = true;
    watcher->Stop();
    deadline.cancel();
    bookmark_timer.cancel();
    impl->RemoveWatch(shared_from_this());
  }
};

void StopWatchSession(const std::shared_ptr<WatchSession>& w) {
  asio::post(w->strand, [w] { w->Finish(); });
}

void ApiServer::Impl::RemoveWatch(const std::shared_ptr<WatchSession>& w) {
  std::lock_guard<std::mutex> lock(watches_mu);
  watches.erase(w);
}

std::optional<Reply> ApiServer::Impl::Watch(const http::HttpRequest& req, const RequestInfo& info,
                                            const api::KindInfo& k, http::Responder& responder) {
  auto kind = registry->FindResource(k.group, k.version, k.plural);
  if (!kind) return NotFoundReply(k, info.name);  // a CRD removed meanwhile
  auto session = std::make_shared<WatchSession>(this, kind);
  if (auto fmt = NegotiateOutput(req)) session->format = *fmt;
  if (auto t = req.QueryParam("labelSelector"); t && !t->empty()) {
    auto r = api::LabelSelector::Parse(*t);
    if (!r.ok()) return BadRequestReply(r.error().message());
    session->labels = std::move(*r);
  }
  if (auto t = req.QueryParam("fieldSelector"); t && !t->empty()) {
    auto r = api::FieldSelector::Parse(*t);
    if (!r.ok()) return BadRequestReply(r.error().message());
    Status s = r->CheckSupported(k.selectable_fields);
    if (!s.ok()) return BadRequestReply(s.message());
    session->fields = std::move(*r);
  }
  // GET .../pods/x?watch=1 (or /watch/.../pods/x) watches one object.
  if (!info.name.empty()) {
    auto r = api::FieldSelector::Parse(
        "metadata.name=" + api::EscapeFieldValue(info.name) +
        (session->fields.Empty() ? "" : "," + session->fields.String()));
    if (r.ok()) session->fields = std::move(*r);
  }
  auto q = [&](std::string_view n) { return req.QueryParam(n).value_or(""); };
  session->bookmarks = QueryBool(req, "allowWatchBookmarks");
  std::chrono::milliseconds timeout = opts.max_watch_timeout;
  if (std::string t = q("timeoutSeconds"); !t.empty()) {
    try {
      int64_t secs = std::stoll(t);
      if (secs > 0) timeout = std::min(timeout, std::chrono::milliseconds(secs * 1000));
    } catch (const std::exception&) {
      return BadRequestReply("invalid timeoutSeconds: " + t);
    }
  }
  std::string prefix = Prefix(k, k.namespaced ? info.namespace_ : "");
  if (!info.name.empty()) prefix = Key(k, info.namespace_, info.name);
  std::string rv = q("resourceVersion");
  std::vector<std::string> initial;
  store::Revision start = 0;
  std::optional<json::object> error_event;
  if (rv.empty() || rv == "0") {
    auto listed = store->List(prefix);
    if (!listed.ok()) return FromStatus(listed.error());
    for (const auto& kv : listed->items) {
      if (!info.name.empty() && kv.key != prefix) continue;
      auto obj = Decode(kv);
      if (obj.ok() && session->Matches(*obj)) {
        initial.push_back(session->EventLine("ADDED", *obj));
      }
    }
    start = listed->revision;
  } else {
    try {
      start = std::stoll(rv);
    } catch (const std::exception&) {
      return BadRequestReply("resourceVersion: Invalid value: \"" + rv +
                             "\": must be a valid resource version");
    }
  }
  auto w = store->Watch(prefix, start);
  if (!w.ok()) {
    if (w.error().Is(Code::kExpired)) {
      store::StoreStats st = store->Stats();
      error_event = StatusObject(410, "Expired",
                                 "too old resource version: " + rv + " (" +
                                     std::to_string(st.window_start) + ")");
    } else if (w.error().Is(Code::kTimeout)) {
      error_event = StatusObject(504, "Timeout",
                                 "Timeout: Too large resource version: " + rv + ", current: " +
                                     std::to_string(store->CurrentRevision()));
    } else {
      return FromStatus(w.error());
    }
  }
  http::Headers headers;
  headers.Set("Content-Type", "application/json");
  headers.Set("Cache-Control", "no-cache, private");
  auto writer = responder.StartStream(200, headers);
  if (!writer) return std::nullopt;
  if (error_event) {
    writer->Write("{\"type\":\"ERROR\",\"object\":" + SerializeJson(*error_event) + "}\n");
    writer->Finish();
    return std::nullopt;
  }
  metrics.watch_events_sent.fetch_add(initial.size(), std::memory_order_relaxed);
  for (auto& line : initial) writer->Write(std::move(line));
  session->writer = std::move(writer);
  session->watcher = std::move(*w);
  {
    std::lock_guard<std::mutex> lock(watches_mu);
    if (stopping) {
      session->writer->Finish();
      return std::nullopt;
    }
    watches.insert(session);
  }
  metrics.watches_started.fetch_add(1, std::memory_order_relaxed);
  asio::post(session->strand, [session, timeout] { session->Start(timeout); });
  return std::nullopt;
}

}  // namespace mini8s::server
