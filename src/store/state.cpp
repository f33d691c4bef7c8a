#include <algorithm>
#include <optional>
#include <string>

#include "store/store_core.h"

namespace mini8s::store {

std::string_view EventTypeName(EventType type) {
  switch (type) {
    case EventType::kAdded:
      return "ADDED";
    case EventType::kModified:
      return "MODIFIED";
    case EventType::kDeleted:
      return "DELETED";
  }
  return "UNKNOWN";
}

namespace detail {
namespace {

bool HasPrefix(std::string_view key, std::string_view prefix) {
  return key.size() >= prefix.size() && key.compare(0, prefix.size(), prefix) == 0;
}

KeyValue MakeKeyValue(const std::string& key, const Entry& e) {
  return KeyValue{key, e.value, e.create_revision, e.mod_revision, e.ttl_seconds};
}

}  // namespace

Result<KeyValue> State::Get(std::string_view key) const {
  auto lock = ReadLock();
  auto it = kv_.find(key);
  if (it == kv_.end()) return Status::NotFound("key \"" + std::string(key) + "\" not found");
  return MakeKeyValue(it->first, it->second);
}

Revision State::current() const {
  auto lock = ReadLock();
  return current_;
}

void State::FillStats(StoreStats& stats) const {
  auto lock = ReadLock();
  stats.current_revision = current_;
  stats.window_start = window_start_;
  stats.keys = kv_.size();
  stats.window_events = ring_.size();
}

int64_t State::Count(std::string_view prefix) const {
  auto lock = ReadLock();
  int64_t n = 0;
  for (auto it = kv_.lower_bound(prefix); it != kv_.end() && HasPrefix(it->first, prefix); ++it) {
    ++n;
  }
  return n;
}

Result<ListResult> State::List(std::string_view prefix, const ListOptions& options) const {
  if (options.limit < 0) return Status::Invalid("list limit must not be negative");
  auto lock = ReadLock();
  const Revision rev = options.revision == 0 ? current_ : options.revision;
  if (rev > current_) {
    return Status::Timeout("too large resource version: " + std::to_string(rev) +
                           ", current: " + std::to_string(current_));
  }
  if (rev < window_start_) {
    return Status::Expired("revision " + std::to_string(rev) +
                           " is older than the watch window (oldest " +
                           std::to_string(window_start_) + ")");
  }
  const std::string_view after = options.continue_after;
  auto in_range = [&](std::string_view key) {
    return HasPrefix(key, prefix) && (after.empty() || key > after);
  };

  // For a past revision, the state of each key changed after `rev` is the "before" side of its
  // first change after `rev`; every other key is as it is now.
  std::map<std::string_view, const Event*> past;
  if (rev < current_) {
    auto first = std::partition_point(ring_.begin(), ring_.end(),
                                      [rev](const EventPtr& e) { return e->revision <= rev; });
    for (auto it = first; it != ring_.end(); ++it) {
      if (in_range((*it)->key)) past.try_emplace((*it)->key, it->get());
    }
  }

  ListResult result;
  result.revision = rev;
  const size_t limit = options.limit > 0 ? static_cast<size_t>(options.limit) : SIZE_MAX;
  auto it = (!after.empty() && after >= prefix) ? kv_.upper_bound(after) : kv_.lower_bound(prefix);
  auto pit = past.begin();
  while (true) {
    const bool have_cur = it != kv_.end() && HasPrefix(it->first, prefix);
    const bool have_past = pit != past.end();
    if (!have_cur && !have_past) break;
    std::optional<KeyValue> item;
    if (have_past && (!have_cur || pit->first <= std::string_view(it->first))) {
      if (have_cur && pit->first == std::string_view(it->first)) ++it;
      const Event& e = *pit->second;
      if (e.type != EventType::kAdded) {
        item = KeyValue{std::string(e.key), e.prev_value, e.create_revision, e.prev_revision, 0};
      }
      ++pit;
    } else {
      item = MakeKeyValue(it->first, it->second);
      ++it;
    }
    if (!item) continue;
    if (result.items.size() == limit) {
      result.more = true;
      break;
    }
    result.items.push_back(std::move(*item));
  }
  return result;
}

Status State::ReadWindow(std::string_view prefix, Revision after, Revision until,
                         std::deque<EventPtr>& out, size_t max_events, Revision* scanned_to) const {
  constexpr size_t kMaxScan = 4096;
  auto lock = ReadLock();
  if (after < window_start_) {
    return Status::ResourceExhausted("watch on \"" + std::string(prefix) +
                                     "\" fell behind: revision " + std::to_string(after) +
                                     " left the watch window while replaying");
  }
  auto it = std::partition_point(ring_.begin(), ring_.end(),
                                 [after](const EventPtr& e) { return e->revision <= after; });
  size_t scanned = 0;
  Revision pos = until;
  for (; it != ring_.end() && (*it)->revision <= until; ++it) {
    if (out.size() >= max_events || scanned >= kMaxScan) {
      pos = (*it)->revision - 1;
      break;
    }
    ++scanned;
    if (HasPrefix((*it)->key, prefix)) out.push_back(*it);
  }
  *scanned_to = pos;
  return Status::OK();
}

Result<std::pair<Revision, Revision>> State::CheckWatchStart(Revision start) const {
  auto lock = ReadLock();
  if (start == 0) start = current_;
  if (start > current_) {
    return Status::Timeout("too large resource version: " + std::to_string(start) +
                           ", current: " + std::to_string(current_));
  }
  if (start < window_start_) {
    return Status::Expired("too old resource version: " + std::to_string(start) + " (" +
                           std::to_string(window_start_) + ")");
  }
  return std::make_pair(start, current_);
}

void State::Load(LoadedState loaded) {
  auto lock = WriteLock();
  kv_.clear();
  for (auto& le : loaded.entries) {
    kv_.emplace_hint(kv_.end(), std::move(le.kv.key),
                     Entry{std::move(le.kv.value), le.kv.create_revision, le.kv.mod_revision,
                           le.kv.ttl_seconds, le.expires_at_ms});
  }
  ring_.clear();
  for (auto& e : loaded.events) ring_.push_back(std::move(e));
  current_ = loaded.current_revision;
  window_start_ = loaded.window_start;
  while (ring_.size() > capacity_) {
    window_start_ = ring_.front()->revision;
    ring_.pop_front();
  }
}

const Entry* State::FindForWriter(std::string_view key) const {
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

void State::Apply(const std::vector<Mutation>& batch) {
  if (batch.empty()) return;
  auto lock = WriteLock();
  for (const Mutation& m : batch) {
    const Event& e = *m.event;
    if (e.type == EventType::kDeleted) {
      auto it = kv_.find(e.key);
      if (it != kv_.end()) kv_.erase(it);
    } else {
      Entry entry{e.value, e.create_revision, e.revision, m.ttl_seconds, m.expires_at_ms};
      auto it = kv_.lower_bound(e.key);
      if (it != kv_.end() && it->first == e.key) {
        it->second = std::move(entry);
      } else {
        kv_.emplace_hint(it, e.key, std::move(entry));
      }
    }
    ring_.push_back(m.event);
  }
  current_ = batch.back().event->revision;
  while (ring_.size() > capacity_) {
    window_start_ = ring_.front()->revision;
    ring_.pop_front();
  }
}

void State::TrimWindowTo(Revision revision) {
  auto lock = WriteLock();
  if (revision > current_) revision = current_;
  if (revision <= window_start_) return;
  while (!ring_.empty() && ring_.front()->revision <= revision) ring_.pop_front();
  window_start_ = revision;
}

}  // namespace detail
}  // namespace mini8s::store
