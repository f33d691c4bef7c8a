// Node registration, Lease heartbeat and node status, as the kubelet does them.
#include "mini8s/agent/node_agent.h"

#include <sys/utsname.h>

#include <fstream>
#include <functional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "mini8s/api/object.h"
#include "mini8s/common/json.h"
#include "mini8s/common/logging.h"

namespace mini8s::agent {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

client::Resource NodesResource() { return {"", "v1", "nodes", "Node", false}; }
client::Resource LeasesResource() { return {"coordination.k8s.io", "v1", "leases", "Lease", true}; }

constexpr std::string_view kLeaseNamespace = "kube-node-lease";

std::string OsImage() {
  std::ifstream in("/etc/os-release");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("PRETTY_NAME=", 0) == 0) {
      std::string v = line.substr(12);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return v;
    }
  }
  return "Linux";
}

std::string GoArch(const std::string& machine) {
  if (machine == "x86_64") return "amd64";
  if (machine == "aarch64") return "arm64";
  if (machine.rfind("arm", 0) == 0) return "arm";
  return machine.empty() ? "amd64" : machine;
}

// A stable 32-hex-digit id derived from `seed` (machine-id style), so a simulated node keeps its
// identity across agent restarts.
std::string StableId(const std::string& seed) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  std::size_t h = std::hash<std::string>{}(seed);
  for (int i = 0; i < 32; ++i) {
    if (i % 16 == 0) h = std::hash<std::string>{}(seed + std::to_string(i) + std::to_string(h));
    out += kHex[(h >> ((i % 16) * 4)) & 15];
  }
  return out;
}

// "<n>Ki" minus `minus_ki`, or the input unchanged when it is not a plain Ki quantity.
std::string KiMinus(const std::string& q, int64_t minus_ki) {
  if (q.size() < 3 || q.substr(q.size() - 2) != "Ki") return q;
  try {
    int64_t v = std::stoll(q.substr(0, q.size() - 2));
    return std::to_string(v > minus_ki ? v - minus_ki : 0) + "Ki";
  } catch (const std::exception&) {
    return q;
  }
}

std::string KiPercent(const std::string& q, int percent) {
  if (q.size() < 3 || q.substr(q.size() - 2) != "Ki") return q;
  try {
    int64_t v = std::stoll(q.substr(0, q.size() - 2));
    return std::to_string(v / 100 * percent) + "Ki";
  } catch (const std::exception&) {
    return q;
  }
}

const json::object* FindCondition(const json::object* status, std::string_view type) {
  if (status == nullptr) return nullptr;
  auto conds = status->if_contains("conditions");
  if (conds == nullptr || !conds->is_array()) return nullptr;
  for (const auto& c : conds->as_array()) {
    if (c.is_object() && api::GetString(c.as_object(), "type") == type) return &c.as_object();
  }
  return nullptr;
}

// The status with the volatile heartbeat times removed: what "changed" compares.
std::string Fingerprint(json::object status) {
  if (auto conds = status.if_contains("conditions"); conds && conds->is_array()) {
    for (auto& c : conds->as_array()) {
      if (c.is_object()) c.as_object().erase("lastHeartbeatTime");
    }
  }
  return SerializeJson(status);
}

}  // namespace

struct NodeAgent::Waker {
  explicit Waker(asio::any_io_executor ex) : timer(std::move(ex)) {}
  asio::steady_timer timer;
};

NodeAgent::NodeAgent(client::Client& client, asio::any_io_executor executor, const Clock& clock,
                     NodeAgentOptions options)
    : client_(client),
      executor_(std::move(executor)),
      clock_(clock),
      options_(std::move(options)),
      waker_(std::make_shared<Waker>(executor_)) {
  if (options_.os_image.empty()) options_.os_image = OsImage();
}

void NodeAgent::Stop() {
  stopped_ = true;
  waker_->timer.cancel();
}

json::object NodeAgent::DesiredStatus(const json::object* current) const {
  const std::string now = FormatRfc3339(clock_.Now());
  struct Cond {
    const char* type;
    const char* status;
    const char* reason;
    const char* message;
  };
  static constexpr Cond kConds[] = {
      {"MemoryPressure", "False", "KubeletHasSufficientMemory",
       "kubelet has sufficient memory available"},
      {"DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"},
      {"PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"},
      {"Ready", "True", "KubeletReady", "kubelet is posting ready status"},
  };
  json::array conditions;
  for (const Cond& c : kConds) {
    const json::object* old = FindCondition(current, c.type);
    std::string transition = now;
    if (old != nullptr && api::GetString(*old, "status") == c.status &&
        !api::GetString(*old, "lastTransitionTime").empty()) {
      transition = std::string(api::GetString(*old, "lastTransitionTime"));
    }
    conditions.push_back(json::object{{"type", c.type},
                                      {"status", c.status},
                                      {"lastHeartbeatTime", now},
                                      {"lastTransitionTime", transition},
                                      {"reason", c.reason},
                                      {"message", c.message}});
  }
  json::object capacity{{"cpu", options_.cpu},
                        {"memory", options_.memory},
                        {"pods", std::to_string(options_.max_pods)},
                        {"ephemeral-storage", options_.ephemeral_storage},
                        {"hugepages-1Gi", "0"},
                        {"hugepages-2Mi", "0"}};
  json::object allocatable = capacity;
  // Upstream reserves the default hard-eviction thresholds: memory.available<100Mi and
  // nodefs.available<10%.
  allocatable["memory"] = KiMinus(options_.memory, 100 * 1024);
  allocatable["ephemeral-storage"] = KiPercent(options_.ephemeral_storage, 90);

  utsname u{};
  std::string kernel = "unknown", machine;
  if (::uname(&u) == 0) {
    kernel = u.release;
    machine = u.machine;
  }
  json::object node_info{{"machineID", StableId("machine/" + options_.node_name)},
                         {"systemUUID", StableId("uuid/" + options_.node_name)},
                         {"bootID", StableId("boot/" + options_.node_name)},
                         {"kernelVersion", kernel},
                         {"osImage", options_.os_image},
                         {"containerRuntimeVersion", options_.container_runtime_version},
                         {"kubeletVersion", options_.kubelet_version},
                         {"kubeProxyVersion", options_.kubelet_version},
                         {"operatingSystem", "linux"},
                         {"architecture", GoArch(machine)}};
  json::array addresses;
  if (!options_.node_ip.empty()) {
    addresses.push_back(json::object{{"type", "InternalIP"}, {"address", options_.node_ip}});
  }
  addresses.push_back(json::object{{"type", "Hostname"}, {"address", options_.node_name}});
  return json::object{
      {"capacity", std::move(capacity)},
      {"allocatable", std::move(allocatable)},
      {"conditions", std::move(conditions)},
      {"addresses", std::move(addresses)},
      {"daemonEndpoints", json::object{{"kubeletEndpoint", json::object{{"Port", 10250}}}}},
      {"nodeInfo", std::move(node_info)},
  };
}

json::object NodeAgent::DesiredNode() const {
  json::object labels{{"kubernetes.io/hostname", options_.node_name},
                      {"kubernetes.io/os", "linux"},
                      {"kubernetes.io/arch", "amd64"},
                      {"beta.kubernetes.io/os", "linux"},
                      {"beta.kubernetes.io/arch", "amd64"}};
  for (const auto& [k, v] : options_.labels) labels[k] = v;
  json::object annotations{{"node.alpha.kubernetes.io/ttl", "0"},
                           {"volumes.kubernetes.io/controller-managed-attach-detach", "true"}};
  if (!options_.node_ip.empty()) annotations["mini8s.io/internal-ip"] = options_.node_ip;
  for (const auto& [k, v] : options_.annotations) annotations[k] = v;
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Node"},
      {"metadata", json::object{{"name", options_.node_name},
                                {"labels", std::move(labels)},
                                {"annotations", std::move(annotations)}}},
      {"spec", json::object{}},
      {"status", DesiredStatus(nullptr)},
  };
}

void NodeAgent::LearnNode(const json::object& node) {
  node_uid_ = std::string(api::Uid(node));
  std::string cidr(api::GetString(node, "spec.podCIDR"));
  if (cidr != pod_cidr_) {
    pod_cidr_ = cidr;
    if (!cidr.empty() && on_pod_cidr_) on_pod_cidr_(cidr);
  }
}

asio::awaitable<Status> NodeAgent::Register() {
  // Arguments of co_awaited calls are named values: GCC 12 destroys class temporaries there twice.
  const client::Resource nodes = NodesResource();
  const std::string no_ns;
  json::object desired = DesiredNode();
  auto created = co_await client_.Create(nodes, desired);
  if (created.ok()) {
    LearnNode(*created);
    registered_ = true;
    MINI8S_LOG(INFO) << "registered node " << options_.node_name;
    if (events_ != nullptr) events_->Event(*created, "Normal", "Starting", "Starting kubelet.");
    co_return co_await SyncStatus(true);
  }
  if (created.error().code() != Code::kAlreadyExists) co_return created.error();
  // Upstream kubelet keeps an existing Node: it reconciles what it owns and posts status.
  auto existing = co_await client_.Get(nodes, no_ns, options_.node_name);
  if (!existing.ok()) co_return existing.error();
  json::object node = *existing;
  bool changed = false;
  for (const char* field : {"labels", "annotations"}) {
    const json::object& want = desired.at("metadata").at(field).as_object();
    json::object& have = api::MutableObjectAt(node, std::string("metadata.") + field);
    for (const auto& kv : want) {
      if (auto it = have.find(kv.key()); it == have.end() || it->value() != kv.value()) {
        have[kv.key()] = kv.value();
        changed = true;
      }
    }
  }
  if (changed) {
    auto updated = co_await client_.Update(nodes, node);
    if (!updated.ok()) co_return updated.error();
    node = *updated;
  }
  LearnNode(node);
  registered_ = true;
  co_return co_await SyncStatus(true);
}

asio::awaitable<Status> NodeAgent::RenewLease() {
  const std::string now = FormatRfc3339Micro(clock_.Now());
  const client::Resource leases = LeasesResource();
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (lease_.empty()) {
      std::string ns(kLeaseNamespace);
      std::string name = options_.node_name;
      auto got = co_await client_.Get(leases, ns, name);
      if (got.ok()) {
        lease_ = std::move(*got);
      } else if (got.error().code() == Code::kNotFound) {
        json::object meta{{"name", options_.node_name}, {"namespace", kLeaseNamespace}};
        if (!node_uid_.empty()) {
          meta["ownerReferences"] = json::array{json::object{{"apiVersion", "v1"},
                                                             {"kind", "Node"},
                                                             {"name", options_.node_name},
                                                             {"uid", node_uid_}}};
        }
        json::object lease{
            {"apiVersion", "coordination.k8s.io/v1"},
            {"kind", "Lease"},
            {"metadata", std::move(meta)},
            {"spec", json::object{{"holderIdentity", options_.node_name},
                                  {"leaseDurationSeconds", options_.lease_duration.count()},
                                  {"renewTime", now}}}};
        auto created = co_await client_.Create(leases, lease);
        if (created.ok()) {
          lease_ = std::move(*created);
          co_return Status::OK();
        }
        if (created.error().code() != Code::kAlreadyExists) co_return created.error();
        continue;  // someone created it meanwhile: read it
      } else {
        co_return got.error();
      }
    }
    json::object lease = lease_;
    json::object& spec = api::MutableObjectAt(lease, "spec");
    spec["holderIdentity"] = options_.node_name;
    spec["leaseDurationSeconds"] = options_.lease_duration.count();
    spec["renewTime"] = now;
    auto updated = co_await client_.Update(leases, lease);
    if (updated.ok()) {
      lease_ = std::move(*updated);
      co_return Status::OK();
    }
    lease_ = {};  // stale or gone: read it again
    if (updated.error().code() != Code::kConflict && updated.error().code() != Code::kNotFound) {
      co_return updated.error();
    }
  }
  co_return Status::Conflict("lease " + options_.node_name + ": too many conflicts");
}

asio::awaitable<Status> NodeAgent::SyncStatus(bool force) {
  const client::Resource nodes = NodesResource();
  const std::string no_ns;
  std::string name = options_.node_name;
  auto current = co_await client_.Get(nodes, no_ns, name);
  if (!current.ok()) {
    if (current.error().code() == Code::kNotFound) registered_ = false;  // deleted: re-register
    co_return current.error();
  }
  LearnNode(*current);
  const json::object* old_status = api::GetObject(*current, "status");
  json::object status = DesiredStatus(old_status);
  std::string fp = Fingerprint(status);
  std::string old_fp = old_status ? Fingerprint(*old_status) : std::string();
  auto mono = clock_.Monotonic();
  bool due = mono - last_status_post_ >= options_.status_report_interval;
  if (!force && !due && fp == old_fp) co_return Status::OK();
  client::PatchOptions po;
  po.subresource = "status";
  std::string patch = SerializeJson(json::object{{"status", std::move(status)}});
  auto patched =
      co_await client_.Patch(nodes, no_ns, name, client::PatchType::kMerge, std::move(patch), po);
  if (!patched.ok()) co_return patched.error();
  const json::object* was_ready = FindCondition(old_status, "Ready");
  if (events_ != nullptr &&
      (was_ready == nullptr || api::GetString(*was_ready, "status") != "True")) {
    events_->Event(*patched, "Normal", "NodeReady", "Node " + name + " status is now: NodeReady");
  }
  last_status_post_ = mono;
  last_status_fingerprint_ = fp;
  LearnNode(*patched);
  co_return Status::OK();
}

asio::awaitable<void> NodeAgent::Run() {
  std::shared_ptr<Waker> waker = waker_;  // the timer outlives this frame's waits
  auto wait = [waker](std::chrono::milliseconds d) -> asio::awaitable<void> {
    waker->timer.expires_after(d);
    co_await waker->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  };
  std::chrono::milliseconds backoff{500};
  while (!stopped_) {
    if (!registered_) {
      Status s = co_await Register();
      if (!s.ok()) {
        MINI8S_LOG(WARNING) << "node " << options_.node_name
                            << ": registration failed: " << s.ToString();
        // Stop may have come during the request, when no wait was pending to cut short.
        if (stopped_) break;
        co_await wait(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(10'000));
        continue;
      }
      backoff = std::chrono::milliseconds(500);
    }
    Status l = co_await RenewLease();
    if (!l.ok())
      MINI8S_LOG(WARNING) << "node " << options_.node_name << ": lease: " << l.ToString();
    if (stopped_) break;
    Status st = co_await SyncStatus(false);
    if (!st.ok()) {
      MINI8S_LOG(WARNING) << "node " << options_.node_name << ": status: " << st.ToString();
    }
    if (stopped_) break;
    // Until the IPAM controller assigned a podCIDR, look again soon: pods wait for it.
    co_await wait(pod_cidr_.empty() ? std::chrono::milliseconds(1000)
                                    : options_.heartbeat_interval);
  }
}

}  // namespace mini8s::agent
