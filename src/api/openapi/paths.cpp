// Resource paths and operations, shaped like the apiserver's: the operation IDs, the
// x-kubernetes-action / x-kubernetes-group-version-kind extensions, and the query parameters that
// kubectl looks for (fieldValidation above all: its presence on a kind's `patch` operation is how
// kubectl learns that the server validates fields itself).
#include <string>
#include <vector>

#include "api/openapi/generator.h"

namespace mini8s::api::openapi_internal {

namespace json = boost::json;

namespace {

constexpr std::string_view kMetaV1 = "io.k8s.apimachinery.pkg.apis.meta.v1.";

struct QueryParam {
  std::string_view name;
  std::string_view type;
  std::string_view description;  // mini8s's own words
};

// mini8s's own one-line descriptions of the query parameters it accepts.
constexpr QueryParam kQueryParams[] = {
    {"pretty", "string", "Pretty-print the output."},
    {"dryRun", "string", "\"All\" processes the request without persisting it."},
    {"fieldManager", "string", "The name of the actor making the change."},
    {"fieldValidation", "string",
     "Ignore, Warn or Strict: what to do with unknown or duplicate fields in the body."},
    {"force", "boolean", "Apply requests: take over fields owned by other managers."},
    {"gracePeriodSeconds", "integer", "Seconds before the object is deleted; 0 deletes now."},
    {"orphanDependents", "boolean", "Deprecated: use propagationPolicy."},
    {"propagationPolicy", "string", "Orphan, Background or Foreground garbage collection."},
    {"ignoreStoreReadErrorWithClusterBreakingPotential", "boolean",
     "Delete objects that cannot be decoded (unsafe)."},
    {"allowWatchBookmarks", "boolean", "Watch: ask for BOOKMARK events."},
    {"continue", "string", "The continue token of the previous page."},
    {"fieldSelector", "string", "Select objects by field values."},
    {"labelSelector", "string", "Select objects by labels."},
    {"limit", "integer", "The most objects to return in one page."},
    {"resourceVersion", "string", "The resource version to read at or watch from."},
    {"resourceVersionMatch", "string", "How resourceVersion applies to a list."},
    {"sendInitialEvents", "boolean", "Watch: start with the current objects."},
    {"timeoutSeconds", "integer", "Ends a list or watch after this many seconds."},
    {"watch", "boolean", "Stream changes instead of returning a list."},
    // Subresources (exec, attach, portforward, log).
    {"command", "string", "The command to run, one argument per parameter."},
    {"container", "string", "The container; may be omitted when the pod has one."},
    {"stdin", "boolean", "Attach standard input."},
    {"stdout", "boolean", "Attach standard output."},
    {"stderr", "boolean", "Attach standard error."},
    {"tty", "boolean", "Allocate a terminal."},
    {"ports", "integer", "The pod ports to forward."},
    {"follow", "boolean", "Stream the log as it grows."},
    {"insecureSkipTLSVerifyBackend", "boolean", "Do not verify the kubelet's certificate."},
    {"limitBytes", "integer", "The most bytes of log to return."},
    {"previous", "boolean", "The log of the previous, terminated container."},
    {"sinceSeconds", "integer", "Only lines from the last this many seconds."},
    {"stream", "string", "All, Stdout or Stderr."},
    {"tailLines", "integer", "Only this many lines from the end."},
    {"timestamps", "boolean", "Prefix each line with its timestamp."},
    {"path", "string", "The path to proxy the request to."},
};

const std::vector<std::string_view> kListParams = {"allowWatchBookmarks",
                                                   "continue",
                                                   "fieldSelector",
                                                   "labelSelector",
                                                   "limit",
                                                   "resourceVersion",
                                                   "resourceVersionMatch",
                                                   "sendInitialEvents",
                                                   "timeoutSeconds",
                                                   "watch"};
// A deletecollection takes the list parameters except the watch ones.
const std::vector<std::string_view> kDeleteCollectionListParams = {
    "continue",        "fieldSelector",        "labelSelector",     "limit",
    "resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds"};
const std::vector<std::string_view> kWriteParams = {"dryRun", "fieldManager", "fieldValidation"};
const std::vector<std::string_view> kPatchParams = {"dryRun", "fieldManager", "fieldValidation",
                                                    "force"};
const std::vector<std::string_view> kDeleteParams = {
    "dryRun", "gracePeriodSeconds", "ignoreStoreReadErrorWithClusterBreakingPotential",
    "orphanDependents", "propagationPolicy"};

const QueryParam& FindParam(std::string_view name) {
  for (const auto& p : kQueryParams) {
    if (p.name == name) return p;
  }
  return kQueryParams[0];
}

// The query parameters of a subresource's path (its streaming options), and whether it takes
// `pretty` (the connect ones do not: their output is not an object).
std::vector<std::string_view> SubresourceParams(std::string_view sub) {
  if (sub == "exec") return {"command", "container", "stderr", "stdin", "stdout", "tty"};
  if (sub == "attach") return {"container", "stderr", "stdin", "stdout", "tty"};
  if (sub == "portforward") return {"ports"};
  if (sub == "proxy") return {"path"};
  if (sub == "log") {
    return {"container",  "follow",    "insecureSkipTLSVerifyBackend",
            "limitBytes", "previous",  "sinceSeconds",
            "stream",     "tailLines", "timestamps"};
  }
  return {};
}

std::string Capitalize(std::string_view s) {
  std::string out(s);
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 32);
  return out;
}

bool IsConnect(std::string_view sub) {
  return sub == "exec" || sub == "attach" || sub == "portforward" || sub == "proxy";
}

// What one operation returns or takes.
enum class Body { kNone, kKind, kPatch, kDeleteOptions };

struct Op {
  std::string method;  // get put post patch delete
  std::string action;  // x-kubernetes-action
  std::string id;      // operationId
  GroupVersionKind gvk;
  std::vector<std::string_view> params;
  Body body = Body::kNone;
  const Schema* body_schema = nullptr;
  // 200 (and 201/202) response: a kind schema, a named definition, or a plain string.
  const Schema* response_schema = nullptr;
  std::string response_definition;
  bool response_string = false;
  bool watch = false;
  bool created = false;   // post: 201 and 202 too
  bool accepted = false;  // delete: 202 too
};

class Emitter {
 public:
  Emitter(const PathBuilder& pb, const KindInfo& kind) : pb_(pb), kind_(kind) {
    builtin_ = !kind.custom;
    tag_ = (kind.group.empty() ? std::string("core") : kind.group) + "_" + kind.version;
    for (char& c : tag_) {
      if (c == '.' || c == '-') c = '_';
    }
  }

  json::object Param(const QueryParam& p) const {
    json::object out{{"name", p.name}, {"in", "query"}, {"description", p.description}};
    if (pb_.dialect == Dialect::kV3) {
      out["schema"] = json::object{{"type", p.type}, {"uniqueItems", true}};
    } else {
      out["type"] = p.type;
      out["uniqueItems"] = true;
    }
    return out;
  }

  json::object PathParam(std::string_view name, std::string_view description) const {
    json::object out{
        {"name", name}, {"in", "path"}, {"description", description}, {"required", true}};
    if (pb_.dialect == Dialect::kV3) {
      out["schema"] = json::object{{"type", "string"}, {"uniqueItems", true}};
    } else {
      out["type"] = "string";
      out["uniqueItems"] = true;
    }
    return out;
  }

  json::value SchemaFor(const Op& op) {
    if (op.response_string) return json::object{{"type", "string"}};
    if (op.response_schema != nullptr) return pb_.schemas.Use(op.response_schema);
    if (!op.response_definition.empty() && pb_.schemas.Require(op.response_definition)) {
      return pb_.schemas.RefTo(op.response_definition);
    }
    return json::object{{"type", "object"}};
  }

  std::vector<std::string> Produces(const Op& op) const {
    if (op.response_string) return {"text/plain", "application/json", "application/yaml"};
    std::vector<std::string> out = {"application/json", "application/yaml"};
    if (builtin_) out.emplace_back("application/vnd.kubernetes.protobuf");
    if (op.watch) {
      out = {"application/json;stream=watch"};
      if (builtin_) out.emplace_back("application/vnd.kubernetes.protobuf;stream=watch");
    }
    return out;
  }

  std::vector<std::string> Consumes(const Op& op) const {
    if (op.body == Body::kPatch) {
      std::vector<std::string> out = {"application/apply-patch+yaml", "application/json-patch+json",
                                      "application/merge-patch+json"};
      // Strategic merge patch needs Go struct tags: built-in kinds only. kubectl reads its
      // presence as "patch metadata is in components.schemas" (kubectl-wire §3.4).
      if (builtin_) out.emplace_back("application/strategic-merge-patch+json");
      return out;
    }
    return {"*/*"};
  }

  json::value BodySchema(const Op& op) {
    switch (op.body) {
      case Body::kKind:
        return op.body_schema != nullptr ? pb_.schemas.Use(op.body_schema)
                                         : json::value(json::object{{"type", "object"}});
      case Body::kPatch: {
        std::string name = std::string(kMetaV1) + "Patch";
        if (pb_.schemas.Require(name)) return pb_.schemas.RefTo(name);
        return json::object{{"type", "object"}};
      }
      case Body::kDeleteOptions: {
        std::string name = std::string(kMetaV1) + "DeleteOptions";
        if (pb_.schemas.Require(name)) return pb_.schemas.RefTo(name);
        return json::object{{"type", "object"}};
      }
      case Body::kNone:
        break;
    }
    return json::object{};
  }

  json::object Operation(const Op& op) {
    json::object out;
    out["tags"] = json::array{json::value(tag_)};
    out["description"] = op.action + " " + kind_.kind;
    out["operationId"] = op.id;
    json::array params;
    for (std::string_view p : op.params) params.push_back(Param(FindParam(p)));

    json::value schema = SchemaFor(op);
    std::vector<std::string> produces = Produces(op);
    std::vector<int> codes = {200};
    if (op.created) codes = {200, 201, 202};
    if (op.accepted) codes = {200, 202};

    json::object responses;
    if (pb_.dialect == Dialect::kV3) {
      if (op.body != Body::kNone) {
        json::object content;
        json::value body_schema = BodySchema(op);
        for (const auto& ct : Consumes(op)) content[ct] = json::object{{"schema", body_schema}};
        json::object rb{{"content", std::move(content)}};
        if (op.body != Body::kDeleteOptions) rb["required"] = true;
        out["requestBody"] = std::move(rb);
      }
      for (int code : codes) {
        json::object content;
        for (const auto& ct : produces) content[ct] = json::object{{"schema", schema}};
        responses[std::to_string(code)] = json::object{{"description", code == 201   ? "Created"
                                                                       : code == 202 ? "Accepted"
                                                                                     : "OK"},
                                                       {"content", std::move(content)}};
      }
    } else {
      if (op.body != Body::kNone) {
        json::array consumes;
        for (const auto& ct : Consumes(op)) consumes.emplace_back(ct);
        out["consumes"] = std::move(consumes);
        json::object body{{"name", "body"}, {"in", "body"}, {"schema", BodySchema(op)}};
        if (op.body != Body::kDeleteOptions) body["required"] = true;
        params.insert(params.begin(), std::move(body));
      }
      json::array prod;
      for (const auto& ct : produces) prod.emplace_back(ct);
      out["produces"] = std::move(prod);
      out["schemes"] = json::array{"https"};
      for (int code : codes) {
        responses[std::to_string(code)] = json::object{{"description", code == 201   ? "Created"
                                                                       : code == 202 ? "Accepted"
                                                                                     : "OK"},
                                                       {"schema", schema}};
      }
    }
    responses["401"] = json::object{{"description", "Unauthorized"}};
    if (!params.empty()) out["parameters"] = std::move(params);
    out["responses"] = std::move(responses);
    out["x-kubernetes-action"] = op.action;
    out["x-kubernetes-group-version-kind"] =
        json::object{{"group", op.gvk.group}, {"kind", op.gvk.kind}, {"version", op.gvk.version}};
    return out;
  }

  // Adds a path item with the given operations and path-level parameters.
  void AddPath(json::object& paths, const std::string& path, std::vector<Op> ops,
               bool has_namespace, bool has_name,
               const std::vector<std::string_view>& extra_params = {}, bool pretty = true) {
    if (ops.empty()) return;
    json::object item;
    for (const Op& op : ops) item[op.method] = Operation(op);
    json::array params;
    if (has_name) params.push_back(PathParam("name", "The object's name."));
    if (has_namespace) params.push_back(PathParam("namespace", "The object's namespace."));
    for (std::string_view p : extra_params) params.push_back(Param(FindParam(p)));
    if (pretty) params.push_back(Param(FindParam("pretty")));
    item["parameters"] = std::move(params);
    paths[path] = std::move(item);
  }

  void AddAll(json::object& paths) {
    const KindInfo& k = kind_;
    std::string prefix =
        k.group.empty() ? "/api/" + k.version : "/apis/" + k.group + "/" + k.version;
    std::string gvn = GroupVersionName(k.group, k.version);
    GroupVersionKind gvk{k.group, k.version, k.kind};
    std::string ns = k.namespaced ? "Namespaced" : "";
    std::string scope = k.namespaced ? "/namespaces/{namespace}" : "";
    RequireListDefinition(k, pb_.schemas);
    std::string list_def = ListDefinitionName(k);
    std::string status_def = std::string(kMetaV1) + "Status";
    std::string event_def = std::string(kMetaV1) + "WatchEvent";

    auto make = [&](std::string method, std::string action, std::string id) {
      Op op;
      op.method = std::move(method);
      op.action = std::move(action);
      op.id = std::move(id);
      op.gvk = gvk;
      return op;
    };

    // Collection: list, create, deletecollection.
    std::vector<Op> collection;
    if (k.HasVerb("list")) {
      Op op = make("get", "list", "list" + gvn + ns + k.kind);
      op.params = kListParams;
      op.response_definition = list_def;
      collection.push_back(std::move(op));
    }
    if (k.HasVerb("create")) {
      Op op = make("post", "post", "create" + gvn + ns + k.kind);
      op.params = kWriteParams;
      op.body = Body::kKind;
      op.body_schema = k.schema;
      op.response_schema = k.schema;
      op.created = true;
      collection.push_back(std::move(op));
    }
    if (k.HasVerb("deletecollection")) {
      Op op = make("delete", "deletecollection", "delete" + gvn + "Collection" + ns + k.kind);
      op.params = kDeleteParams;
      op.params.insert(op.params.end(), kDeleteCollectionListParams.begin(),
                       kDeleteCollectionListParams.end());
      op.body = Body::kDeleteOptions;
      op.response_definition = status_def;
      collection.push_back(std::move(op));
    }
    AddPath(paths, prefix + scope + "/" + k.plural, std::move(collection), k.namespaced, false);

    // Item: read, replace, patch, delete.
    std::vector<Op> item;
    if (k.HasVerb("get")) {
      Op op = make("get", "get", "read" + gvn + ns + k.kind);
      op.response_schema = k.schema;
      item.push_back(std::move(op));
    }
    if (k.HasVerb("update")) {
      Op op = make("put", "put", "replace" + gvn + ns + k.kind);
      op.params = kWriteParams;
      op.body = Body::kKind;
      op.body_schema = k.schema;
      op.response_schema = k.schema;
      item.push_back(std::move(op));
    }
    if (k.HasVerb("patch")) {
      Op op = make("patch", "patch", "patch" + gvn + ns + k.kind);
      op.params = kPatchParams;
      op.body = Body::kPatch;
      op.response_schema = k.schema;
      item.push_back(std::move(op));
    }
    if (k.HasVerb("delete")) {
      Op op = make("delete", "delete", "delete" + gvn + ns + k.kind);
      op.params = kDeleteParams;
      op.body = Body::kDeleteOptions;
      op.response_definition = status_def;
      op.accepted = true;
      item.push_back(std::move(op));
    }
    AddPath(paths, prefix + scope + "/" + k.plural + "/{name}", std::move(item), k.namespaced,
            true);

    // All namespaces (namespaced kinds): list only.
    if (k.namespaced && k.HasVerb("list")) {
      Op op = make("get", "list", "list" + gvn + k.kind + "ForAllNamespaces");
      op.params = kListParams;
      op.response_definition = list_def;
      std::vector<Op> ops;
      ops.push_back(std::move(op));
      AddPath(paths, prefix + "/" + k.plural, std::move(ops), false, false);
    }

    // The deprecated watch paths the apiserver still serves.
    if (k.HasVerb("watch")) {
      auto watch_op = [&](std::string action, std::string id) {
        Op op = make("get", std::move(action), std::move(id));
        op.params = kListParams;
        op.response_definition = event_def;
        op.watch = true;
        std::vector<Op> ops;
        ops.push_back(std::move(op));
        return ops;
      };
      AddPath(paths, prefix + "/watch" + scope + "/" + k.plural,
              watch_op("watchlist", "watch" + gvn + ns + k.kind + "List"), k.namespaced, false);
      AddPath(paths, prefix + "/watch" + scope + "/" + k.plural + "/{name}",
              watch_op("watch", "watch" + gvn + ns + k.kind), k.namespaced, true);
      if (k.namespaced) {
        AddPath(paths, prefix + "/watch/" + k.plural,
                watch_op("watchlist", "watch" + gvn + k.kind + "ListForAllNamespaces"), false,
                false);
      }
    }

    // Subresources.
    for (const SubresourceInfo& sub : k.subresource_info) {
      GroupVersionKind sub_gvk =
          sub.kind.empty() ? gvk : GroupVersionKind{sub.group, sub.version, sub.kind};
      const Schema* sub_schema = k.schema;
      if (!sub.kind.empty() && !(sub_gvk == gvk)) {
        KindInfoConstSharedPtr body_kind = pb_.registry.FindKind(sub.group, sub.version, sub.kind);
        sub_schema = body_kind ? body_kind->schema : nullptr;
      }
      bool connect = IsConnect(sub.name);
      bool text = connect || sub.name == "log";
      std::string sub_name = Capitalize(sub.name);
      std::vector<Op> ops;
      for (const std::string& verb : sub.verbs) {
        std::string method, action, id_verb;
        if (verb == "get") {
          method = "get", action = "get", id_verb = "read";
        } else if (verb == "update") {
          method = "put", action = "put", id_verb = "replace";
        } else if (verb == "patch") {
          method = "patch", action = "patch", id_verb = "patch";
        } else if (verb == "create") {
          method = "post", action = "post", id_verb = "create";
        } else if (verb == "delete") {
          method = "delete", action = "delete", id_verb = "delete";
        } else {
          continue;
        }
        bool duplicate = false;
        for (const Op& o : ops) duplicate = duplicate || o.method == method;
        if (duplicate) continue;
        Op op;
        op.method = method;
        op.gvk = sub_gvk;
        if (connect) {
          op.action = "connect";
          op.id = "connect" + gvn + Capitalize(method) + ns + k.kind + sub_name;
        } else {
          op.action = action;
          op.id = id_verb + gvn + ns + k.kind + sub_name;
        }
        if (text) {
          op.response_string = true;
        } else {
          op.response_schema = sub_schema;
          if (method == "put" || method == "post") {
            op.params = kWriteParams;
            op.body = Body::kKind;
            op.body_schema = sub_schema;
            op.created = method == "post";
          } else if (method == "patch") {
            op.params = kPatchParams;
            op.body = Body::kPatch;
          }
        }
        ops.push_back(std::move(op));
      }
      AddPath(paths, prefix + scope + "/" + k.plural + "/{name}/" + sub.name, std::move(ops),
              k.namespaced, true, SubresourceParams(sub.name), !connect);
    }
  }

 private:
  const PathBuilder& pb_;
  const KindInfo& kind_;
  bool builtin_ = true;
  std::string tag_;
};

}  // namespace

std::string GroupVersionName(std::string_view group, std::string_view version) {
  std::string out;
  std::string_view g = group;
  if (g.empty()) {
    out = "Core";
  } else {
    constexpr std::string_view kSuffix = ".k8s.io";
    if (g.size() > kSuffix.size() && g.substr(g.size() - kSuffix.size()) == kSuffix) {
      g.remove_suffix(kSuffix.size());
    }
    bool upper = true;
    for (char c : g) {
      if (c == '.' || c == '-') {
        upper = true;
        continue;
      }
      out += upper && c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c;
      upper = false;
    }
  }
  return out + Capitalize(version);
}

std::string ListDefinitionName(const KindInfo& kind) {
  std::string def = kind.schema != nullptr ? kind.schema->definition : "";
  if (def.empty()) return kind.list_kind;
  size_t dot = def.rfind('.');
  return def.substr(0, dot == std::string::npos ? 0 : dot + 1) + kind.list_kind;
}

void RequireListDefinition(const KindInfo& kind, SchemaEmitter& schemas) {
  std::string name = ListDefinitionName(kind);
  if (schemas.Require(name)) return;
  // Custom kinds have no list schema of their own: the apiserver's shape.
  json::object items{{"type", "array"}};
  if (kind.schema != nullptr) {
    items["items"] = schemas.Use(kind.schema);
  }
  std::string list_meta = std::string(kMetaV1) + "ListMeta";
  json::object metadata =
      schemas.Require(list_meta) ? schemas.RefTo(list_meta) : json::object{{"type", "object"}};
  json::object body{
      {"type", "object"},
      {"required", json::array{"items"}},
      {"properties", json::object{{"apiVersion", json::object{{"type", "string"}}},
                                  {"items", std::move(items)},
                                  {"kind", json::object{{"type", "string"}}},
                                  {"metadata", std::move(metadata)}}},
      {"x-kubernetes-group-version-kind",
       json::array{json::object{
           {"group", kind.group}, {"kind", kind.list_kind}, {"version", kind.version}}}}};
  schemas.AddSynthetic(name, std::move(body));
}

void PathBuilder::AddResource(const KindInfo& kind, json::object& paths) {
  if (kind.subresource_only || kind.plural.empty()) return;
  Emitter(*this, kind).AddAll(paths);
}

}  // namespace mini8s::api::openapi_internal
