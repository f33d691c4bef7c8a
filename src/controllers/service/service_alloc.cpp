#include "mini8s/controllers/service_alloc.h"

#include <arpa/inet.h>

#include <algorithm>
#include <map>

#include <boost/json.hpp>

#include "mini8s/api/field_errors.h"
#include "mini8s/api/object.h"

namespace mini8s::controllers {

namespace json = boost::json;

// ---- RangeBitmap ----------------------------------------------------------------------------

RangeBitmap::RangeBitmap(uint32_t size, uint32_t static_band, std::set<uint32_t> never_dynamic,
                         uint64_t seed)
    : size_(size),
      static_band_(std::min(static_band, size)),
      never_dynamic_(std::move(never_dynamic)),
      bits_(size, false),
      rng_(seed) {}

bool RangeBitmap::Allocate(uint32_t offset) {
  std::lock_guard lock(mu_);
  if (offset >= size_ || bits_[offset]) return false;
  bits_[offset] = true;
  ++used_;
  return true;
}

std::optional<uint32_t> RangeBitmap::ScanLocked(uint32_t from, uint32_t to) {
  if (from >= to) return std::nullopt;
  uint32_t n = to - from;
  uint32_t start = static_cast<uint32_t>(rng_() % n);
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t off = from + (start + i) % n;
    if (!bits_[off] && never_dynamic_.count(off) == 0) return off;
  }
  return std::nullopt;
}

std::optional<uint32_t> RangeBitmap::AllocateNext() {
  std::lock_guard lock(mu_);
  if (used_ >= size_) return std::nullopt;
  auto off = ScanLocked(static_band_, size_);
  if (!off) off = ScanLocked(0, static_band_);
  if (!off) return std::nullopt;
  bits_[*off] = true;
  ++used_;
  return off;
}

bool RangeBitmap::Release(uint32_t offset) {
  std::lock_guard lock(mu_);
  if (offset >= size_ || !bits_[offset]) return false;
  bits_[offset] = false;
  --used_;
  return true;
}

bool RangeBitmap::Has(uint32_t offset) const {
  std::lock_guard lock(mu_);
  return offset < size_ && bits_[offset];
}

uint32_t RangeBitmap::Used() const {
  std::lock_guard lock(mu_);
  return used_;
}

void RangeBitmap::Clear() {
  std::lock_guard lock(mu_);
  std::fill(bits_.begin(), bits_.end(), false);
  used_ = 0;
}

namespace {

uint64_t Seed() { return std::random_device{}(); }

std::optional<uint32_t> ParseIpv4(std::string_view ip) {
  std::string s(ip);
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::string FormatIpv4(uint32_t host_order) {
  in_addr a{};
  a.s_addr = htonl(host_order);
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &a, buf, sizeof(buf));
  return buf;
}

}  // namespace

// ---- IpAllocator ------------------------------------------------------------------------------

IpAllocator::IpAllocator(uint32_t base, uint32_t size, std::string cidr,
                         std::set<uint32_t> never_dynamic)
    : base_(base),
      cidr_(std::move(cidr)),
      bits_(size, std::min<uint32_t>(std::max<uint32_t>(16, size / 16), 256),
            std::move(never_dynamic), Seed()) {}

Result<std::unique_ptr<IpAllocator>> IpAllocator::Create(std::string_view cidr,
                                                         std::vector<std::string> never_dynamic) {
  auto slash = cidr.find('/');
  if (slash == std::string_view::npos) {
    return Status::Invalid("service CIDR \"" + std::string(cidr) + "\" is not a CIDR");
  }
  auto addr = ParseIpv4(cidr.substr(0, slash));
  std::string prefix_text(cidr.substr(slash + 1));
  int prefix = -1;
  if (!prefix_text.empty() && prefix_text.size() <= 2 &&
      std::all_of(prefix_text.begin(), prefix_text.end(),
                  [](char c) { return c >= '0' && c <= '9'; })) {
    prefix = std::stoi(prefix_text);
  }
  if (!addr || prefix < 0 || prefix > 30) {
    return Status::Invalid("service CIDR \"" + std::string(cidr) +
                           "\" must be an IPv4 CIDR with a prefix of at most /30");
  }
  uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  uint32_t network = *addr & mask;
  uint64_t total = uint64_t{1} << (32 - prefix);
  auto size = static_cast<uint32_t>(total - 2);  // minus network and broadcast
  uint32_t base = network + 1;
  std::set<uint32_t> reserved{0};  // the first address: the `kubernetes` service
  for (const auto& ip : never_dynamic) {
    auto v = ParseIpv4(ip);
    if (v && *v >= base && *v - base < size) reserved.insert(*v - base);
  }
  std::string canonical = FormatIpv4(network) + "/" + std::to_string(prefix);
  return std::unique_ptr<IpAllocator>(
      new IpAllocator(base, size, std::move(canonical), std::move(reserved)));
}

std::optional<uint32_t> IpAllocator::OffsetOf(std::string_view ip) const {
  auto v = ParseIpv4(ip);
  if (!v || *v < base_ || *v - base_ >= bits_.size()) return std::nullopt;
  return *v - base_;
}

bool IpAllocator::InRange(std::string_view ip) const { return OffsetOf(ip).has_value(); }

Status IpAllocator::Allocate(std::string_view ip) {
  if (!ParseIpv4(ip)) return Status::Invalid("invalid IP \"" + std::string(ip) + "\"");
  auto off = OffsetOf(ip);
  if (!off) {
    return Status::Invalid("the provided IP (" + std::string(ip) +
                           ") is not in the valid range. The range of valid IPs is " + cidr_);
  }
  if (!bits_.Allocate(*off)) return Status::Invalid("provided IP is already allocated");
  return Status::OK();
}

Result<std::string> IpAllocator::AllocateNext() {
  auto off = bits_.AllocateNext();
  if (!off) return Status::ResourceExhausted("range is full");
  return FormatIpv4(base_ + *off);
}

void IpAllocator::Release(std::string_view ip) {
  if (auto off = OffsetOf(ip)) bits_.Release(*off);
}

bool IpAllocator::Has(std::string_view ip) const {
  auto off = OffsetOf(ip);
  return off && bits_.Has(*off);
}

std::string IpAllocator::FirstAddress() const { return FormatIpv4(base_); }

// ---- PortAllocator ----------------------------------------------------------------------------

PortAllocator::PortAllocator(int base, int size)
    : base_(base),
      size_(size),
      bits_(static_cast<uint32_t>(size),
            std::min<uint32_t>(std::max<uint32_t>(16, static_cast<uint32_t>(size) / 32), 128), {},
            Seed()) {}

std::string PortAllocator::RangeString() const {
  return std::to_string(base_) + "-" + std::to_string(base_ + size_ - 1);
}

Status PortAllocator::Allocate(int port) {
  if (port < base_ || port >= base_ + size_) {
    return Status::Invalid("provided port is not in the valid range. The range of valid ports is " +
                           RangeString());
  }
  if (!bits_.Allocate(static_cast<uint32_t>(port - base_))) {
    return Status::Invalid("provided port is already allocated");
  }
  return Status::OK();
}

Result<int> PortAllocator::AllocateNext() {
  auto off = bits_.AllocateNext();
  if (!off) return Status::ResourceExhausted("range is full");
  return base_ + static_cast<int>(*off);
}

void PortAllocator::Release(int port) {
  if (port >= base_ && port < base_ + size_) bits_.Release(static_cast<uint32_t>(port - base_));
}

bool PortAllocator::Has(int port) const {
  return port >= base_ && port < base_ + size_ && bits_.Has(static_cast<uint32_t>(port - base_));
}

// ---- Service helpers ----------------------------------------------------------------------------

namespace {

std::string_view TypeOf(const json::object& svc) {
  auto t = api::GetString(svc, "spec.type");
  return t.empty() ? std::string_view("ClusterIP") : t;
}

bool NeedsClusterIp(const json::object& svc) { return TypeOf(svc) != "ExternalName"; }

bool NeedsNodePorts(const json::object& svc) {
  auto t = TypeOf(svc);
  return t == "NodePort" || t == "LoadBalancer";
}

// Whether ports without a requested nodePort get one (upstream shouldAllocateNodePorts).
bool AllocatesNodePorts(const json::object& svc) {
  auto t = TypeOf(svc);
  if (t == "NodePort") return true;
  if (t == "LoadBalancer") return api::GetBool(svc, "spec.allocateLoadBalancerNodePorts") != false;
  return false;
}

bool NeedsHealthCheckPort(const json::object& svc) {
  return TypeOf(svc) == "LoadBalancer" &&
         api::GetString(svc, "spec.externalTrafficPolicy") == "Local";
}

int IntField(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_int64()) return 0;
  return static_cast<int>(it->value().as_int64());
}

std::string_view StrField(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return it->value().as_string();
}

json::array* MutablePorts(json::object& svc) {
  auto& spec = api::MutableObjectAt(svc, "spec");
  auto it = spec.find("ports");
  if (it == spec.end() || !it->value().is_array()) return nullptr;
  return &it->value().as_array();
}

std::vector<std::string> StringList(const json::object& svc, std::string_view path) {
  std::vector<std::string> out;
  if (const auto* a = api::GetArray(svc, path)) {
    for (const auto& v : *a) {
      if (v.is_string()) out.emplace_back(v.as_string());
    }
  }
  return out;
}

// Go's %#v of a []string.
std::string GoStringSlice(const std::vector<std::string>& v) {
  std::string out = "[]string{";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ", ";
    out += api::GoQuote(v[i]);
  }
  return out + "}";
}

Status Invalid(std::string_view name, api::ErrorList errors) {
  return Status::Invalid(api::InvalidMessage("", "Service", name, errors));
}

}  // namespace

ServiceAllocations AllocationsOf(const json::object& svc) {
  ServiceAllocations a;
  if (NeedsClusterIp(svc)) {
    auto ip = api::GetString(svc, "spec.clusterIP");
    if (!ip.empty() && ip != "None") a.cluster_ip = std::string(ip);
  }
  if (NeedsNodePorts(svc)) {
    if (const auto* ports = api::GetArray(svc, "spec.ports")) {
      for (const auto& p : *ports) {
        if (!p.is_object()) continue;
        int np = IntField(p.as_object(), "nodePort");
        if (np > 0) a.node_ports.insert(np);
      }
    }
  }
  if (NeedsHealthCheckPort(svc)) {
    if (auto hc = api::GetInt(svc, "spec.healthCheckNodePort"); hc && *hc > 0) {
      a.node_ports.insert(static_cast<int>(*hc));
    }
  }
  return a;
}

// What one Admit allocated, so that a failure (or a dry run) can give it back.
class ServiceAllocationPlugin::Txn {
 public:
  explicit Txn(ServiceAllocationPlugin& p) : p_(p) {}
  ~Txn() {
    if (!done_) Rollback();
  }
  void Ip(std::string ip) { ips_.push_back(std::move(ip)); }
  void Port(int port) { ports_.push_back(port); }
  void Rollback() {
    for (const auto& ip : ips_) p_.ips_->Release(ip);
    for (int port : ports_) p_.ports_.Release(port);
    done_ = true;
  }
  void Keep() { done_ = true; }

 private:
  ServiceAllocationPlugin& p_;
  std::vector<std::string> ips_;
  std::vector<int> ports_;
  bool done_ = false;
};

ServiceAllocationPlugin::ServiceAllocationPlugin(std::unique_ptr<IpAllocator> ips, int port_base,
                                                 int port_size)
    : ips_(std::move(ips)), ports_(port_base, port_size) {}

Result<std::unique_ptr<ServiceAllocationPlugin>> ServiceAllocationPlugin::Create(
    const ClusterConfig& config, int node_port_base, int node_port_size) {
  std::vector<std::string> never_dynamic;
  if (!config.cluster_dns.empty()) never_dynamic.push_back(config.cluster_dns);
  MINI8S_ASSIGN_OR_RETURN(auto ips, IpAllocator::Create(config.service_cidr, never_dynamic));
  return std::unique_ptr<ServiceAllocationPlugin>(
      new ServiceAllocationPlugin(std::move(ips), node_port_base, node_port_size));
}

Result<ServiceAdmissionPlugins> NewServiceAdmissionPlugins(
    const ClusterConfig& config, DefaultStorageClassPlugin::ClassLister list_classes) {
  MINI8S_ASSIGN_OR_RETURN(auto alloc, ServiceAllocationPlugin::Create(config));
  ServiceAdmissionPlugins out;
  out.allocation = alloc.get();
  out.plugins.push_back(std::move(alloc));
  if (list_classes) {
    out.plugins.push_back(std::make_unique<DefaultStorageClassPlugin>(std::move(list_classes)));
  }
  return out;
}

Status DefaultStorageClassPlugin::Admit(server::AdmissionAttributes& attrs) {
  if (attrs.operation != "CREATE" || !attrs.kind.group.empty() ||
      attrs.kind.kind != "PersistentVolumeClaim" || !attrs.subresource.empty() ||
      attrs.object == nullptr) {
    return Status::OK();
  }
  const json::value* cls = api::FindPath(*attrs.object, "spec.storageClassName");
  if (cls && !cls->is_null()) return Status::OK();
  const json::object* best = nullptr;
  std::vector<json::object> classes = list_classes_();
  for (const auto& sc : classes) {
    bool is_default =
        api::Annotation(sc, "storageclass.kubernetes.io/is-default-class") == "true" ||
        api::Annotation(sc, "storageclass.beta.kubernetes.io/is-default-class") == "true";
    if (!is_default) continue;
    if (!best || api::CreationTimestamp(sc) > api::CreationTimestamp(*best) ||
        (api::CreationTimestamp(sc) == api::CreationTimestamp(*best) &&
         api::Name(sc) < api::Name(*best))) {
      best = &sc;
    }
  }
  if (best) api::MutableObjectAt(*attrs.object, "spec")["storageClassName"] = api::Name(*best);
  return Status::OK();
}

namespace {
bool IsService(const server::AdmissionAttributes& attrs) {
  return attrs.kind.group.empty() && attrs.kind.kind == "Service" && attrs.subresource.empty();
}
}  // namespace

Status ServiceAllocationPlugin::Admit(server::AdmissionAttributes& attrs) {
  if (!IsService(attrs) || attrs.object == nullptr) return Status::OK();
  Txn txn(*this);
  Status s;
  if (attrs.operation == "CREATE") {
    s = AdmitCreate(attrs, txn);
  } else if (attrs.operation == "UPDATE" && attrs.old_object != nullptr) {
    s = AdmitUpdate(attrs, txn);
  }
  if (!s.ok() || attrs.dry_run) {
    txn.Rollback();  // dry runs report what would be allocated but keep nothing
  } else {
    txn.Keep();
  }
  return s;
}

Status ServiceAllocationPlugin::AllocateClusterIp(json::object& svc, std::string_view name,
                                                  Txn& txn) {
  auto& spec = api::MutableObjectAt(svc, "spec");
  std::string ip(api::GetString(svc, "spec.clusterIP"));
  std::vector<std::string> ips = StringList(svc, "spec.clusterIPs");
  if (ip.empty() && !ips.empty()) ip = ips.front();

  api::ErrorList errs;
  // IPv4 single-stack cluster: refuse other families the way upstream's initIPFamilyFields does.
  std::vector<std::string> families = StringList(svc, "spec.ipFamilies");
  for (size_t i = 0; i < families.size(); ++i) {
    if (families[i] != "IPv4") {
      errs.push_back(api::Invalid(api::FieldPath("spec").Child("ipFamilies").Index(i),
                                  api::BadValue::Str(families[i]),
                                  "not configured on this cluster"));
    }
  }
  bool headless = ip == "None";
  bool has_selector = api::GetObject(svc, "spec.selector") != nullptr &&
                      !api::GetObject(svc, "spec.selector")->empty();
  std::string policy(api::GetString(svc, "spec.ipFamilyPolicy"));
  if (policy == "RequireDualStack" && !(headless && !has_selector)) {
    errs.push_back(api::Invalid(api::FieldPath("spec").Child("ipFamilyPolicy"),
                                api::BadValue::Str(policy),
                                "this cluster is not configured for dual-stack services"));
  }
  if (ips.size() > 1) {
    errs.push_back(api::Invalid(api::FieldPath("spec").Child("clusterIPs").Index(1),
                                api::BadValue::Str(ips[1]), "not configured on this cluster"));
  }
  if (!ips.empty() && !ip.empty() && ips.front() != ip) {
    errs.push_back(api::Invalid(api::FieldPath("spec").Child("clusterIPs").Index(0),
                                api::BadValue::Rendered(GoStringSlice(ips)),
                                "must match `clusterIP` when both are specified"));
  }
  if (!headless && !ip.empty() && !ParseIpv4(ip)) {
    errs.push_back(api::Invalid(api::FieldPath("spec").Child("clusterIPs").Index(0),
                                api::BadValue::Str(ip),
                                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"));
  }
  if (!errs.empty()) return Invalid(name, std::move(errs));

  if (policy.empty()) policy = headless && !has_selector ? "RequireDualStack" : "SingleStack";
  if (headless) {
    spec["clusterIP"] = "None";
    spec["clusterIPs"] = json::array{"None"};
  } else {
    if (ip.empty()) {
      auto next = ips_->AllocateNext();
      if (!next) {
        return Status::Internal("Internal error occurred: failed to allocate a serviceIP: " +
                                next.error().message());
      }
      ip = *next;
    } else {
      Status s = ips_->Allocate(ip);
      if (!s.ok()) {
        if (ips.empty()) ips.push_back(ip);
        return Invalid(name, {api::Invalid(api::FieldPath("spec").Child("clusterIPs"),
                                           api::BadValue::Rendered(GoStringSlice(ips)),
                                           "failed to allocate IP " + ip + ": " + s.message())});
      }
    }
    txn.Ip(ip);
    spec["clusterIP"] = ip;
    spec["clusterIPs"] = json::array{json::string(ip)};
  }
  spec["ipFamilies"] = json::array{"IPv4"};
  spec["ipFamilyPolicy"] = policy;
  return Status::OK();
}

// Upstream's allocNodePorts: ports with the same port number share one NodePort; requested
// values are allocated (unless the service already holds them: `held`), the rest are picked.
Status ServiceAllocationPlugin::AllocateNodePorts(json::object& svc, std::string_view name,
                                                  const std::set<int>& held, Txn& txn) {
  std::set<int> taken_here;
  auto take = [&](int np, const api::FieldPath& path) -> Status {
    if (held.count(np) || taken_here.count(np)) return Status::OK();
    Status s = ports_.Allocate(np);
    if (!s.ok()) return Invalid(name, {api::Invalid(path, api::BadValue::Int(np), s.message())});
    txn.Port(np);
    taken_here.insert(np);
    return Status::OK();
  };
  auto next = [&]() -> Result<int> {
    auto np = ports_.AllocateNext();
    if (!np) {
      return Status::Internal("Internal error occurred: failed to allocate a nodePort: " +
                              np.error().message());
    }
    txn.Port(*np);
    taken_here.insert(*np);
    return *np;
  };

  if (NeedsNodePorts(svc)) {
    if (json::array* ports = MutablePorts(svc)) {
      std::map<int, int> by_service_port;  // port -> nodePort
      bool allocate = AllocatesNodePorts(svc);
      for (size_t i = 0; i < ports->size(); ++i) {
        if (!(*ports)[i].is_object()) continue;
        auto& p = (*ports)[i].as_object();
        int np = IntField(p, "nodePort");
        if (np == 0 && !allocate) continue;
        int port = IntField(p, "port");
        auto path = api::FieldPath("spec").Child("ports").Index(i).Child("nodePort");
        auto it = by_service_port.find(port);
        if (it == by_service_port.end()) {
          // A later entry with the same port may carry the requested value.
          int requested = np;
          for (size_t j = i; requested == 0 && j < ports->size(); ++j) {
            if (!(*ports)[j].is_object()) continue;
            const auto& q = (*ports)[j].as_object();
            if (IntField(q, "port") == port) requested = IntField(q, "nodePort");
          }
          if (requested != 0) {
            MINI8S_RETURN_IF_ERROR(take(requested, path));
            np = requested;
          } else {
            MINI8S_ASSIGN_OR_RETURN(np, next());
          }
          p["nodePort"] = np;
          by_service_port[port] = np;
        } else if (np != it->second) {
          if (np == 0) {
            p["nodePort"] = it->second;
          } else {
            MINI8S_RETURN_IF_ERROR(take(np, path));
          }
        }
      }
    }
  }
  if (NeedsHealthCheckPort(svc)) {
    auto& spec = api::MutableObjectAt(svc, "spec");
    int hc = static_cast<int>(api::GetInt(svc, "spec.healthCheckNodePort").value_or(0));
    if (hc != 0) {
      MINI8S_RETURN_IF_ERROR(take(hc, api::FieldPath("spec").Child("healthCheckNodePort")));
    } else {
      MINI8S_ASSIGN_OR_RETURN(hc, next());
      spec["healthCheckNodePort"] = hc;
    }
  }
  return Status::OK();
}

Status ServiceAllocationPlugin::AdmitCreate(server::AdmissionAttributes& attrs, Txn& txn) {
  json::object& svc = *attrs.object;
  std::string name(attrs.name.empty() ? api::Name(svc) : attrs.name);
  if (NeedsClusterIp(svc)) MINI8S_RETURN_IF_ERROR(AllocateClusterIp(svc, name, txn));
  return AllocateNodePorts(svc, name, {}, txn);
}

Status ServiceAllocationPlugin::AdmitUpdate(server::AdmissionAttributes& attrs, Txn& txn) {
  json::object& svc = *attrs.object;
  const json::object& old = *attrs.old_object;
  std::string name(attrs.name.empty() ? api::Name(svc) : attrs.name);
  auto& spec = api::MutableObjectAt(svc, "spec");

  // Keep what the stored object holds when the update leaves it out (upstream
  // patchAllocatedValues), so that `kubectl replace` of a manifest without clusterIP works.
  if (NeedsClusterIp(svc) && NeedsClusterIp(old)) {
    if (api::GetString(svc, "spec.clusterIP").empty() &&
        StringList(svc, "spec.clusterIPs").empty()) {
      if (const auto* v = api::FindPath(old, "spec.clusterIP")) spec["clusterIP"] = *v;
      if (const auto* v = api::FindPath(old, "spec.clusterIPs")) spec["clusterIPs"] = *v;
    }
    if (!api::FindPath(svc, "spec.ipFamilies")) {
      if (const auto* v = api::FindPath(old, "spec.ipFamilies")) spec["ipFamilies"] = *v;
    }
    if (!api::FindPath(svc, "spec.ipFamilyPolicy")) {
      if (const auto* v = api::FindPath(old, "spec.ipFamilyPolicy")) spec["ipFamilyPolicy"] = *v;
    }
  }
  if (api::GetString(svc, "spec.clusterIP").empty()) {
    auto ips = StringList(svc, "spec.clusterIPs");
    if (!ips.empty()) spec["clusterIP"] = ips.front();
  }
  ServiceAllocations old_alloc = AllocationsOf(old);
  if (NeedsNodePorts(old) && NeedsNodePorts(svc)) {
    std::map<std::string, int> by_name;
    if (const auto* ports = api::GetArray(old, "spec.ports")) {
      for (const auto& p : *ports) {
        if (p.is_object())
          by_name[std::string(StrField(p.as_object(), "name"))] =
              IntField(p.as_object(), "nodePort");
      }
    }
    std::set<int> in_new;
    json::array* ports = MutablePorts(svc);
    if (ports) {
      for (const auto& p : *ports) {
        if (p.is_object() && IntField(p.as_object(), "nodePort")) {
          in_new.insert(IntField(p.as_object(), "nodePort"));
        }
      }
      for (auto& p : *ports) {
        if (!p.is_object() || IntField(p.as_object(), "nodePort") != 0) continue;
        auto it = by_name.find(std::string(StrField(p.as_object(), "name")));
        if (it != by_name.end() && it->second != 0 && !in_new.count(it->second)) {
          p.as_object()["nodePort"] = it->second;
        }
      }
    }
  }
  if (NeedsHealthCheckPort(svc) && NeedsHealthCheckPort(old) &&
      api::GetInt(svc, "spec.healthCheckNodePort").value_or(0) == 0) {
    if (const auto* v = api::FindPath(old, "spec.healthCheckNodePort")) {
      spec["healthCheckNodePort"] = *v;
    }
  }

  // Drop values the new type does not use when the user just carried them over
  // (upstream dropTypeDependentFields).
  if (NeedsClusterIp(old) && !NeedsClusterIp(svc) &&
      api::GetString(svc, "spec.clusterIP") == api::GetString(old, "spec.clusterIP")) {
    spec.erase("clusterIP");
    spec.erase("clusterIPs");
    spec.erase("ipFamilies");
    spec.erase("ipFamilyPolicy");
  }
  if (!NeedsNodePorts(svc)) {
    if (json::array* ports = MutablePorts(svc)) {
      for (auto& p : *ports) {
        if (!p.is_object()) continue;
        int np = IntField(p.as_object(), "nodePort");
        if (np != 0 && old_alloc.node_ports.count(np)) p.as_object().erase("nodePort");
      }
    }
  }
  if (!NeedsHealthCheckPort(svc)) {
    int hc = static_cast<int>(api::GetInt(svc, "spec.healthCheckNodePort").value_or(0));
    if (hc != 0 && old_alloc.node_ports.count(hc)) spec.erase("healthCheckNodePort");
  }

  // spec.clusterIP is immutable while both old and new use one (upstream ValidateServiceUpdate).
  std::string_view old_ip = api::GetString(old, "spec.clusterIP");
  std::string_view new_ip = api::GetString(svc, "spec.clusterIP");
  if (NeedsClusterIp(svc) && NeedsClusterIp(old) && !old_ip.empty() && new_ip != old_ip) {
    return Invalid(name, {api::Invalid(api::FieldPath("spec").Child("clusterIP"),
                                       api::BadValue::Str(new_ip), "field is immutable")});
  }
  if (NeedsClusterIp(svc) && (!NeedsClusterIp(old) || old_ip.empty())) {
    MINI8S_RETURN_IF_ERROR(AllocateClusterIp(svc, name, txn));
  }
  return AllocateNodePorts(svc, name, old_alloc.node_ports, txn);
}

void ServiceAllocationPlugin::Release(const ServiceAllocations& a) {
  if (a.cluster_ip) ips_->Release(*a.cluster_ip);
  for (int p : a.node_ports) ports_.Release(p);
}

void ServiceAllocationPlugin::Committed(const server::AdmissionAttributes& attrs, bool committed) {
  if (!IsService(attrs) || attrs.dry_run) return;
  if (attrs.operation == "CREATE") {
    if (!committed && attrs.object) Release(AllocationsOf(*attrs.object));
    return;
  }
  if (attrs.operation == "DELETE") {
    if (committed && attrs.old_object) Release(AllocationsOf(*attrs.old_object));
    return;
  }
  if (attrs.operation != "UPDATE" || !attrs.object || !attrs.old_object) return;
  ServiceAllocations now = AllocationsOf(*attrs.object);
  ServiceAllocations before = AllocationsOf(*attrs.old_object);
  // Committed: give back what the old object held and the new one does not; failed: give back
  // what Admit took for the new object.
  const ServiceAllocations& from = committed ? before : now;
  const ServiceAllocations& keep = committed ? now : before;
  ServiceAllocations drop;
  if (from.cluster_ip && from.cluster_ip != keep.cluster_ip) drop.cluster_ip = from.cluster_ip;
  for (int p : from.node_ports) {
    if (!keep.node_ports.count(p)) drop.node_ports.insert(p);
  }
  Release(drop);
}

std::vector<std::string> ServiceAllocationPlugin::Seed(const std::vector<json::object>& services) {
  std::vector<std::string> warnings;
  ips_->Clear();
  ports_.Clear();
  for (const auto& svc : services) {
    std::string who = std::string(api::Namespace(svc)) + "/" + std::string(api::Name(svc));
    ServiceAllocations a = AllocationsOf(svc);
    if (a.cluster_ip) {
      Status s = ips_->Allocate(*a.cluster_ip);
      if (!s.ok()) {
        warnings.push_back("service " + who + ": cluster IP " + *a.cluster_ip + ": " + s.message());
      }
    }
    for (int p : a.node_ports) {
      Status s = ports_.Allocate(p);
      if (!s.ok()) {
        warnings.push_back("service " + who + ": node port " + std::to_string(p) + ": " +
                           s.message());
      }
    }
  }
  return warnings;
}

}  // namespace mini8s::controllers
