#include "mini8s/client/informer.h"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "mini8s/api/object.h"
#include "mini8s/common/logging.h"

namespace mini8s::client {

namespace json = boost::json;
namespace asio = boost::asio;

namespace {

void DropManagedFields(json::object& obj) {
  if (json::value* meta = obj.if_contains("metadata"); meta != nullptr && meta->is_object()) {
    meta->get_object().erase("managedFields");
  }
}

}  // namespace

std::vector<std::string> IndexByNamespace(const json::object& obj) {
  return {std::string(api::Namespace(obj))};
}

std::vector<std::string> IndexByOwnerUid(const json::object& obj) {
  std::vector<std::string> out;
  for (const auto& ref : api::OwnerReferences(obj)) out.push_back(ref.uid);
  return out;
}

std::vector<std::string> IndexByNodeName(const json::object& obj) {
  std::string_view node = api::GetString(obj, "spec.nodeName");
  if (node.empty()) return {};
  return {std::string(node)};
}

std::vector<std::string> IndexOrphansByNamespace(const json::object& obj) {
  const json::object* meta = api::GetObject(obj, "metadata");
  if (meta != nullptr) {
    if (const json::value* refs = meta->if_contains("ownerReferences");
        refs != nullptr && refs->is_array()) {
      for (const auto& r : refs->get_array()) {
        const json::value* c = r.is_object() ? r.get_object().if_contains("controller") : nullptr;
        if (c != nullptr && c->is_bool() && c->get_bool()) return {};
      }
    }
  }
  return {std::string(api::Namespace(obj))};
}

// ---- Indexer ----

void Indexer::AddIndex(std::string name, IndexFunc func) {
  Index& idx = indexes_[name];
  idx.func = std::move(func);
  idx.values.clear();
  for (const auto& [key, obj] : items_) {
    for (auto& v : idx.func(*obj)) idx.values[v].insert_or_assign(key, obj);
  }
}

void Indexer::Unindex(const std::string& key, const json::object& obj) {
  for (auto& [name, idx] : indexes_) {
    for (const auto& v : idx.func(obj)) {
      auto it = idx.values.find(v);
      if (it == idx.values.end()) continue;
      it->second.erase(key);
      if (it->second.empty()) idx.values.erase(it);
    }
  }
}

void Indexer::IndexOne(const std::string& key, const ObjectPtr& obj) {
  for (auto& [name, idx] : indexes_) {
    for (auto& v : idx.func(*obj)) idx.values[v].insert_or_assign(key, obj);
  }
}

void Indexer::Upsert(const std::string& key, ObjectPtr obj) {
  auto it = items_.find(key);
  if (it != items_.end()) {
    Unindex(key, *it->second);
    it->second = obj;
  } else {
    items_.emplace(key, obj);
  }
  IndexOne(key, obj);
}

ObjectPtr Indexer::Remove(const std::string& key) {
  auto it = items_.find(key);
  if (it == items_.end()) return nullptr;
  ObjectPtr old = std::move(it->second);
  items_.erase(it);
  Unindex(key, *old);
  return old;
}

ObjectPtr Indexer::Get(std::string_view key) const {
  auto it = items_.find(key);
  return it == items_.end() ? nullptr : it->second;
}

ObjectPtr Indexer::Get(std::string_view ns, std::string_view name) const {
  if (ns.empty()) return Get(name);
  std::string key(ns);
  key.append("/").append(name);
  return Get(std::string_view(key));
}

std::vector<ObjectPtr> Indexer::List() const {
  std::vector<ObjectPtr> out;
  out.reserve(items_.size());
  for (const auto& [k, v] : items_) out.push_back(v);
  return out;
}

std::vector<std::string> Indexer::Keys() const {
  std::vector<std::string> out;
  out.reserve(items_.size());
  for (const auto& [k, v] : items_) out.push_back(k);
  return out;
}

std::vector<std::string> Indexer::IndexKeys(std::string_view index, std::string_view value) const {
  auto idx = indexes_.find(index);
  if (idx == indexes_.end()) return {};
  auto it = idx->second.values.find(value);
  if (it == idx->second.values.end()) return {};
  std::vector<std::string> out;
  out.reserve(it->second.size());
  for (const auto& [key, obj] : it->second) out.push_back(key);
  return out;
}

std::vector<ObjectPtr> Indexer::ByIndex(std::string_view index, std::string_view value) const {
  auto idx = indexes_.find(index);
  if (idx == indexes_.end()) return {};
  auto it = idx->second.values.find(value);
  if (it == idx->second.values.end()) return {};
  std::vector<ObjectPtr> out;
  out.reserve(it->second.size());
  for (const auto& [key, obj] : it->second) out.push_back(obj);
  return out;
}

// ---- Informer ----

struct Informer::Waker {
  std::optional<asio::steady_timer> backoff;
  std::optional<asio::steady_timer> resync;
  WatchStream* watch = nullptr;  // the open watch, owned by WatchOnce's frame
  bool stopped = false;          // read by ResyncLoop, which may outlive the Informer
};

Informer::Informer(Client& client, Resource resource, InformerOptions options)
    : client_(client),
      resource_(std::move(resource)),
      options_(std::move(options)),
      waker_(std::make_shared<Waker>()) {}

Informer::~Informer() = default;

void Informer::AddEventHandlers(EventHandlers handlers) {
  if (synced_ && handlers.on_add) {
    for (const auto& obj : indexer_.List()) handlers.on_add(obj);
  }
  handlers_.push_back(std::move(handlers));
}

void Informer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  waker_->stopped = true;
  if (waker_->backoff) waker_->backoff->cancel();
  if (waker_->resync) waker_->resync->cancel();
  if (waker_->watch) waker_->watch->Stop();
}

void Informer::Resync() {
  for (const auto& obj : indexer_.List()) {
    for (auto& h : handlers_) {
      if (h.on_update) h.on_update(obj, obj);
    }
  }
}

asio::awaitable<void> Informer::Backoff() {
  backoff_ = backoff_.count() == 0 ? options_.initial_backoff
                                   : std::min(backoff_ * 2, options_.max_backoff);
  waker_->backoff->expires_after(backoff_);
  auto [ec] = co_await waker_->backoff->async_wait(asio::as_tuple(asio::use_awaitable));
  (void)ec;
}

asio::awaitable<Status> Informer::ListAndReplace() {
  ListOptions lo;
  lo.label_selector = options_.label_selector;
  lo.field_selector = options_.field_selector;
  lo.limit = options_.page_size;
  std::vector<json::object> items;
  std::string rv;
  for (;;) {
    auto page = co_await client_.List(resource_, options_.ns, lo);
    if (!page.has_value()) co_return page.error();
    for (auto& it : page->items) items.push_back(std::move(it));
    if (rv.empty()) rv = page->resource_version;
    if (page->continue_token.empty()) break;
    lo.continue_token = page->continue_token;
    if (stopped_) co_return Status::Cancelled("informer stopped");
  }
  ++list_count_;
  // Diff the list against the cache (client-go DeltaFIFO.Replace): one event per change.
  std::set<std::string> seen;
  for (auto& item : items) {
    std::string key = ObjectKey(item);
    seen.insert(key);
    ObjectPtr old = indexer_.Get(std::string_view(key));
    if (options_.drop_managed_fields) DropManagedFields(item);
    auto obj = std::make_shared<const json::object>(std::move(item));
    if (old && api::ResourceVersion(*old) == api::ResourceVersion(*obj) &&
        !api::ResourceVersion(*obj).empty()) {
      continue;  // unchanged during the gap
    }
    indexer_.Upsert(key, obj);
    for (auto& h : handlers_) {
      if (old && h.on_update) h.on_update(old, obj);
      if (!old && h.on_add) h.on_add(obj);
    }
  }
  for (const auto& key : indexer_.Keys()) {
    if (seen.count(key) != 0) continue;
    ObjectPtr old = indexer_.Remove(key);
    DeletedObject del{key, old, true};
    for (auto& h : handlers_) {
      if (h.on_delete) h.on_delete(del);
    }
  }
  last_rv_ = rv;
  synced_ = true;
  co_return Status();
}

void Informer::Apply(const WatchEvent& ev) {
  std::string_view rv = api::ResourceVersion(ev.object);
  if (!rv.empty()) last_rv_ = std::string(rv);
  if (ev.type == WatchEventType::kBookmark) return;
  std::string key = ObjectKey(ev.object);
  if (ev.type == WatchEventType::kDeleted) {
    ObjectPtr old = indexer_.Remove(key);
    DeletedObject del{key, std::make_shared<const json::object>(ev.object), false};
    for (auto& h : handlers_) {
      if (h.on_delete) h.on_delete(del);
    }
    return;
  }
  auto copy = std::make_shared<json::object>(ev.object);
  if (options_.drop_managed_fields) DropManagedFields(*copy);
  ObjectPtr obj = std::move(copy);
  ObjectPtr old = indexer_.Get(std::string_view(key));
  indexer_.Upsert(key, obj);
  for (auto& h : handlers_) {
    if (old && h.on_update) h.on_update(old, obj);
    if (!old && h.on_add) h.on_add(obj);
  }
}

asio::awaitable<Status> Informer::WatchOnce() {
  ListOptions lo;
  lo.label_selector = options_.label_selector;
  lo.field_selector = options_.field_selector;
  lo.resource_version = last_rv_;
  lo.allow_bookmarks = true;
  auto opened = co_await client_.Watch(resource_, options_.ns, lo);
  if (!opened.has_value()) co_return opened.error();
  std::unique_ptr<WatchStream> stream = std::move(opened).value();
  waker_->watch = stream.get();
  Status result;
  while (!stopped_) {
    auto next = co_await stream->Next();
    if (!next.has_value()) {
      result = next.error();
      break;
    }
    if (!next->has_value()) break;  // ended normally: resume from last_rv_
    backoff_ = std::chrono::milliseconds(0);
    Apply(**next);
  }
  waker_->watch = nullptr;
  co_return result;
}

asio::awaitable<void> Informer::ResyncLoop() {
  std::shared_ptr<Waker> waker = waker_;  // keeps the timer alive if Run finished first
  const auto period = options_.resync_period;
  while (!waker->stopped) {
    waker->resync->expires_after(period);
    auto [ec] = co_await waker->resync->async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec || waker->stopped) break;
    if (synced_) Resync();
  }
}

asio::awaitable<void> Informer::Run() {
  auto ex = co_await asio::this_coro::executor;
  waker_->backoff.emplace(ex);
  waker_->resync.emplace(ex);
  if (options_.resync_period.count() > 0) {
    asio::co_spawn(ex, ResyncLoop(), asio::detached);
  }
  bool need_list = true;
  while (!stopped_) {
    if (need_list) {
      Status s = co_await ListAndReplace();
      if (stopped_) break;
      if (!s.ok()) {
        MINI8S_LOG(WARNING) << "informer " << resource_.GroupResource()
                            << ": list failed: " << s.ToString();
        co_await Backoff();
        continue;
      }
      need_list = false;
    }
    Status s = co_await WatchOnce();
    if (stopped_) break;
    if (s.Is(Code::kExpired) || s.Is(Code::kGone)) {
      need_list = true;  // the window moved past us: relist (reflector isExpiredError)
      continue;
    }
    if (!s.ok()) {
      MINI8S_LOG(WARNING) << "informer " << resource_.GroupResource()
                          << ": watch failed: " << s.ToString();
      co_await Backoff();
    }
  }
}

}  // namespace mini8s::client
