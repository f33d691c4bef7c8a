// ClusterIP and NodePort allocation (upstream's pkg/registry/core/service ipallocator,
// portallocator and the service REST storage's alloc.go), done as an admission plug-in: Admit
// allocates on CREATE (and on UPDATE when the type change needs new values), Committed releases
// on a committed DELETE or type change and rolls back when the write failed.
//
// Semantics kept from upstream:
//  - dynamic values are picked at random, preferring the upper part of the range; the lower
//    "static band" (min(max(16, size/16), 256) IPs, min(max(16, size/32), 128) ports) is used
//    for dynamic allocation only when the upper part is full, so explicitly requested values
//    rarely collide;
//  - a value is never handed out twice while allocated;
//  - the first address of the service CIDR (the `kubernetes` service) and the cluster DNS address
//    are never chosen dynamically, only when requested;
//  - errors carry upstream's messages ("provided IP is already allocated", "provided port is
//    already allocated", "the provided IP (x) is not in the valid range ...").
//
// Thread-safe: every public method may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "mini8s/common/result.h"
#include "mini8s/common/status.h"
#include "mini8s/controllers/manager.h"
#include "mini8s/server/admission.h"

namespace mini8s::controllers {

// A bitmap over offsets [0, size) with random dynamic allocation (upstream's
// allocator.AllocationBitmap with the random-scan strategy and the static band). Thread-safe.
class RangeBitmap {
 public:
  // Offsets in `never_dynamic` are only ever allocated explicitly.
  RangeBitmap(uint32_t size, uint32_t static_band, std::set<uint32_t> never_dynamic, uint64_t seed);

  // False when already allocated or out of range.
  bool Allocate(uint32_t offset);
  // A free offset, now allocated; nullopt when full. Scans the upper part from a random point,
  // then the static band.
  std::optional<uint32_t> AllocateNext();
  // False when it was not allocated.
  bool Release(uint32_t offset);
  bool Has(uint32_t offset) const;
  uint32_t Used() const;
  uint32_t size() const { return size_; }
  void Clear();

 private:
  std::optional<uint32_t> ScanLocked(uint32_t from, uint32_t to);

  const uint32_t size_;
  const uint32_t static_band_;
  const std::set<uint32_t> never_dynamic_;
  mutable std::mutex mu_;
  std::vector<bool> bits_;  // GUARDED_BY(mu_)
  uint32_t used_ = 0;       // GUARDED_BY(mu_)
  std::mt19937_64 rng_;     // GUARDED_BY(mu_)
};

// Service IPs from one IPv4 CIDR: usable addresses exclude the network and broadcast address.
class IpAllocator {
 public:
  // kInvalid for a CIDR that is not IPv4 or too small (prefix > 30). `never_dynamic` are
  // addresses (inside the range) handed out only on request.
  static Result<std::unique_ptr<IpAllocator>> Create(std::string_view cidr,
                                                     std::vector<std::string> never_dynamic = {});

  // kInvalid "provided IP is already allocated", or upstream's ErrNotInRange text, or
  // "invalid IP" for an unparsable one.
  Status Allocate(std::string_view ip);
  // kResourceExhausted "range is full" when nothing is free.
  Result<std::string> AllocateNext();
  // Releasing an address that is not allocated (or not in range) is a no-op.
  void Release(std::string_view ip);
  bool Has(std::string_view ip) const;
  bool InRange(std::string_view ip) const;
  uint32_t Used() const { return bits_.Used(); }
  uint32_t Free() const { return bits_.size() - bits_.Used(); }
  void Clear() { bits_.Clear(); }
  // "10.43.0.0/16" (the canonical network form).
  const std::string& Cidr() const { return cidr_; }
  // The first usable address ("10.43.0.1"): the `kubernetes` service's ClusterIP.
  std::string FirstAddress() const;

 private:
  IpAllocator(uint32_t base, uint32_t size, std::string cidr, std::set<uint32_t> never_dynamic);
  std::optional<uint32_t> OffsetOf(std::string_view ip) const;

  uint32_t base_;  // network address + 1, host order
  std::string cidr_;
  RangeBitmap bits_;
};

// NodePorts from [base, base + size).
class PortAllocator {
 public:
  PortAllocator(int base = 30000, int size = 2768);

  // kInvalid "provided port is already allocated" or "provided port is not in the valid range.
  // The range of valid ports is 30000-32767".
  Status Allocate(int port);
  // kResourceExhausted "range is full".
  Result<int> AllocateNext();
  void Release(int port);
  bool Has(int port) const;
  uint32_t Used() const { return bits_.Used(); }
  void Clear() { bits_.Clear(); }
  // "30000-32767".
  std::string RangeString() const;

 private:
  int base_;
  int size_;
  RangeBitmap bits_;
};

// The values a Service object holds: its ClusterIP (none for ExternalName, headless or unset)
// and its NodePorts (including spec.healthCheckNodePort).
struct ServiceAllocations {
  std::optional<std::string> cluster_ip;
  std::set<int> node_ports;
};
ServiceAllocations AllocationsOf(const boost::json::object& service);

// The admission plug-in that owns both allocators. Create it once per API server, call Seed()
// with the stored services before serving, and register it for every request (it ignores kinds
// other than core/v1 Service and every subresource).
//
// The caller's contract (server/admission.h): after Admit succeeded, call Committed(attrs, true)
// once the write is durable, or Committed(attrs, false) when the write or a later plug-in
// failed; `attrs.object` must still be the object Admit mutated.
class ServiceAllocationPlugin final : public server::AdmissionPlugin {
 public:
  // kInvalid for a bad service CIDR. NodePorts come from [node_port_base, +node_port_size).
  static Result<std::unique_ptr<ServiceAllocationPlugin>> Create(const ClusterConfig& config,
                                                                 int node_port_base = 30000,
                                                                 int node_port_size = 2768);

  std::string_view name() const override { return "ServiceAllocation"; }
  Status Admit(server::AdmissionAttributes& attrs) override;
  void Committed(const server::AdmissionAttributes& attrs, bool committed) override;

  // Rebuilds both allocation sets from the stored services (upstream's repair controllers at
  // start). Returns one warning per value that could not be marked (out of range, or held by
  // two services).
  std::vector<std::string> Seed(const std::vector<boost::json::object>& services);

  IpAllocator& ips() { return *ips_; }
  PortAllocator& ports() { return ports_; }

 private:
  explicit ServiceAllocationPlugin(std::unique_ptr<IpAllocator> ips, int port_base, int port_size);
  class Txn;
  Status AdmitCreate(server::AdmissionAttributes& attrs, Txn& txn);
  Status AdmitUpdate(server::AdmissionAttributes& attrs, Txn& txn);
  Status AllocateClusterIp(boost::json::object& svc, std::string_view name, Txn& txn);
  Status AllocateNodePorts(boost::json::object& svc, std::string_view name,
                           const std::set<int>& held, Txn& txn);
  void Release(const ServiceAllocations& a);

  std::unique_ptr<IpAllocator> ips_;
  PortAllocator ports_;
};

// Upstream's DefaultStorageClass admission plug-in: a PersistentVolumeClaim created without
// spec.storageClassName (absent or null; "" means "no class" and is kept) gets the default
// StorageClass (annotated storageclass.kubernetes.io/is-default-class "true"; the newest wins,
// as upstream since 1.28). `list_classes` returns the stored StorageClasses; it is called on
// every such create, from any thread, and must be thread-safe.
class DefaultStorageClassPlugin final : public server::AdmissionPlugin {
 public:
  using ClassLister = std::function<std::vector<boost::json::object>()>;
  explicit DefaultStorageClassPlugin(ClassLister list_classes)
      : list_classes_(std::move(list_classes)) {}
  std::string_view name() const override { return "DefaultStorageClass"; }
  Status Admit(server::AdmissionAttributes& attrs) override;

 private:
  ClassLister list_classes_;
};

// The admission plug-ins this module provides, ready to register: ServiceAllocation and, when
// `list_classes` is given, DefaultStorageClass. `allocation` (also in the list) is for Seed().
struct ServiceAdmissionPlugins {
  std::vector<std::unique_ptr<server::AdmissionPlugin>> plugins;
  ServiceAllocationPlugin* allocation = nullptr;
};
Result<ServiceAdmissionPlugins> NewServiceAdmissionPlugins(
    const ClusterConfig& config, DefaultStorageClassPlugin::ClassLister list_classes = nullptr);

}  // namespace mini8s::controllers
