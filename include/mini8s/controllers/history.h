// ControllerRevision history shared by the DaemonSet and StatefulSet controllers (upstream
// pkg/controller/history plus the revision code of the two controllers).
//
// A ControllerRevision (apps/v1) snapshots a set's pod template: `data` is the set's template
// patch, {"spec":{"template":{...,"$patch":"replace"}}}, `revision` is a number that increases
// with every new (or rolled-back-to) template, and the name is `<owner>-<hash>` where the hash is
// FNV-32 of the data (plus the set's collisionCount) in apimachinery's "safe" alphabet.
//
// Pure functions are thread-compatible. History is confined to the executor of the informer it
// reads (the controller's executor); `client` and `revisions` must outlive it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "mini8s/api/selector.h"
#include "mini8s/client/client.h"
#include "mini8s/client/informer.h"
#include "mini8s/common/result.h"
#include "mini8s/common/status.h"

namespace mini8s::controllers {

// Where the set controllers send their Events (an EventRecorder in the manager, a vector in
// tests): involved object, "Normal"|"Warning", reason, message.
using SetEventFunc = std::function<void(const boost::json::object& object, std::string_view type,
                                        std::string_view reason, std::string message)>;

}  // namespace mini8s::controllers

namespace mini8s::controllers::history {

// Label on StatefulSet revisions carrying their hash (history.ControllerRevisionHashLabel).
inline constexpr std::string_view kControllerRevisionHashLabel = "controller.kubernetes.io/hash";
// Label on set pods naming their revision (StatefulSet: the revision name; DaemonSet: the hash,
// which the DaemonSet's revisions carry under the same key).
inline constexpr std::string_view kRevisionLabel = "controller-revision-hash";

const client::Resource& ControllerRevisionsResource();

// JSON with object keys sorted at every level and Go's escaping: the bytes Go's json.Marshal
// writes for a map[string]interface{}, which is how upstream serialises revision data.
std::string CanonicalJson(const boost::json::value& v);
// FNV-1 32-bit (Go's hash/fnv New32).
uint32_t Fnv32(std::string_view data);
// apimachinery rand.SafeEncodeString: maps every byte onto "bcdfghjklmnpqrstvwxz2456789" so
// hashes never spell words.
std::string SafeEncodeString(std::string_view s);
// The hash of a revision's data with an optional collision probe (HashControllerRevision).
std::string HashControllerRevision(const boost::json::object& revision,
                                   std::optional<int32_t> probe);
// `<prefix>-<hash>`, the prefix cut to 223 characters so the name stays a valid DNS subdomain.
std::string ControllerRevisionName(std::string_view prefix, std::string_view hash);

// The set's template patch: {"spec":{"template":<template + "$patch":"replace">}}.
boost::json::object TemplatePatch(const boost::json::object& set);
// A copy of `set` whose spec.template is the revision's template (the strategic merge of the
// patch onto the set). kInvalid when the revision carries no template.
Result<boost::json::object> ApplyRevision(const boost::json::object& set,
                                          const boost::json::object& revision);

// A new, unnamed-until-hashed revision owned (controller=true) by `parent`: labels are the
// template labels plus kControllerRevisionHashLabel, the name `<parent>-<hash>`.
boost::json::object NewControllerRevision(const boost::json::object& parent,
                                          std::string_view parent_kind,
                                          const boost::json::object* template_labels,
                                          boost::json::object data, int64_t revision,
                                          std::optional<int32_t> collision_count);

int64_t RevisionNumber(const boost::json::object& revision);
// Ascending by revision number, then creationTimestamp, then name.
void SortControllerRevisions(std::vector<client::ObjectPtr>& revisions);
// Same hash label and same data.
bool EqualRevision(const boost::json::object& a, const boost::json::object& b);
std::vector<client::ObjectPtr> FindEqualRevisions(const std::vector<client::ObjectPtr>& revisions,
                                                  const boost::json::object& needle);
// One more than the highest revision number (1 for an empty history).
int64_t NextRevision(const std::vector<client::ObjectPtr>& revisions);

class History {
 public:
  History(client::Client& client, const client::Informer& revisions)
      : client_(client), revisions_(revisions) {}

  // Revisions in the parent's namespace that match `selector` and are controlled by the parent
  // or by nobody (orphans), from the informer cache.
  std::vector<client::ObjectPtr> ListControllerRevisions(const boost::json::object& parent,
                                                         const api::LabelSelector& selector) const;

  struct Created {
    boost::json::object revision;
    int32_t collision_count = 0;
  };
  // Creates `revision` under `<parent>-<hash>`. An existing revision of that name with the same
  // data is returned as is; one with other data is a hash collision: the probe is bumped and the
  // create retried (the returned collision_count is the one that succeeded).
  boost::asio::awaitable<Result<Created>> CreateControllerRevision(boost::json::object parent,
                                                                   boost::json::object revision,
                                                                   int32_t collision_count);
  // Sets the revision number (retrying on conflict with a fresh copy).
  boost::asio::awaitable<Result<boost::json::object>> UpdateControllerRevision(
      boost::json::object revision, int64_t new_revision);
  // NotFound counts as success.
  boost::asio::awaitable<Status> DeleteControllerRevision(boost::json::object revision);

 private:
  client::Client& client_;
  const client::Informer& revisions_;
};

}  // namespace mini8s::controllers::history
