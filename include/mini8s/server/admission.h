// Admission plug-ins (upstream's admission chain): code that sees every create, update and delete
// after the body is decoded and defaulted and before it is validated and stored, and may change
// the object (mutating) or refuse the request (validating). Allocators (ClusterIP, NodePort) are
// admission plug-ins here too: they allocate on CREATE and release in Committed() when a delete
// committed or a create failed after Admit.
//
// Thread-safe: the API server calls plug-ins from its worker pool concurrently.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "mini8s/api/registry.h"
#include "mini8s/common/status.h"
#include "mini8s/server/auth.h"

namespace mini8s::server {

struct AdmissionAttributes {
  std::string_view operation;  // "CREATE", "UPDATE", "DELETE"
  const api::KindInfo& kind;
  std::string_view subresource;  // "" or "status", "scale" ...
  std::string_view ns;
  std::string_view name;
  // CREATE/UPDATE: the object about to be stored (defaults applied, mutable). DELETE: null.
  boost::json::object* object = nullptr;
  // UPDATE/DELETE: the stored object. CREATE: null.
  const boost::json::object* old_object = nullptr;
  const UserInfo& user;
  bool dry_run = false;
  // Where a plug-in appends warnings for the client (sent as `Warning: 299 - "..."` headers when
  // the request succeeds); set by the API server, may be null elsewhere.
  std::vector<std::string>* warnings = nullptr;
  // Where a plug-in records audit annotations (key, value) for the request's audit event
  // (upstream's AddAnnotation, e.g. pod-security.kubernetes.io/audit-violations); may be null.
  std::vector<std::pair<std::string, std::string>>* audit_annotations = nullptr;
};

class AdmissionPlugin {
 public:
  virtual ~AdmissionPlugin() = default;
  virtual std::string_view name() const = 0;
  // A non-OK Status refuses the request; its Code picks the response (kInvalid 422 with the
  // message, kForbidden 403, kAlreadyExists/kConflict 409, kResourceExhausted 403 quota style).
  virtual Status Admit(AdmissionAttributes& attrs) = 0;
  // After the store write for a request this plug-in admitted: `committed` false when the write
  // failed (undo an allocation), true when it is durable (for DELETE: release what the object
  // held). Dry runs never reach here with committed=true.
  virtual void Committed(const AdmissionAttributes& attrs, bool committed) {
    (void)attrs;
    (void)committed;
  }
};

}  // namespace mini8s::server
