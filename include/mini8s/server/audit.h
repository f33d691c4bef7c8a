// The audit log (kube-apiserver's --audit-log-* and --audit-policy-file; docs/design/audit.md):
// audit.k8s.io/v1 Policy evaluation, audit.k8s.io/v1 Event JSON lines, and a log writer with
// kube-apiserver's size-based rotation on a thread of its own, so request threads never wait on
// the disk (a full queue waits briefly, then drops and counts).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/json/object.hpp>

#include "mini8s/common/clock.h"
#include "mini8s/common/result.h"
#include "mini8s/http/message.h"
#include "mini8s/server/auth.h"

namespace mini8s::server {

enum class AuditLevel : uint8_t { kNone, kMetadata, kRequest, kRequestResponse };
enum class AuditStage : uint8_t { kRequestReceived, kResponseStarted, kResponseComplete, kPanic };
std::string_view AuditLevelName(AuditLevel level);
std::string_view AuditStageName(AuditStage stage);

struct AuditGroupResources {
  std::string group;
  std::vector<std::string> resources;  // "pods", "pods/log", "*", "pods/*", "*/log"
  std::vector<std::string> resource_names;
};

struct AuditPolicyRule {
  AuditLevel level = AuditLevel::kNone;
  std::vector<std::string> users, user_groups, verbs, namespaces, non_resource_urls;
  std::vector<AuditGroupResources> resources;
  std::optional<std::vector<AuditStage>> omit_stages;  // replaces nothing: adds to the policy's
  std::optional<bool> omit_managed_fields;
};

// What a request is, as the policy sees it.
struct AuditAttributes {
  const UserInfo* user = nullptr;
  std::string verb;  // API verb, or the lower-case HTTP method for non-resource requests
  bool resource_request = false;
  std::string api_group, resource, subresource, namespace_, name;
  std::string path;
};

// The level and stages a request is audited with.
struct AuditDecision {
  AuditLevel level = AuditLevel::kNone;
  std::vector<AuditStage> omit_stages;
  bool omit_managed_fields = false;
  bool Omits(AuditStage s) const;
};

class AuditPolicy {
 public:
  // Parses a Policy (YAML or JSON, apiVersion audit.k8s.io/v1 or v1beta1). kInvalid names the
  // problem (unknown level, stage, bad rule).
  static Result<AuditPolicy> Parse(std::string_view text);
  // Metadata for every request: what mini8s logs with --audit-log-path and no policy file.
  static AuditPolicy MetadataForAll();

  // The first matching rule decides; no match is level None (upstream's checker).
  AuditDecision Evaluate(const AuditAttributes& attrs) const;
  const std::vector<AuditPolicyRule>& rules() const { return rules_; }

 private:
  std::vector<AuditPolicyRule> rules_;
  std::vector<AuditStage> omit_stages_;
  bool omit_managed_fields_ = false;
};

// Where audit lines go: a file with rotation, or stdout ("-"). Lines are queued and written by a
// thread of its own; Close() (and the destructor) writes everything queued, then stops.
struct AuditLogOptions {
  std::string path;      // "-" for stdout
  int max_age_days = 0;  // 0: backups are not removed for age
  int max_backups = 0;   // 0: all kept (subject to max_age_days)
  int max_size_mb = 0;   // 0: no rotation
  size_t queue_limit = 10000;
  // How long a request thread waits for room in a full queue before the line is dropped.
  std::chrono::milliseconds full_queue_wait{1000};
  // Tests: rotate after this many bytes instead of max_size_mb MiB.
  int64_t max_size_bytes_for_test = 0;
};

class AuditLogWriter {
 public:
  static Result<std::unique_ptr<AuditLogWriter>> Open(AuditLogOptions options);
  ~AuditLogWriter();  // Close()
  AuditLogWriter(const AuditLogWriter&) = delete;
  AuditLogWriter& operator=(const AuditLogWriter&) = delete;

  // Queues one line (without its newline). Thread-safe.
  void Write(std::string line);
  // Waits until every queued line is written and flushed.
  void Flush();
  void Close();
  uint64_t dropped() const { return dropped_.load(); }

 private:
  explicit AuditLogWriter(AuditLogOptions options) : options_(std::move(options)) {}
  Status OpenFile();
  void Run();
  void WriteLines(std::deque<std::string>& lines);
  void Rotate();
  void PruneBackups();

  const AuditLogOptions options_;
  int fd_ = -1;
  int64_t size_ = 0;
  std::mutex mu_;
  std::condition_variable cv_, room_cv_, flushed_cv_;
  std::deque<std::string> queue_;
  uint64_t queued_seq_ = 0, written_seq_ = 0;
  bool closed_ = false;
  std::thread thread_;
  std::atomic<uint64_t> dropped_{0};
};

// One request's audit events, made by Auditor::Begin.
class AuditRecorder;

class Auditor {
 public:
  Auditor(AuditPolicy policy, std::unique_ptr<AuditLogWriter> writer,
          const Clock& clock = RealClock::Instance());
  ~Auditor();

  // Starts auditing a request once its user is known and authorization decided: evaluates the
  // policy and writes RequestReceived. `decision_allowed`/`reason` become the
  // authorization.k8s.io annotations.
  // Null when the policy says None. `api_version` is the objectRef's version. `decoded_body`:
  // the request body as JSON when it was sent in another encoding (protobuf).
  std::unique_ptr<AuditRecorder> Begin(const http::HttpRequest& request,
                                       const AuditAttributes& attrs, std::string_view api_version,
                                       bool decision_allowed, std::string_view reason,
                                       const UserInfo* impersonated = nullptr,
                                       const std::string* decoded_body = nullptr);
  const AuditPolicy& policy() const { return policy_; }
  AuditLogWriter* writer() { return writer_.get(); }
  void Emit(const boost::json::object& event);

 private:
  AuditPolicy policy_;
  std::unique_ptr<AuditLogWriter> writer_;
  const Clock& clock_;
  friend class AuditRecorder;
};

class AuditRecorder {
 public:
  AuditRecorder(Auditor& auditor, AuditDecision decision, boost::json::object event,
                std::string request_body);
  const std::string& audit_id() const { return audit_id_; }
  AuditLevel level() const { return decision_.level; }
  // The response head went out for a long-running request (watch): ResponseStarted.
  void ResponseStarted(int code);
  // The whole response: ResponseComplete with responseStatus (and responseObject at
  // RequestResponse). `body` is the response body as sent.
  void ResponseComplete(int code, std::string_view body);
  // An exception escaped the handler.
  void Panic(std::string_view message);

 private:
  void EmitStage(AuditStage stage);

  Auditor& auditor_;
  AuditDecision decision_;
  boost::json::object event_;
  std::string audit_id_;
};

// The auditor for `mini8s server`'s flags: null without --audit-log-path (as kube-apiserver, a
// policy alone logs nothing). Without --audit-policy-file every request is logged at Metadata
// (kube-apiserver would log nothing; see docs/design/audit.md).
Result<std::shared_ptr<Auditor>> OpenAuditLog(const std::string& log_path,
                                              const std::string& policy_file, int max_age_days,
                                              int max_backups, int max_size_mb);

// A random UUID (version 4), upstream's audit ID form.
std::string NewAuditId();

}  // namespace mini8s::server
