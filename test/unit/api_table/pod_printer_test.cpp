#include <string>

#include <catch2/catch.hpp>

#include "unit/api_table/table_test_util.h"

namespace mini8s::api {
namespace {

using testing::Kind;
using testing::RowJson;

// A pod created five minutes before Now(), with `spec` and `status` spliced in.
std::string Pod(std::string_view spec, std::string_view status, std::string_view extra_meta = "") {
  return std::string(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p",)") +
         std::string(extra_meta) + R"("creationTimestamp":"2026-01-01T11:55:00Z"},"spec":)" +
         std::string(spec) + R"(,"status":)" + std::string(status) + "}";
}

constexpr std::string_view kOne = R"({"nodeName":"n1","containers":[{"name":"c","image":"i"}]})";
constexpr std::string_view kTwoInits = R"({"nodeName":"n1",
  "initContainers":[{"name":"i1","image":"i"},{"name":"i2","image":"i"}],
  "containers":[{"name":"c","image":"i"}]})";

struct PodCase {
  const char* what;
  std::string object;
  const char* want;  // the first five cells: name, ready, status, restarts, age
};

TEST_CASE("Table: pod READY, STATUS and RESTARTS follow upstream's printPod", "[api_table][unit]") {
  const PodCase cases[] = {
      {"pending and unscheduled", Pod(R"({"containers":[{"name":"c"}]})", R"({"phase":"Pending"})"),
       R"j(["p","0/1","Pending","0","5m")j"},
      {"scheduling gated",
       Pod(R"({"containers":[{"name":"c"}]})",
           R"({"phase":"Pending","conditions":[{"type":"PodScheduled","status":"False",
               "reason":"SchedulingGated"}]})"),
       R"j(["p","0/1","SchedulingGated","0","5m")j"},
      {"first init container running", Pod(kTwoInits, R"({"phase":"Pending",
         "initContainerStatuses":[{"name":"i1","state":{"running":{}}},
                                  {"name":"i2","state":{"waiting":{"reason":"PodInitializing"}}}],
         "containerStatuses":[{"name":"c","state":{"waiting":{"reason":"PodInitializing"}}}]})"),
       R"j(["p","0/1","Init:0/2","0","5m")j"},
      {"second init container waiting to start", Pod(kTwoInits, R"({"phase":"Pending",
         "initContainerStatuses":[{"name":"i1","state":{"terminated":{"exitCode":0,"reason":"Completed"}}},
                                  {"name":"i2","state":{"waiting":{"reason":"PodInitializing"}}}]})"),
       R"j(["p","0/1","Init:1/2","0","5m")j"},
      {"init container crash looping", Pod(kTwoInits, R"({"phase":"Pending",
         "initContainerStatuses":[{"name":"i1","restartCount":3,
            "lastState":{"terminated":{"exitCode":1,"finishedAt":"2026-01-01T11:59:00Z"}},
            "state":{"waiting":{"reason":"CrashLoopBackOff"}}}]})"),
       R"j(["p","0/1","Init:CrashLoopBackOff","3 (60s ago)","5m")j"},
      {"init container failed with a reason", Pod(kTwoInits, R"({"phase":"Failed",
         "initContainerStatuses":[{"name":"i1","state":{"terminated":{"exitCode":1,"reason":"Error"}}}]})"),
       R"j(["p","0/1","Init:Error","0","5m")j"},
      {"init container failed with an exit code only", Pod(kTwoInits, R"({"phase":"Pending",
         "initContainerStatuses":[{"name":"i1","state":{"terminated":{"exitCode":2}}}]})"),
       R"j(["p","0/1","Init:ExitCode:2","0","5m")j"},
      {"init container killed by a signal", Pod(kTwoInits, R"({"phase":"Pending",
         "initContainerStatuses":[{"name":"i1","state":{"terminated":{"exitCode":137,"signal":9}}}]})"),
       R"j(["p","0/1","Init:Signal:9","0","5m")j"},
      {"init done, main container starting", Pod(kTwoInits, R"({"phase":"Pending",
         "conditions":[{"type":"Initialized","status":"True"}],
         "initContainerStatuses":[
           {"name":"i1","state":{"terminated":{"exitCode":0,"reason":"Completed"}}},
           {"name":"i2","state":{"terminated":{"exitCode":0,"reason":"Completed"}}}],
         "containerStatuses":[{"name":"c","state":{"waiting":{"reason":"PodInitializing"}}}]})"),
       R"j(["p","0/1","PodInitializing","0","5m")j"},
      {"running and ready",
       Pod(R"({"containers":[{"name":"a"},{"name":"b"}]})", R"({"phase":"Running",
         "containerStatuses":[{"name":"a","ready":true,"state":{"running":{}}},
                              {"name":"b","ready":true,"state":{"running":{}}}]})"),
       R"j(["p","2/2","Running","0","5m")j"},
      {"running, not ready", Pod(kOne, R"({"phase":"Running",
         "containerStatuses":[{"name":"c","ready":false,"state":{"running":{}}}]})"),
       R"j(["p","0/1","Running","0","5m")j"},
      {"crash looping with restarts", Pod(kOne, R"({"phase":"Running",
         "containerStatuses":[{"name":"c","ready":false,"restartCount":5,
            "lastState":{"terminated":{"exitCode":1,"reason":"Error",
                                       "finishedAt":"2026-01-01T11:58:00Z"}},
            "state":{"waiting":{"reason":"CrashLoopBackOff","message":"back-off"}}}]})"),
       R"j(["p","0/1","CrashLoopBackOff","5 (2m ago)","5m")j"},
      {"restarts without a termination time", Pod(kOne, R"({"phase":"Running",
         "containerStatuses":[{"name":"c","ready":true,"restartCount":2,"state":{"running":{}}}]})"),
       R"j(["p","1/1","Running","2","5m")j"},
      {"image pull failing", Pod(kOne, R"({"phase":"Pending",
         "containerStatuses":[{"name":"c","state":{"waiting":{"reason":"ErrImagePull"}}}]})"),
       R"j(["p","0/1","ErrImagePull","0","5m")j"},
      {"completed", Pod(kOne, R"({"phase":"Succeeded",
         "containerStatuses":[{"name":"c","state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]})"),
       R"j(["p","0/1","Completed","0","5m")j"},
      {"terminated by a signal without a reason", Pod(kOne, R"({"phase":"Failed",
         "containerStatuses":[{"name":"c","state":{"terminated":{"exitCode":143,"signal":15}}}]})"),
       R"j(["p","0/1","Signal:15","0","5m")j"},
      {"terminated with an exit code without a reason", Pod(kOne, R"({"phase":"Failed",
         "containerStatuses":[{"name":"c","state":{"terminated":{"exitCode":3}}}]})"),
       R"j(["p","0/1","ExitCode:3","0","5m")j"},
      {"one container completed while another runs, pod ready",
       Pod(R"({"containers":[{"name":"a"},{"name":"b"}]})", R"({"phase":"Running",
         "conditions":[{"type":"Ready","status":"True"}],
         "containerStatuses":[{"name":"a","ready":false,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}},
                              {"name":"b","ready":true,"state":{"running":{}}}]})"),
       R"j(["p","1/2","Running","0","5m")j"},
      {"one container completed while another runs, pod not ready",
       Pod(R"({"containers":[{"name":"a"},{"name":"b"}]})", R"({"phase":"Running",
         "containerStatuses":[{"name":"a","ready":false,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}},
                              {"name":"b","ready":true,"state":{"running":{}}}]})"),
       R"j(["p","1/2","NotReady","0","5m")j"},
      {"the first container's state wins",
       Pod(R"({"containers":[{"name":"a"},{"name":"b"}]})",
           R"({"phase":"Running","containerStatuses":[
           {"name":"a","state":{"waiting":{"reason":"ImagePullBackOff"}}},
           {"name":"b","state":{"waiting":{"reason":"ContainerCreating"}}}]})"),
       R"j(["p","0/2","ImagePullBackOff","0","5m")j"},
      {"terminating",
       Pod(kOne, R"({"phase":"Running",
         "containerStatuses":[{"name":"c","ready":true,"state":{"running":{}}}]})",
           R"("deletionTimestamp":"2026-01-01T11:59:00Z",)"),
       R"j(["p","1/1","Terminating","0","5m")j"},
      {"deleted after it completed",
       Pod(kOne, R"({"phase":"Succeeded",
         "containerStatuses":[{"name":"c","state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]})",
           R"("deletionTimestamp":"2026-01-01T11:59:00Z",)"),
       R"j(["p","0/1","Completed","0","5m")j"},
      {"node lost",
       Pod(kOne, R"({"phase":"Running","reason":"NodeLost",
         "containerStatuses":[{"name":"c","ready":true,"state":{"running":{}}}]})",
           R"("deletionTimestamp":"2026-01-01T11:59:00Z",)"),
       R"j(["p","1/1","Unknown","0","5m")j"},
      {"evicted", Pod(kOne, R"({"phase":"Failed","reason":"Evicted",
         "message":"The node was low on resource: memory."})"),
       R"j(["p","0/1","Evicted","0","5m")j"},
      {"a started sidecar counts as a ready container",
       Pod(R"({"initContainers":[{"name":"side","restartPolicy":"Always"}],
               "containers":[{"name":"c"}]})",
           R"({"phase":"Running","conditions":[{"type":"Initialized","status":"True"}],
             "initContainerStatuses":[{"name":"side","started":true,"ready":true,"restartCount":1,
               "lastState":{"terminated":{"exitCode":1,"finishedAt":"2026-01-01T11:00:00Z"}},
               "state":{"running":{}}}],
             "containerStatuses":[{"name":"c","ready":true,"state":{"running":{}}}]})"),
       R"j(["p","2/2","Running","1 (60m ago)","5m")j"},
  };
  KindInfoConstSharedPtr pods = Kind("", "v1", "Pod");
  for (const PodCase& c : cases) {
    INFO(c.what);
    CHECK_THAT(RowJson(*pods, c.object), Catch::Matchers::StartsWith(std::string(c.want) + ","));
  }
}

TEST_CASE("Table: pod wide cells show IP, node, nominated node and readiness gates",
          "[api_table][unit]") {
  KindInfoConstSharedPtr pods = Kind("", "v1", "Pod");
  std::string row = RowJson(*pods, Pod(R"({"nodeName":"n1","containers":[{"name":"c"}],
      "readinessGates":[{"conditionType":"a/one"},{"conditionType":"a/two"}]})",
                                       R"({"phase":"Running","nominatedNodeName":"n2",
      "podIP":"10.1.0.9","podIPs":[{"ip":"10.1.0.9"},{"ip":"fd00::9"}],
      "conditions":[{"type":"a/one","status":"True"},{"type":"a/two","status":"False"}],
      "containerStatuses":[{"name":"c","ready":true,"state":{"running":{}}}]})"));
  CHECK(row == R"(["p","1/1","Running","0","5m","10.1.0.9","n1","n2","1/2"])");
  // podIP alone (before podIPs is filled in) still shows.
  CHECK(RowJson(*pods, Pod(kOne, R"({"phase":"Running","podIP":"10.1.0.3"})")) ==
        R"(["p","0/1","Running","0","5m","10.1.0.3","n1","<none>","<none>"])");
}

}  // namespace
}  // namespace mini8s::api
