#include "mini8s/client/fake_client.h"

#include <deque>
#include <map>
#include <optional>
#include <unordered_map>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "mini8s/common/co_result.h"
#include "mini8s/api/object.h"
#include "mini8s/api/patch.h"
#include "mini8s/api/selector.h"
#include "mini8s/common/json.h"
#include "mini8s/common/yaml.h"

namespace mini8s::client {

namespace json = boost::json;
namespace asio = boost::asio;

namespace {

using ObjectPtr = std::shared_ptr<const json::object>;

std::string ResourceKey(const Resource& r) { return r.group + "/" + r.resource; }

// Orders objects of one resource by namespace then name, as the apiserver lists them.
std::string StoreKey(const Resource& r, std::string_view ns, std::string_view name) {
  std::string k = ResourceKey(r);
  k.push_back('\x01');
  k.append(r.namespaced ? ns : std::string_view());
  k.push_back('\x01');
  k.append(name);
  return k;
}

struct Filter {
  std::string rkey;
  std::string ns;  // "" = all
  bool namespaced = true;
  api::LabelSelector labels;
  api::FieldSelector fields;

  bool Matches(const json::object& obj) const {
    if (namespaced && !ns.empty() && api::Namespace(obj) != ns) return false;
    if (!labels.Matches(api::Labels(obj))) return false;
    if (!fields.Empty()) {
      api::StringMap values;
      for (const auto& req : fields.requirements()) {
        values[req.field] = std::string(api::GetString(obj, req.field));
      }
      if (!fields.Matches(values)) return false;
    }
    return true;
  }
};

Result<Filter> MakeFilter(const Resource& r, const std::string& ns, const ListOptions& o) {
  Filter f;
  f.rkey = ResourceKey(r);
  f.ns = r.namespaced ? ns : std::string();
  f.namespaced = r.namespaced;
  if (!o.label_selector.empty()) {
    MINI8S_ASSIGN_OR_RETURN(f.labels, api::LabelSelector::Parse(o.label_selector));
  }
  if (!o.field_selector.empty()) {
    MINI8S_ASSIGN_OR_RETURN(f.fields, api::FieldSelector::Parse(o.field_selector));
  }
  return f;
}

struct LogEvent {
  int64_t rv = 0;
  std::string rkey;
  WatchEventType type = WatchEventType::kAdded;
  ObjectPtr object;  // after the change (for deletes: the final state)
  ObjectPtr prev;    // before the change; null for adds
};

// Shared by a FakeWatch and the client's list of watchers.
struct WatchState {
  explicit WatchState(asio::any_io_executor ex) : wake(ex) {}
  Filter filter;
  std::deque<WatchEvent> pending;
  bool ended = false;
  std::optional<Status> end_error;
  asio::steady_timer wake;

  void Push(WatchEvent ev) {
    if (ended) return;
    pending.push_back(std::move(ev));
    wake.cancel();
  }
  void End(std::optional<Status> error) {
    if (ended) return;
    ended = true;
    end_error = std::move(error);
    wake.cancel();
  }
  // Delivers `ev` to this watcher with the apiserver's selector transitions.
  void Offer(const LogEvent& ev) {
    if (ev.rkey != filter.rkey) return;
    bool now = filter.Matches(*ev.object);
    bool before = ev.prev != nullptr && filter.Matches(*ev.prev);
    switch (ev.type) {
      case WatchEventType::kAdded:
        if (now) Push({WatchEventType::kAdded, *ev.object});
        break;
      case WatchEventType::kModified:
        if (now && before)
          Push({WatchEventType::kModified, *ev.object});
        else if (now)
          Push({WatchEventType::kAdded, *ev.object});
        else if (before)
          Push({WatchEventType::kDeleted, *ev.object});
        break;
      case WatchEventType::kDeleted:
        if (now || before) Push({WatchEventType::kDeleted, *ev.object});
        break;
      case WatchEventType::kBookmark:
        break;
    }
  }
};

class FakeWatch final : public WatchStream {
 public:
  explicit FakeWatch(std::shared_ptr<WatchState> state) : state_(std::move(state)) {}
  ~FakeWatch() override { Stop(); }

  asio::awaitable<Result<std::optional<WatchEvent>>> Next() override {
    std::shared_ptr<WatchState> st = state_;
    for (;;) {
      if (!st->pending.empty()) {
        WatchEvent ev = std::move(st->pending.front());
        st->pending.pop_front();
        co_return std::optional<WatchEvent>(std::move(ev));
      }
      if (st->ended) {
        if (st->end_error) co_return *st->end_error;
        co_return std::optional<WatchEvent>();
      }
      st->wake.expires_at(asio::steady_timer::time_point::max());
      auto [ec] = co_await st->wake.async_wait(asio::as_tuple(asio::use_awaitable));
      (void)ec;
    }
  }

  void Stop() override {
    state_->pending.clear();
    state_->End(std::nullopt);
  }

 private:
  std::shared_ptr<WatchState> state_;
};

std::string NotFoundMessage(const Resource& r, std::string_view name) {
  return r.GroupResource() + " \"" + std::string(name) + "\" not found";
}

std::string ConflictMessage(const Resource& r, std::string_view name) {
  return "Operation cannot be fulfilled on " + r.GroupResource() + " \"" + std::string(name) +
         "\": the object has been modified; please apply your changes to the latest version and "
         "try again";
}

}  // namespace

struct FakeClient::Impl {
  asio::any_io_executor executor;
  FakeClientOptions options;
  std::map<std::string, ObjectPtr> objects;
  int64_t rv = 0;
  int64_t floor = 0;  // watches may start from versions >= floor
  int64_t uid_counter = 0;
  std::deque<LogEvent> log;
  std::vector<std::weak_ptr<WatchState>> watchers;
  std::unordered_map<std::string, std::deque<Status>> failures;
  std::vector<std::string> actions;

  std::optional<Status> TakeFailure(const std::string& verb) {
    auto it = failures.find(verb);
    if (it == failures.end() || it->second.empty()) return std::nullopt;
    Status s = std::move(it->second.front());
    it->second.pop_front();
    return s;
  }

  void Record(std::string_view verb, const Resource& r, std::string_view sub, std::string_view ns,
              std::string_view name) {
    std::string a(verb);
    a.append(" ").append(r.resource);
    if (!sub.empty()) a.append("/").append(sub);
    a.append(" ").append(ns).append("/").append(name);
    actions.push_back(std::move(a));
  }

  void Emit(LogEvent ev) {
    for (auto it = watchers.begin(); it != watchers.end();) {
      auto w = it->lock();
      if (!w || w->ended) {
        it = watchers.erase(it);
        continue;
      }
      w->Offer(ev);
      ++it;
    }
    log.push_back(std::move(ev));
    while (log.size() > options.watch_window) {
      floor = log.front().rv;
      log.pop_front();
    }
  }

  std::string NewUid() {
    char buf[64];
    ++uid_counter;
    std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012lld",
                  static_cast<long long>(uid_counter));
    return buf;
  }

  std::string Now() const { return FormatRfc3339(options.clock->Now()); }

  // Stores `obj` (already validated) under `key` as a new version and emits the event.
  ObjectPtr Commit(const Resource& r, const std::string& key, json::object obj, WatchEventType type,
                   ObjectPtr prev) {
    ++rv;
    api::SetResourceVersion(obj, std::to_string(rv));
    auto ptr = std::make_shared<const json::object>(std::move(obj));
    if (type == WatchEventType::kDeleted) {
      objects.erase(key);
    } else {
      objects[key] = ptr;
    }
    Emit(LogEvent{rv, ResourceKey(r), type, ptr, std::move(prev)});
    return ptr;
  }

  // POST to a subresource. Only pods/binding is modelled, as the apiserver's BindingREST does:
  // the target node becomes spec.nodeName (409 if the pod is bound or being deleted), the
  // binding's annotations are copied onto the pod and PodScheduled turns True.
  Result<json::object> CreateSubresource(const Resource& r, const std::string& subresource,
                                         const std::string& ns, const std::string& name,
                                         const json::object& body, bool dry_run) {
    if (r.resource != "pods" || subresource != "binding") {
      return Status::NotFound("subresource " + subresource + " is not supported by FakeClient");
    }
    std::string key = StoreKey(r, ns, name);
    auto it = objects.find(key);
    if (it == objects.end()) return Status::NotFound(NotFoundMessage(r, name));
    ObjectPtr existing = it->second;
    std::string node(api::GetString(body, "target.name"));
    if (node.empty()) return Status::Invalid("target.name: Required value");
    std::string conflict = "Operation cannot be fulfilled on pods/binding \"" + name + "\": ";
    if (api::IsBeingDeleted(*existing)) {
      return Status::Conflict(conflict + "pod " + name +
                              " is being deleted, cannot be assigned to a host");
    }
    std::string_view bound = api::GetString(*existing, "spec.nodeName");
    if (!bound.empty()) {
      return Status::Conflict(conflict + "pod " + name + " is already assigned to node \"" +
                              std::string(bound) + "\"");
    }
    json::object next = *existing;
    api::MutableObjectAt(next, "spec")["nodeName"] = node;
    if (const json::object* ann = api::Annotations(body)) {
      for (const auto& [k, v] : *ann) {
        if (v.is_string()) api::SetAnnotation(next, k, v.as_string());
      }
    }
    json::object& status = api::MutableObjectAt(next, "status");
    json::value& conds = status["conditions"];
    if (!conds.is_array()) conds = json::array();
    json::object cond{{"type", "PodScheduled"}, {"status", "True"},
                      {"lastTransitionTime", Now()}};
    bool replaced = false;
    for (json::value& c : conds.as_array()) {
      if (c.is_object() && api::GetString(c.as_object(), "type") == "PodScheduled") {
        c = cond;
        replaced = true;
      }
    }
    if (!replaced) conds.as_array().push_back(cond);
    json::object ok{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()},
                    {"status", "Success"}, {"code", 201}};
    if (dry_run) return ok;
    Commit(r, key, std::move(next), WatchEventType::kModified, existing);
    return ok;
  }

  // The shared tail of Update and Patch: `updated` replaces `existing`.
  Result<json::object> Replace(const Resource& r, const std::string& key, const ObjectPtr& existing,
                               json::object updated, const std::string& subresource, bool dry_run) {
    std::string_view name = api::Name(*existing);
    std::string_view want_rv = api::ResourceVersion(updated);
    if (!want_rv.empty() && want_rv != api::ResourceVersion(*existing)) {
      return Status::Conflict(ConflictMessage(r, name));
    }
    json::object next;
    if (subresource == "status") {
      next = *existing;
      if (const json::value* st = updated.if_contains("status")) {
        next["status"] = *st;
      } else {
        next.erase("status");
      }
    } else if (!subresource.empty()) {
      return Status::NotFound("subresource " + subresource + " is not supported by FakeClient");
    } else {
      next = std::move(updated);
      // Identity and server-owned fields come from the stored object.
      json::object& meta = api::MutableMetadata(next);
      const json::object* old_meta = api::Metadata(*existing);
      for (std::string_view f : {"uid", "creationTimestamp", "deletionTimestamp",
                                 "deletionGracePeriodSeconds", "generation", "name", "namespace"}) {
        if (old_meta && old_meta->contains(f)) {
          meta[f] = old_meta->at(f);
        } else {
          meta.erase(f);
        }
      }
      if (const json::value* st = existing->if_contains("status")) {
        next["status"] = *st;
      } else {
        next.erase("status");
      }
      const json::value* old_spec = existing->if_contains("spec");
      const json::value* new_spec = next.if_contains("spec");
      bool spec_changed =
          (old_spec == nullptr) != (new_spec == nullptr) || (old_spec && *old_spec != *new_spec);
      if (spec_changed) api::SetGeneration(next, api::Generation(*existing) + 1);
    }
    if (!r.kind.empty()) {
      api::SetApiVersion(next, r.ApiVersion());
      api::SetKind(next, r.kind);
    }
    if (dry_run) return next;
    // Removing the last finalizer of an object being deleted completes the delete.
    if (api::IsBeingDeleted(next) && api::Finalizers(next).empty()) {
      return *Commit(r, key, std::move(next), WatchEventType::kDeleted, existing);
    }
    if (next == *existing) return next;  // no-op updates do not bump the version
    return *Commit(r, key, std::move(next), WatchEventType::kModified, existing);
  }
};

FakeClient::FakeClient(asio::any_io_executor executor, FakeClientOptions options)
    : impl_(std::make_shared<Impl>()) {
  impl_->executor = std::move(executor);
  impl_->options = options;
  if (impl_->options.watch_window == 0) impl_->options.watch_window = 1;
}

FakeClient::~FakeClient() { CloseWatches(); }

asio::awaitable<Result<json::object>> FakeClient::Get(Resource resource, std::string ns,
                                                      std::string name) {
  Impl& d = *impl_;
  d.Record("get", resource, "", ns, name);
  if (auto f = d.TakeFailure("get")) co_return *f;
  auto it = d.objects.find(StoreKey(resource, ns, name));
  if (it == d.objects.end()) co_return Status::NotFound(NotFoundMessage(resource, name));
  co_return json::object(*it->second);
}

asio::awaitable<Result<ObjectList>> FakeClient::List(Resource resource, std::string ns,
                                                     ListOptions options) {
  Impl& d = *impl_;
  d.Record("list", resource, "", ns, "");
  if (auto f = d.TakeFailure("list")) co_return *f;
  MINI8S_CO_ASSIGN_OR_RETURN(Filter filter, MakeFilter(resource, ns, options));
  ObjectList out;
  out.resource_version = std::to_string(d.rv);
  std::string prefix = ResourceKey(resource) + '\x01';
  auto it = options.continue_token.empty() ? d.objects.lower_bound(prefix)
                                           : d.objects.upper_bound(options.continue_token);
  if (!options.continue_token.empty() && options.continue_token.rfind(prefix, 0) != 0) {
    co_return Status::BadRequest("continue key is not valid");
  }
  for (; it != d.objects.end() && it->first.rfind(prefix, 0) == 0; ++it) {
    if (!filter.Matches(*it->second)) continue;
    if (options.limit > 0 && static_cast<int64_t>(out.items.size()) == options.limit) {
      auto prev = std::prev(it);
      out.continue_token = prev->first;
      break;
    }
    out.items.push_back(*it->second);
  }
  co_return out;
}

asio::awaitable<Result<json::object>> FakeClient::Create(Resource resource, json::object object,
                                                         WriteOptions options) {
  Impl& d = *impl_;
  std::string ns(resource.namespaced ? api::Namespace(object) : std::string_view());
  std::string name(api::Name(object));
  d.Record("create", resource, options.subresource, ns, name);
  if (auto f = d.TakeFailure("create")) co_return *f;
  if (!options.subresource.empty()) {
    co_return d.CreateSubresource(resource, options.subresource, ns, name, object,
                                  options.dry_run);
  }
  if (resource.namespaced && ns.empty()) {
    co_return Status::Invalid("metadata.namespace: Required value");
  }
  if (name.empty()) {
    std::string_view gen = api::GenerateName(object);
    if (gen.empty()) {
      co_return Status::Invalid("metadata.name: Required value: name or generateName is required");
    }
    // Deterministic suffixes keep tests reproducible; collisions retry with the next counter.
    static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    do {
      uint64_t n = static_cast<uint64_t>(++d.uid_counter) * 2654435761u;
      name = std::string(gen);
      for (int i = 0; i < 5; ++i, n /= 27) name.push_back(kAlphabet[n % 27]);
    } while (d.objects.count(StoreKey(resource, ns, name)) != 0);
    api::SetName(object, name);
  }
  std::string key = StoreKey(resource, ns, name);
  if (d.objects.count(key) != 0) {
    co_return Status::AlreadyExists(resource.GroupResource() + " \"" + name + "\" already exists");
  }
  if (!api::ResourceVersion(object).empty()) {
    co_return Status::BadRequest("resourceVersion should not be set on objects to be created");
  }
  if (!resource.kind.empty()) {
    api::SetApiVersion(object, resource.ApiVersion());
    api::SetKind(object, resource.kind);
  }
  json::object& meta = api::MutableMetadata(object);
  meta.erase("deletionTimestamp");
  meta.erase("deletionGracePeriodSeconds");
  api::SetUid(object, d.NewUid());
  api::SetCreationTimestamp(object, d.Now());
  api::SetGeneration(object, 1);
  if (options.dry_run) co_return object;
  co_return *d.Commit(resource, key, std::move(object), WatchEventType::kAdded, nullptr);
}

asio::awaitable<Result<json::object>> FakeClient::Update(Resource resource, json::object object,
                                                         std::string subresource,
                                                         WriteOptions options) {
  Impl& d = *impl_;
  std::string ns(resource.namespaced ? api::Namespace(object) : std::string_view());
  std::string name(api::Name(object));
  d.Record("update", resource, subresource, ns, name);
  if (auto f = d.TakeFailure("update")) co_return *f;
  std::string key = StoreKey(resource, ns, name);
  auto it = d.objects.find(key);
  if (it == d.objects.end()) co_return Status::NotFound(NotFoundMessage(resource, name));
  ObjectPtr existing = it->second;
  co_return d.Replace(resource, key, existing, std::move(object), subresource, options.dry_run);
}

asio::awaitable<Result<json::object>> FakeClient::Patch(Resource resource, std::string ns,
                                                        std::string name, PatchType type,
                                                        std::string patch, PatchOptions options) {
  Impl& d = *impl_;
  d.Record("patch", resource, options.subresource, ns, name);
  if (auto f = d.TakeFailure("patch")) co_return *f;
  std::string key = StoreKey(resource, ns, name);
  auto it = d.objects.find(key);
  if (it == d.objects.end()) co_return Status::NotFound(NotFoundMessage(resource, name));
  ObjectPtr existing = it->second;
  Result<json::value> body = type == PatchType::kApply ? ParseYaml(patch) : ParseJson(patch);
  if (!body.has_value()) co_return Status::BadRequest(body.error().message());
  json::value doc(*existing);
  json::value patched;
  if (type == PatchType::kJson) {
    MINI8S_CO_ASSIGN_OR_RETURN(patched, api::ApplyJsonPatch(doc, *body));
  } else {
    if (!body->is_object()) co_return Status::BadRequest("patch body must be a JSON object");
    patched = api::ApplyMergePatch(doc, *body);
  }
  if (!patched.is_object()) co_return Status::BadRequest("patch result is not an object");
  json::object result = std::move(patched.as_object());
  // A patch only carries a resourceVersion precondition if it sets one itself.
  if (api::ResourceVersion(result) == api::ResourceVersion(*existing)) {
    api::MutableMetadata(result).erase("resourceVersion");
  }
  co_return d.Replace(resource, key, existing, std::move(result), options.subresource,
                      options.dry_run);
}

asio::awaitable<Result<json::object>> FakeClient::Delete(Resource resource, std::string ns,
                                                         std::string name, DeleteOptions options) {
  Impl& d = *impl_;
  d.Record("delete", resource, "", ns, name);
  if (auto f = d.TakeFailure("delete")) co_return *f;
  std::string key = StoreKey(resource, ns, name);
  auto it = d.objects.find(key);
  if (it == d.objects.end()) co_return Status::NotFound(NotFoundMessage(resource, name));
  ObjectPtr existing = it->second;
  if ((!options.precondition_uid.empty() && options.precondition_uid != api::Uid(*existing)) ||
      (!options.precondition_resource_version.empty() &&
       options.precondition_resource_version != api::ResourceVersion(*existing))) {
    co_return Status::Conflict("Operation cannot be fulfilled on " + resource.GroupResource() +
                               " \"" + name + "\": Precondition failed");
  }
  json::object next = *existing;
  if (!api::Finalizers(*existing).empty()) {
    if (api::IsBeingDeleted(*existing)) co_return next;
    api::SetDeletionTimestamp(next, d.Now());
    api::SetDeletionGracePeriodSeconds(next, options.grace_period_seconds.value_or(0));
    if (options.dry_run) co_return next;
    co_return *d.Commit(resource, key, std::move(next), WatchEventType::kModified, existing);
  }
  if (options.dry_run) co_return next;
  co_return *d.Commit(resource, key, std::move(next), WatchEventType::kDeleted, existing);
}

asio::awaitable<Result<std::unique_ptr<WatchStream>>> FakeClient::Watch(Resource resource,
                                                                        std::string ns,
                                                                        ListOptions options) {
  Impl& d = *impl_;
  d.Record("watch", resource, "", ns, "");
  if (auto f = d.TakeFailure("watch")) co_return *f;
  MINI8S_CO_ASSIGN_OR_RETURN(Filter filter, MakeFilter(resource, ns, options));
  auto state = std::make_shared<WatchState>(d.executor);
  state->filter = std::move(filter);
  const std::string& from = options.resource_version;
  if (from.empty() || from == "0") {
    std::string prefix = ResourceKey(resource) + '\x01';
    for (auto it = d.objects.lower_bound(prefix);
         it != d.objects.end() && it->first.rfind(prefix, 0) == 0; ++it) {
      if (state->filter.Matches(*it->second)) {
        state->pending.push_back({WatchEventType::kAdded, *it->second});
      }
    }
  } else {
    int64_t start = 0;
    try {
      start = std::stoll(from);
    } catch (const std::exception&) {
      co_return Status::BadRequest("invalid resourceVersion: " + from);
    }
    if (start < d.floor) {
      co_return Status::Expired("too old resource version: " + from + " (" +
                                std::to_string(d.floor) + ")");
    }
    if (start > d.rv) {
      co_return Status::Timeout("Too large resource version: " + from +
                                ", current: " + std::to_string(d.rv));
    }
    for (const LogEvent& ev : d.log) {
      if (ev.rv > start) state->Offer(ev);
    }
  }
  d.watchers.push_back(state);
  co_return std::unique_ptr<WatchStream>(std::make_unique<FakeWatch>(std::move(state)));
}

int64_t FakeClient::resource_version() const { return impl_->rv; }

void FakeClient::CompactWatchWindow() {
  impl_->log.clear();
  impl_->floor = impl_->rv;
}

void FakeClient::ExpireWatches() {
  for (auto& w : impl_->watchers) {
    if (auto s = w.lock()) s->End(Status::Expired("too old resource version"));
  }
  impl_->watchers.clear();
}

void FakeClient::CloseWatches() {
  for (auto& w : impl_->watchers) {
    if (auto s = w.lock()) s->End(std::nullopt);
  }
  impl_->watchers.clear();
}

std::size_t FakeClient::open_watches() const {
  std::size_t n = 0;
  for (const auto& w : impl_->watchers) {
    auto s = w.lock();
    if (s && !s->ended) ++n;
  }
  return n;
}

void FakeClient::FailNext(std::string verb, Status status) {
  impl_->failures[std::move(verb)].push_back(std::move(status));
}

const std::vector<std::string>& FakeClient::actions() const { return impl_->actions; }

void FakeClient::ClearActions() { impl_->actions.clear(); }

}  // namespace mini8s::client
