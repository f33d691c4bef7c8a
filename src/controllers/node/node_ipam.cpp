// The range allocator: one podCIDR per node out of the cluster CIDR.
#include <arpa/inet.h>

#include <set>

#include <boost/json.hpp>

#include "mini8s/api/object.h"
#include "mini8s/common/json.h"
#include "mini8s/common/logging.h"
#include "mini8s/controllers/node.h"

namespace mini8s::controllers {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

std::string FormatCidr(uint32_t addr, int bits) {
  in_addr a{htonl(addr)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(bits);
}

}  // namespace

Result<std::unique_ptr<NodeIpamController>> NodeIpamController::Create(
    client::Client& client, const client::Informer& nodes, EventRecorder& events,
    std::string cluster_cidr, int node_mask_size) {
  auto slash = cluster_cidr.find('/');
  in_addr a{};
  if (slash == std::string::npos ||
      inet_pton(AF_INET, cluster_cidr.substr(0, slash).c_str(), &a) != 1) {
    return Status::Invalid("cluster CIDR " + cluster_cidr + " is not an IPv4 CIDR");
  }
  int bits = -1;
  try {
    bits = std::stoi(cluster_cidr.substr(slash + 1));
  } catch (const std::exception&) {
  }
  if (bits < 0 || bits > 32 || node_mask_size < bits || node_mask_size > 30 ||
      node_mask_size - bits > 20) {
    return Status::Invalid("node CIDR mask /" + std::to_string(node_mask_size) +
                           " does not fit cluster CIDR " + cluster_cidr);
  }
  std::unique_ptr<NodeIpamController> c(new NodeIpamController(client, nodes, events));
  uint32_t mask = bits == 0 ? 0 : ~uint32_t(0) << (32 - bits);
  c->base_ = ntohl(a.s_addr) & mask;
  c->cluster_bits_ = bits;
  c->node_bits_ = node_mask_size;
  return c;
}

asio::awaitable<Result<Requeue>> NodeIpamController::Reconcile(std::string key) {
  client::ObjectPtr node = nodes_.indexer().Get(key);
  if (!node) {
    pending_.erase(key);
    co_return Requeue{};
  }
  if (!api::GetString(*node, "spec.podCIDR").empty()) {
    pending_.erase(key);
    co_return Requeue{};
  }
  std::string cidr;
  if (auto it = pending_.find(key); it != pending_.end()) {
    cidr = it->second;  // written before, not yet seen: write the same again (idempotent)
  } else {
    std::set<std::string> used;
    for (const auto& n : nodes_.indexer().List()) {
      std::string_view c = api::GetString(*n, "spec.podCIDR");
      if (!c.empty()) used.emplace(c);
    }
    for (auto p = pending_.begin(); p != pending_.end();) {
      if (!nodes_.indexer().Get(p->first)) {
        p = pending_.erase(p);
      } else {
        used.insert(p->second);
        ++p;
      }
    }
    uint32_t count = uint32_t(1) << (node_bits_ - cluster_bits_);
    for (uint32_t i = 0; i < count && cidr.empty(); ++i) {
      std::string c = FormatCidr(base_ + (i << (32 - node_bits_)), node_bits_);
      if (!used.count(c)) cidr = c;
    }
    if (cidr.empty()) {
      events_.Event(*node, "Warning", "CIDRNotAvailable",
                    "Node " + key + " status is now: CIDRNotAvailable");
      co_return Requeue{true, std::chrono::seconds(30)};
    }
    pending_[key] = cidr;
  }
  std::string patch = SerializeJson(json::object{
      {"spec", json::object{{"podCIDR", cidr}, {"podCIDRs", json::array{json::value(cidr)}}}}});
  client::Resource res = resources::Nodes();
  client::PatchOptions po;
  std::string no_ns;
  auto r = co_await client_.Patch(res, no_ns, key, client::PatchType::kMerge, std::move(patch), po);
  if (!r.ok()) {
    if (r.error().code() == Code::kNotFound) {
      pending_.erase(key);
      co_return Requeue{};
    }
    co_return r.error();
  }
  MINI8S_LOG(INFO) << "node " << key << ": podCIDR " << cidr;
  co_return Requeue{};
}

Status StartNodeIpamController(ControllerContext& ctx) {
  client::Informer& nodes = ctx.informers.For(resources::Nodes());
  auto c = NodeIpamController::Create(ctx.client, nodes, ctx.events("node-ipam-controller"),
                                      ctx.config.cluster_cidr);
  if (!c.ok()) return c.error();
  WorkQueue& queue = ctx.NewQueue();
  nodes.AddEventHandlers(EnqueueHandlers(queue));
  ctx.Run(std::move(*c), queue, {&nodes});
  return Status::OK();
}

}  // namespace mini8s::controllers
