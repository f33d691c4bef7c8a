#include "mini8s/store/mem_store.h"

#include "mini8s/common/check.h"
#include "store/store_core.h"

namespace mini8s::store {
namespace {

// Nothing to persist: a batch is "durable" as soon as it is applied in memory.
class MemBackend final : public detail::Backend {
 public:
  Result<detail::LoadedState> Load(size_t) override { return detail::LoadedState{}; }
  Status Persist(const std::vector<detail::Mutation>&) override { return Status::OK(); }
  Status CompactRange(Revision, Revision) override { return Status::OK(); }
  Status CheckIntegrity() override { return Status::OK(); }
  void FillStats(StoreStats&) override {}
  void Close() override {}
};

}  // namespace

std::unique_ptr<Store> MemStore::Create(const StoreOptions& options, const Clock& clock) {
  auto store = detail::StoreCore::Start(std::make_unique<MemBackend>(), options, clock);
  MINI8S_CHECK(store.has_value()) << store.error().ToString();
  return std::move(store).value();
}

}  // namespace mini8s::store
