#include <boost/json/object.hpp>

#include "controllers/batch/batch_util.h"
#include "mini8s/api/object.h"
#include "mini8s/common/logging.h"
#include "mini8s/controllers/job.h"

namespace mini8s::controllers {

namespace json = boost::json;
using namespace batch_internal;  // NOLINT: module-private helpers

namespace {

// When the Job expires, or nullopt when it has no TTL, is unfinished or is being deleted.
std::optional<std::chrono::system_clock::time_point> ExpiresAt(const json::object& job) {
  std::optional<int64_t> ttl = api::GetInt(job, "spec.ttlSecondsAfterFinished");
  if (!ttl || api::IsBeingDeleted(job)) return std::nullopt;
  const json::object* cond = batch::FinishedCondition(job);
  if (cond == nullptr) return std::nullopt;
  auto finished = TimeField(*cond, "lastTransitionTime");
  if (!finished) return std::nullopt;
  return *finished + std::chrono::seconds(*ttl);
}

}  // namespace

TtlAfterFinishedController::TtlAfterFinishedController(client::Client& client,
                                                       client::Informer& jobs, WorkQueue& queue,
                                                       const Clock& clock)
    : client_(client), jobs_(jobs), clock_(clock) {
  // Only Jobs that may expire are worth a key.
  auto maybe_enqueue = [&queue](const json::object& job) {
    if (ExpiresAt(job)) queue.Add(client::ObjectKey(job));
  };
  client::EventHandlers h;
  h.on_add = [maybe_enqueue](const client::ObjectPtr& job) { maybe_enqueue(*job); };
  h.on_update = [maybe_enqueue](const client::ObjectPtr&, const client::ObjectPtr& job) {
    maybe_enqueue(*job);
  };
  jobs_.AddEventHandlers(std::move(h));
}

boost::asio::awaitable<Result<Requeue>> TtlAfterFinishedController::Reconcile(std::string key) {
  client::ObjectPtr cached = jobs_.indexer().Get(std::string_view(key));
  if (!cached) co_return Requeue{};
  auto expires = ExpiresAt(*cached);
  if (!expires) co_return Requeue{};
  auto now = clock_.Now();
  if (now < *expires) {
    co_return Requeue{true, std::chrono::ceil<std::chrono::milliseconds>(*expires - now)};
  }
  // The cache may lag a TTL change; decide on a fresh read, as upstream does.
  const client::Resource jobs_res = JobsResource();
  const auto parts = client::SplitObjectKey(key);
  const std::string ns = parts.first;
  const std::string name = parts.second;
  auto fresh = co_await client_.Get(jobs_res, ns, name);
  if (!fresh.has_value()) {
    if (fresh.error().code() == Code::kNotFound) co_return Requeue{};
    co_return fresh.error();
  }
  expires = ExpiresAt(*fresh);
  if (!expires) co_return Requeue{};
  if (now < *expires) {
    co_return Requeue{true, std::chrono::ceil<std::chrono::milliseconds>(*expires - now)};
  }
  client::DeleteOptions options;
  options.propagation_policy = "Background";
  options.precondition_uid = std::string(api::Uid(*fresh));
  auto deleted = co_await client_.Delete(jobs_res, ns, name, options);
  if (!deleted.has_value() && deleted.error().code() != Code::kNotFound) {
    co_return deleted.error();
  }
  MINI8S_LOG(INFO) << "ttl-after-finished: deleted job " << key;
  co_return Requeue{};
}

}  // namespace mini8s::controllers
