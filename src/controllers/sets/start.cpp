// The factories the controller manager calls. Kept apart from the controllers so that tests,
// which drive the controllers over their own informers, do not link the manager.
#include <memory>
#include <utility>

#include "controllers/sets/sets_util.h"
#include "mini8s/controllers/daemonset.h"
#include "mini8s/controllers/history.h"
#include "mini8s/controllers/manager.h"
#include "mini8s/controllers/statefulset.h"

namespace mini8s::controllers {

namespace {

SetEventFunc RecorderFunc(EventRecorder& recorder) {
  return
      [&recorder](const boost::json::object& obj, std::string_view type, std::string_view reason,
                  std::string message) { recorder.Event(obj, type, reason, std::move(message)); };
}

}  // namespace

Status StartDaemonSetController(ControllerContext& ctx) {
  client::Informer& daemonsets = ctx.informers.For(sets::DaemonSetsResource());
  client::Informer& pods = ctx.informers.For(sets::PodsResource());
  client::Informer& nodes = ctx.informers.For(sets::NodesResource());
  client::Informer& revisions = ctx.informers.For(history::ControllerRevisionsResource());
  WorkQueue& queue = ctx.NewQueue();
  auto controller = std::make_unique<DaemonSetController>(
      ctx.client, DaemonSetController::Informers{daemonsets, pods, nodes, revisions}, queue,
      ctx.clock, RecorderFunc(ctx.events("daemonset-controller")));
  controller->RegisterHandlers();
  ctx.Run(std::move(controller), queue, {&daemonsets, &pods, &nodes, &revisions}, 2);
  return Status::OK();
}

Status StartStatefulSetController(ControllerContext& ctx) {
  client::Informer& statefulsets = ctx.informers.For(sets::StatefulSetsResource());
  client::Informer& pods = ctx.informers.For(sets::PodsResource());
  client::Informer& pvcs = ctx.informers.For(sets::PvcsResource());
  client::Informer& revisions = ctx.informers.For(history::ControllerRevisionsResource());
  WorkQueue& queue = ctx.NewQueue();
  auto controller = std::make_unique<StatefulSetController>(
      ctx.client, StatefulSetController::Informers{statefulsets, pods, pvcs, revisions}, queue,
      ctx.clock, RecorderFunc(ctx.events("statefulset-controller")));
  controller->RegisterHandlers();
  ctx.Run(std::move(controller), queue, {&statefulsets, &pods, &pvcs, &revisions}, 2);
  return Status::OK();
}

}  // namespace mini8s::controllers
