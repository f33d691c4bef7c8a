// Pod lifecycle of simulated nodes: statuses a kubelet would post, without containers.
#include "mini8s/agent/sim_kubelet.h"

#include <arpa/inet.h>

#include <algorithm>
#include <functional>

#include <boost/json.hpp>

#include "mini8s/api/object.h"
#include "mini8s/common/logging.h"

namespace mini8s::agent {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using controllers::Requeue;
using std::chrono::milliseconds;

client::Resource PodsResource() { return {"", "v1", "pods", "Pod", true}; }

// 64 hex digits derived from `seed`: container IDs and fake image digests that stay the same for
// the same pod and container.
std::string StableHex64(const std::string& seed) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  std::size_t h = 0;
  for (int i = 0; i < 64; ++i) {
    if (i % 16 == 0)
      h = std::hash<std::string>{}(seed + "#" + std::to_string(i) + "#" + std::to_string(h));
    out += kHex[(h >> ((i % 16) * 4)) & 15];
  }
  return out;
}

// "nginx" -> "docker.io/library/nginx:latest", as the runtime reports image names.
std::string NormalizeImage(std::string_view image) {
  std::string s(image);
  auto slash = s.find('/');
  std::string first = slash == std::string::npos ? "" : s.substr(0, slash);
  if (slash == std::string::npos) {
    s = "docker.io/library/" + s;
  } else if (first.find('.') == std::string::npos && first.find(':') == std::string::npos &&
             first != "localhost") {
    s = "docker.io/" + s;
  }
  auto last_slash = s.rfind('/');
  if (s.find('@') == std::string::npos && s.find(':', last_slash) == std::string::npos) {
    s += ":latest";
  }
  return s;
}

std::string ImageId(const std::string& normalized) {
  std::string repo = normalized.substr(0, normalized.find('@'));
  auto colon = repo.rfind(':');
  if (colon != std::string::npos && colon > repo.rfind('/')) repo = repo.substr(0, colon);
  if (auto at = normalized.find('@'); at != std::string::npos) return normalized;
  return repo + "@sha256:" + StableHex64("image/" + normalized);
}

bool OwnedByJob(const json::object& pod) {
  for (const auto& ref : api::OwnerReferences(pod)) {
    if (ref.kind == "Job") return true;
  }
  return false;
}

const json::object* FindCondition(const json::object& pod, std::string_view type) {
  const json::array* conds = api::GetArray(pod, "status.conditions");
  if (conds == nullptr) return nullptr;
  for (const auto& c : *conds) {
    if (c.is_object() && api::GetString(c.as_object(), "type") == type) return &c.as_object();
  }
  return nullptr;
}

// A condition whose lastTransitionTime is kept when its status did not change.
json::object Condition(const json::object& pod, std::string_view type, std::string_view status,
                       const std::string& now, std::string_view reason = {},
                       std::string_view message = {}) {
  std::string transition = now;
  if (const json::object* old = FindCondition(pod, type)) {
    std::string_view t = api::GetString(*old, "lastTransitionTime");
    if (api::GetString(*old, "status") == status && !t.empty()) transition = std::string(t);
  }
  json::object c{{"type", type},
                 {"status", status},
                 {"lastProbeTime", nullptr},
                 {"lastTransitionTime", transition}};
  if (!reason.empty()) c["reason"] = reason;
  if (!message.empty()) c["message"] = message;
  return c;
}

std::vector<const json::object*> Containers(const json::object& pod, std::string_view field) {
  std::vector<const json::object*> out;
  if (const json::array* a = api::GetArray(pod, std::string("spec.") + std::string(field))) {
    for (const auto& c : *a) {
      if (c.is_object()) out.push_back(&c.as_object());
    }
  }
  return out;
}

// The longest readinessProbe.initialDelaySeconds of the pod's containers: when a simulated probe
// first passes.
int64_t ReadinessDelaySeconds(const json::object& pod) {
  int64_t delay = 0;
  for (const json::object* c : Containers(pod, "containers")) {
    if (api::GetObject(*c, "readinessProbe") == nullptr) continue;
    delay = std::max(delay, api::GetInt(*c, "readinessProbe.initialDelaySeconds").value_or(0));
  }
  return delay;
}

milliseconds Until(std::chrono::system_clock::time_point t,
                   std::chrono::system_clock::time_point now) {
  return std::max(milliseconds(1), std::chrono::duration_cast<milliseconds>(t - now));
}

}  // namespace

// ---- PodIpPool ----

Status PodIpPool::Reset(const std::string& cidr) {
  auto slash = cidr.find('/');
  in_addr a{};
  if (slash == std::string::npos || inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &a) != 1) {
    return Status::Invalid("pod CIDR " + cidr + " is not an IPv4 CIDR");
  }
  int bits = std::atoi(cidr.c_str() + slash + 1);
  if (bits < 8 || bits > 29) return Status::Invalid("pod CIDR " + cidr + " has a bad size");
  uint32_t mask = ~uint32_t(0) << (32 - bits);
  uint32_t net = ntohl(a.s_addr) & mask;
  cidr_ = cidr;
  first_ = net + 2;  // .0 network, .1 gateway
  last_ = (net | ~mask) - 1;
  next_ = first_;
  by_uid_.clear();
  used_.clear();
  return Status::OK();
}

Result<std::string> PodIpPool::Allocate(const std::string& uid) {
  auto format = [](uint32_t v) {
    in_addr a{htonl(v)};
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a, buf, sizeof buf);
    return std::string(buf);
  };
  if (auto it = by_uid_.find(uid); it != by_uid_.end()) return format(it->second);
  if (cidr_.empty()) return Status::Unavailable("no pod CIDR yet");
  // Round-robin from the last allocation, so a released address is not reused at once.
  uint32_t size = last_ - first_ + 1;
  for (uint32_t i = 0; i < size; ++i) {
    uint32_t v = first_ + (next_ - first_ + i) % size;
    if (used_.count(v)) continue;
    used_.insert(v);
    by_uid_[uid] = v;
    next_ = v + 1 > last_ ? first_ : v + 1;
    return format(v);
  }
  return Status::ResourceExhausted("no free address in " + cidr_);
}

bool PodIpPool::Adopt(const std::string& uid, const std::string& ip) {
  in_addr a{};
  if (inet_pton(AF_INET, ip.c_str(), &a) != 1) return false;
  uint32_t v = ntohl(a.s_addr);
  if (v < first_ || v > last_) return false;
  if (auto it = by_uid_.find(uid); it != by_uid_.end()) {
    if (it->second == v) return true;
    used_.erase(it->second);
  }
  if (used_.count(v)) return false;  // another pod holds it
  used_.insert(v);
  by_uid_[uid] = v;
  return true;
}

void PodIpPool::Release(const std::string& uid) {
  auto it = by_uid_.find(uid);
  if (it == by_uid_.end()) return;
  used_.erase(it->second);
  by_uid_.erase(it);
}

bool PodIpPool::Contains(const std::string& ip) const {
  in_addr a{};
  if (cidr_.empty() || inet_pton(AF_INET, ip.c_str(), &a) != 1) return false;
  uint32_t v = ntohl(a.s_addr);
  return v >= first_ && v <= last_;
}

// ---- SimulatedKubelet ----

SimulatedKubelet::SimulatedKubelet(client::Informer& pods, controllers::WorkQueue& queue,
                                   const Clock& clock, SimulatedKubeletOptions options)
    : pods_(pods), queue_(queue), clock_(clock), options_(options) {
  client::EventHandlers h;
  auto enqueue = [this](const client::ObjectPtr& pod) {
    std::string key = client::ObjectKey(*pod);
    if (nodes_.count(std::string(api::GetString(*pod, "spec.nodeName"))) || holders_.count(key)) {
      queue_.Add(key);
    }
  };
  h.on_add = enqueue;
  h.on_update = [enqueue](const client::ObjectPtr&, const client::ObjectPtr& pod) { enqueue(pod); };
  h.on_delete = [this](const client::DeletedObject& d) {
    if (holders_.count(d.key)) queue_.Add(d.key);
  };
  pods_.AddEventHandlers(std::move(h));
}

void SimulatedKubelet::AddNode(const std::string& node, client::Client& client,
                               const std::string& node_ip, controllers::EventRecorder* events) {
  NodeState& n = nodes_[node];
  n.client = &client;
  n.events = events;
  n.ip = node_ip;
  // Pods already bound to it (the informer may have synced first).
  for (const auto& key : pods_.indexer().Keys()) {
    client::ObjectPtr p = pods_.indexer().Get(key);
    if (p && api::GetString(*p, "spec.nodeName") == node) queue_.Add(key);
  }
}

void SimulatedKubelet::SetPodCidr(const std::string& node, const std::string& cidr) {
  auto it = nodes_.find(node);
  if (it == nodes_.end() || it->second.pool.cidr() == cidr) return;
  Status s = it->second.pool.Reset(cidr);
  if (!s.ok()) {
    MINI8S_LOG(WARNING) << "node " << node << ": " << s.ToString();
    return;
  }
  it->second.has_cidr = true;
  for (auto h = holders_.begin(); h != holders_.end();) {
    h = h->second.first == node ? holders_.erase(h) : std::next(h);
  }
  for (const auto& key : pods_.indexer().Keys()) {
    client::ObjectPtr p = pods_.indexer().Get(key);
    if (p && api::GetString(*p, "spec.nodeName") == node) queue_.Add(key);
  }
}

std::size_t SimulatedKubelet::allocated_ips(const std::string& node) const {
  auto it = nodes_.find(node);
  return it == nodes_.end() ? 0 : it->second.pool.allocated();
}

void SimulatedKubelet::Forget(const std::string& key) {
  deleting_since_.erase(key);
  auto it = holders_.find(key);
  if (it == holders_.end()) return;
  auto n = nodes_.find(it->second.first);
  if (n != nodes_.end()) n->second.pool.Release(it->second.second);
  holders_.erase(it);
}

json::object SimulatedKubelet::RunningStatus(const json::object& pod, const NodeState& node,
                                             const std::string& pod_ip, bool ready) const {
  const std::string now = FormatRfc3339(clock_.Now());
  std::string start(api::GetString(pod, "status.startTime"));
  if (start.empty()) start = now;
  const std::string uid(api::Uid(pod));
  std::vector<std::string> unready;
  json::array statuses;
  for (const json::object* c : Containers(pod, "containers")) {
    std::string name(api::GetString(*c, "name"));
    std::string image = NormalizeImage(api::GetString(*c, "image"));
    if (!ready) unready.push_back(name);
    statuses.push_back(
        json::object{{"name", name},
                     {"state", json::object{{"running", json::object{{"startedAt", start}}}}},
                     {"lastState", json::object{}},
                     {"ready", ready},
                     {"restartCount", 0},
                     {"image", image},
                     {"imageID", ImageId(image)},
                     {"containerID", "mini8s://" + StableHex64(uid + "/" + name)},
                     {"started", true}});
  }
  json::array init_statuses;
  for (const json::object* c : Containers(pod, "initContainers")) {
    std::string name(api::GetString(*c, "name"));
    std::string image = NormalizeImage(api::GetString(*c, "image"));
    std::string id = "mini8s://" + StableHex64(uid + "/init/" + name);
    init_statuses.push_back(
        json::object{{"name", name},
                     {"state", json::object{{"terminated", json::object{{"exitCode", 0},
                                                                        {"reason", "Completed"},
                                                                        {"startedAt", start},
                                                                        {"finishedAt", start},
                                                                        {"containerID", id}}}}},
                     {"lastState", json::object{}},
                     {"ready", true},
                     {"restartCount", 0},
                     {"image", image},
                     {"imageID", ImageId(image)},
                     {"containerID", id},
                     {"started", false}});
  }
  std::string not_ready_msg;
  if (!ready) {
    not_ready_msg = "containers with unready status: [";
    for (std::size_t i = 0; i < unready.size(); ++i) {
      not_ready_msg += (i ? " " : "") + unready[i];
    }
    not_ready_msg += "]";
  }
  const char* rs = ready ? "True" : "False";
  json::array conditions{
      Condition(pod, "PodReadyToStartContainers", "True", now),
      Condition(pod, "Initialized", "True", now),
      Condition(pod, "Ready", rs, now, ready ? "" : "ContainersNotReady", not_ready_msg),
      Condition(pod, "ContainersReady", rs, now, ready ? "" : "ContainersNotReady", not_ready_msg),
      Condition(pod, "PodScheduled", "True", now)};
  json::object status{{"phase", "Running"}, {"conditions", std::move(conditions)},
                      {"hostIP", node.ip},  {"hostIPs", json::array{json::object{{"ip", node.ip}}}},
                      {"podIP", pod_ip},    {"podIPs", json::array{json::object{{"ip", pod_ip}}}},
                      {"startTime", start}, {"containerStatuses", std::move(statuses)}};
  if (!init_statuses.empty()) status["initContainerStatuses"] = std::move(init_statuses);
  std::string_view qos = api::GetString(pod, "status.qosClass");
  if (!qos.empty()) status["qosClass"] = qos;
  return status;
}

json::object SimulatedKubelet::SucceededStatus(const json::object& pod) const {
  const std::string now = FormatRfc3339(clock_.Now());
  json::object status =
      api::GetObject(pod, "status") ? *api::GetObject(pod, "status") : json::object{};
  std::string start(api::GetString(pod, "status.startTime"));
  if (start.empty()) start = now;
  const std::string uid(api::Uid(pod));
  json::array statuses;
  for (const json::object* c : Containers(pod, "containers")) {
    std::string name(api::GetString(*c, "name"));
    std::string image = NormalizeImage(api::GetString(*c, "image"));
    std::string id = "mini8s://" + StableHex64(uid + "/" + name);
    statuses.push_back(
        json::object{{"name", name},
                     {"state", json::object{{"terminated", json::object{{"exitCode", 0},
                                                                        {"reason", "Completed"},
                                                                        {"startedAt", start},
                                                                        {"finishedAt", now},
                                                                        {"containerID", id}}}}},
                     {"lastState", json::object{}},
                     {"ready", false},
                     {"restartCount", 0},
                     {"image", image},
                     {"imageID", ImageId(image)},
                     {"containerID", id},
                     {"started", false}});
  }
  status["phase"] = "Succeeded";
  status["containerStatuses"] = std::move(statuses);
  status["conditions"] =
      json::array{Condition(pod, "PodReadyToStartContainers", "False", now),
                  Condition(pod, "Initialized", "True", now, "PodCompleted"),
                  Condition(pod, "Ready", "False", now, "PodCompleted"),
                  Condition(pod, "ContainersReady", "False", now, "PodCompleted"),
                  Condition(pod, "PodScheduled", "True", now)};
  return status;
}

asio::awaitable<Result<Requeue>> SimulatedKubelet::Reconcile(std::string key) {
  client::ObjectPtr cached = pods_.indexer().Get(key);
  if (!cached) {
    Forget(key);
    co_return Requeue{};
  }
  const json::object& pod = *cached;
  const std::string node_name(api::GetString(pod, "spec.nodeName"));
  auto nit = nodes_.find(node_name);
  if (nit == nodes_.end()) {
    Forget(key);
    co_return Requeue{};
  }
  NodeState& node = nit->second;
  const std::string uid(api::Uid(pod));
  if (auto h = holders_.find(key); h != holders_.end() && h->second.second != uid) Forget(key);
  const auto now = clock_.Now();
  client::Resource res = PodsResource();
  std::string ns(api::Namespace(pod)), name(api::Name(pod));

  if (api::IsBeingDeleted(pod)) {
    // Like the kubelet, time the grace period from when this node saw the deletion (its own
    // clock: the server's deletionTimestamp may be skewed), capped for the simulation.
    int64_t grace = api::DeletionGracePeriodSeconds(pod).value_or(30);
    auto& since = deleting_since_[key];
    if (since.first != uid) since = {uid, clock_.Monotonic()};
    auto wait = std::min<std::chrono::steady_clock::duration>(std::chrono::seconds(grace),
                                                              options_.max_grace);
    auto mono = clock_.Monotonic();
    if (mono < since.second + wait) {
      co_return Requeue{true, std::max(milliseconds(1), std::chrono::duration_cast<milliseconds>(
                                                            since.second + wait - mono))};
    }
    client::DeleteOptions opts;
    opts.grace_period_seconds = 0;
    opts.precondition_uid = uid;
    auto r = co_await node.client->Delete(res, ns, name, opts);
    if (!r.ok() && r.error().code() != Code::kNotFound && r.error().code() != Code::kConflict) {
      co_return r.error();
    }
    Forget(key);
    co_return Requeue{};
  }

  std::string_view phase = api::GetString(pod, "status.phase");
  if (phase == "Succeeded" || phase == "Failed") {
    Forget(key);  // a finished pod's sandbox is gone: its address may be reused
    co_return Requeue{};
  }
  if (!node.has_cidr) co_return Requeue{true, milliseconds(1000)};

  std::string ip;
  std::string current_ip(api::GetString(pod, "status.podIP"));
  if (!current_ip.empty() && node.pool.Adopt(uid, current_ip)) {
    ip = current_ip;
  } else {
    auto a = node.pool.Allocate(uid);
    if (!a.ok()) co_return a.error();
    ip = *a;
  }
  holders_[key] = {node_name, uid};

  auto start = ParseRfc3339(api::GetString(pod, "status.startTime"));
  auto started_at = start.ok() ? *start : now;
  auto ready_at = started_at + std::chrono::seconds(ReadinessDelaySeconds(pod));
  bool ready = now >= ready_at;
  const bool job = OwnedByJob(pod);
  const auto done_at = started_at + options_.job_duration;

  if (job && start.ok() && now >= done_at) {
    json::object updated = pod;
    updated["status"] = SucceededStatus(pod);
    auto r = co_await node.client->UpdateStatus(res, std::move(updated));
    if (!r.ok()) co_return r.error();
    Forget(key);
    co_return Requeue{};
  }

  const json::object* ready_cond = FindCondition(pod, "Ready");
  bool up_to_date = phase == "Running" && current_ip == ip && ready_cond != nullptr &&
                    (api::GetString(*ready_cond, "status") == "True") == ready;
  if (!up_to_date) {
    json::object updated = pod;
    updated["status"] = RunningStatus(pod, node, ip, ready);
    auto r = co_await node.client->UpdateStatus(res, std::move(updated));
    if (!r.ok()) co_return r.error();
    if (phase != "Running" && node.events != nullptr) {
      // What `kubectl describe pod` shows after Scheduled for a pod whose image is present.
      for (const json::object* c : Containers(pod, "containers")) {
        std::string cname(api::GetString(*c, "name"));
        node.events->Event(*r, "Normal", "Pulled",
                           "Container image \"" + std::string(api::GetString(*c, "image")) +
                               "\" already present on machine");
        node.events->Event(*r, "Normal", "Created", "Created container: " + cname);
        node.events->Event(*r, "Normal", "Started", "Started container " + cname);
      }
    }
  }
  milliseconds next{0};
  if (!ready) next = Until(ready_at, now);
  if (job) {
    milliseconds d = Until(done_at, now);
    if (next == milliseconds(0) || d < next) next = d;
  }
  if (next > milliseconds(0)) co_return Requeue{true, next};
  co_return Requeue{};
}

}  // namespace mini8s::agent
