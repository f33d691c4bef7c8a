#!/usr/bin/python3
"""Generates src/api/core/generated/builtin_tables.cpp from the Kubernetes v1.32 OpenAPI (swagger 2.0)
file: the schema facts (types, formats, required lists, properties in order, items, maps, $ref
structure, list/map/patch metadata) of every definition reachable from the kinds mini8s serves, and
per resource the plural, scope, verbs and subresources taken from the `paths` section.

Facts only: no description text is read into the output. See docs/design/api-registry.md.

Usage (from the repository root):
  /usr/bin/python3 src/api/core/gen/gen_registry.py \
      [--swagger /work/shared/reference/openapi/kubernetes-v1.32-swagger.json] \
      [--proto-tags src/api/core/gen/proto_tags.json] [--out src/api/core/generated/builtin_tables.cpp]

Standard library only.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SWAGGER = "/work/shared/reference/openapi/kubernetes-v1.32-swagger.json"
DEFAULT_TAGS = os.path.join(HERE, "proto_tags.json")
DEFAULT_OUT = os.path.join(HERE, "..", "generated", "builtin_tables.cpp")

# The kinds mini8s serves: (group, version, kind).
KINDS = [
    ("", "v1", k) for k in [
        "Namespace", "Pod", "Service", "Endpoints", "ConfigMap", "Secret", "ServiceAccount", "Node",
        "Event", "PersistentVolume", "PersistentVolumeClaim", "ResourceQuota", "LimitRange",
        "Binding"]
] + [
    ("apps", "v1", k) for k in
    ["Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "ControllerRevision"]
] + [
    ("batch", "v1", "Job"), ("batch", "v1", "CronJob"),
    ("autoscaling", "v1", "Scale"), ("autoscaling", "v2", "HorizontalPodAutoscaler"),
    ("networking.k8s.io", "v1", "Ingress"), ("networking.k8s.io", "v1", "IngressClass"),
    ("networking.k8s.io", "v1", "NetworkPolicy"),
    ("rbac.authorization.k8s.io", "v1", "Role"), ("rbac.authorization.k8s.io", "v1", "RoleBinding"),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole"),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"),
    ("coordination.k8s.io", "v1", "Lease"),
    ("discovery.k8s.io", "v1", "EndpointSlice"),
    ("events.k8s.io", "v1", "Event"),
    ("storage.k8s.io", "v1", "StorageClass"),
    ("policy", "v1", "PodDisruptionBudget"), ("policy", "v1", "Eviction"),
    ("scheduling.k8s.io", "v1", "PriorityClass"),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
    ("authentication.k8s.io", "v1", "TokenReview"), ("authentication.k8s.io", "v1", "TokenRequest"),
    ("authentication.k8s.io", "v1", "SelfSubjectReview"),
    ("authorization.k8s.io", "v1", "SubjectAccessReview"),
    ("authorization.k8s.io", "v1", "SelfSubjectAccessReview"),
    ("authorization.k8s.io", "v1", "SelfSubjectRulesReview"),
    ("authorization.k8s.io", "v1", "LocalSubjectAccessReview"),
    ("metrics.k8s.io", "v1beta1", "PodMetrics"), ("metrics.k8s.io", "v1beta1", "NodeMetrics"),
]

# Shared definitions the server needs besides the kinds (error bodies, watch events, discovery,
# delete options), so /openapi and the codecs can describe them.
EXTRA_ROOTS = [
    "io.k8s.apimachinery.pkg.apis.meta.v1." + n for n in [
        "Status", "DeleteOptions", "WatchEvent", "APIGroup", "APIGroupList", "APIResourceList",
        "APIVersions", "Patch"]
]

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
METRICS = "io.k8s.metrics.pkg.apis.metrics.v1beta1."


def ref(name):
    return {"$ref": "#/definitions/" + name}


def _metrics_kind(kind, extra_props, required):
    props = {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": ref(META + "ObjectMeta"),
        "timestamp": ref(META + "Time"),
        "window": {"type": "string"},
    }
    props.update(extra_props)
    return {"type": "object", "required": required, "properties": props,
            "x-kubernetes-group-version-kind": [
                {"group": "metrics.k8s.io", "version": "v1beta1", "kind": kind}]}


def _metrics_list(item):
    return {"type": "object", "required": ["items"], "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"},
        "metadata": ref(META + "ListMeta"),
        "items": {"type": "array", "items": ref(METRICS + item)}},
        "x-kubernetes-group-version-kind": [
            {"group": "metrics.k8s.io", "version": "v1beta1", "kind": item + "List"}]}


# metrics.k8s.io is served by metrics-server upstream, so the apiserver's swagger lacks it. These
# are facts about its wire shape (k8s.io/metrics pkg/apis/metrics/v1beta1), written by hand.
USAGE = {"type": "object", "additionalProperties": ref("io.k8s.apimachinery.pkg.api.resource.Quantity")}
METRICS_DEFS = {
    METRICS + "ContainerMetrics": {
        "type": "object", "required": ["name", "usage"],
        "properties": {"name": {"type": "string"}, "usage": USAGE}},
    METRICS + "PodMetrics": _metrics_kind(
        "PodMetrics", {"containers": {"type": "array", "items": ref(METRICS + "ContainerMetrics"),
                                      "x-kubernetes-list-type": "atomic"}},
        ["timestamp", "window", "containers"]),
    METRICS + "NodeMetrics": _metrics_kind("NodeMetrics", {"usage": USAGE},
                                           ["timestamp", "window", "usage"]),
    METRICS + "PodMetricsList": _metrics_list("PodMetrics"),
    METRICS + "NodeMetricsList": _metrics_list("NodeMetrics"),
}
METRICS_RESOURCES = [
    # (kind, plural, namespaced)
    ("PodMetrics", "pods", True),
    ("NodeMetrics", "nodes", False),
]

QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"

ACTION_VERBS = {
    "get": "get", "list": "list", "watch": "watch", "watchlist": "watch", "put": "update",
    "patch": "patch", "post": "create", "delete": "delete", "deletecollection": "deletecollection",
}
CONNECT_VERBS = {"get": "get", "post": "create", "put": "update", "patch": "patch",
                 "delete": "delete"}
VERB_ORDER = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


class Tables:
    """Interned strings, string lists, nodes and properties, in emission order."""

    def __init__(self, defs, tags):
        self.defs = defs
        self.tags = tags
        self.strings = [""]
        self.string_index = {"": 0}
        self.lists = [0]  # offset 0: the empty list
        self.list_index = {(): 0}
        self.nodes = []   # rows: dicts
        self.props = []   # (name, node, tag)
        self.def_nodes = {}  # definition name -> node index
        self.anon_index = {}  # interned anonymous node key -> node index

    def s(self, text):
        if text not in self.string_index:
            self.string_index[text] = len(self.strings)
            self.strings.append(text)
        return self.string_index[text]

    def lst(self, items):
        key = tuple(self.s(x) for x in items)
        if key not in self.list_index:
            self.list_index[key] = len(self.lists)
            self.lists.append(len(key))
            self.lists.extend(key)
        return self.list_index[key]

    def definition(self, name):
        if name in self.def_nodes:
            return self.def_nodes[name]
        if name not in self.defs:
            sys.exit("unknown definition " + name)
        idx = len(self.nodes)
        self.def_nodes[name] = idx
        self.nodes.append(None)  # reserved: recursion may refer to it before it is filled
        self.nodes[idx] = self.build_row(self.defs[name], name)
        return idx

    def node(self, spec, context):
        """The node index for an inline schema (a property, items or additionalProperties)."""
        if "$ref" in spec:
            target = spec["$ref"].split("/")[-1]
            base = self.definition(target)
            overrides = {k: v for k, v in spec.items() if k.startswith("x-kubernetes-")}
            if not overrides:
                return base
            # A $ref with its own list/patch metadata: a copy of the definition's node carrying it.
            row = dict(self.nodes[base])
            row.update(self.extension_fields(overrides))
            return self.intern(row)
        return self.intern(self.build_row(spec, "", context))

    def intern(self, row):
        key = tuple(sorted(row.items()))
        if key not in self.anon_index:
            self.anon_index[key] = len(self.nodes)
            self.nodes.append(row)
        return self.anon_index[key]

    def extension_fields(self, spec):
        out = {}
        if "x-kubernetes-list-type" in spec:
            out["list_type"] = self.s(spec["x-kubernetes-list-type"])
        if "x-kubernetes-list-map-keys" in spec:
            out["list_map_keys"] = self.lst(spec["x-kubernetes-list-map-keys"])
        if "x-kubernetes-map-type" in spec:
            out["map_type"] = self.s(spec["x-kubernetes-map-type"])
        if "x-kubernetes-patch-strategy" in spec:
            out["patch_strategy"] = self.s(spec["x-kubernetes-patch-strategy"])
        if "x-kubernetes-patch-merge-key" in spec:
            out["patch_merge_key"] = self.s(spec["x-kubernetes-patch-merge-key"])
        flags = 0
        if spec.get("x-kubernetes-preserve-unknown-fields"):
            flags |= 1
        if spec.get("x-kubernetes-embedded-resource"):
            flags |= 2
        if spec.get("nullable"):
            flags |= 4
        if flags:
            out["flags"] = flags
        return out

    def build_row(self, spec, definition, context=""):
        where = definition or context
        swagger_type = spec.get("type")
        fmt = spec.get("format", "")
        if definition == QUANTITY:
            typ = "kQuantity"
        elif swagger_type is None:
            typ = "kAny"
        elif swagger_type == "string" and fmt == "int-or-string":
            typ = "kIntOrString"
        else:
            typ = {"object": "kObject", "array": "kArray", "string": "kString",
                   "integer": "kInteger", "number": "kNumber", "boolean": "kBoolean"}.get(swagger_type)
            if typ is None:
                sys.exit("%s: unsupported type %r" % (where, swagger_type))
        for key in spec:
            if key not in KNOWN_KEYS:
                sys.exit("%s: unhandled schema key %r" % (where, key))
        row = {
            "type": typ, "flags": 0, "format": self.s(fmt), "definition": self.s(definition),
            "required": self.lst(spec.get("required", [])), "prop_begin": 0, "prop_count": 0,
            "items": -1, "additional": -1, "list_type": 0, "list_map_keys": 0, "map_type": 0,
            "patch_strategy": 0, "patch_merge_key": 0, "gvks": 0,
        }
        if definition and "x-kubernetes-group-version-kind" in spec:
            triples = []
            for gvk in spec["x-kubernetes-group-version-kind"]:
                triples.extend([gvk["group"], gvk["version"], gvk["kind"]])
            row["gvks"] = self.lst(triples)
        row.update(self.extension_fields(spec))
        if "items" in spec:
            row["items"] = self.node(spec["items"], where + "[]")
        if "additionalProperties" in spec:
            ap = spec["additionalProperties"]
            if not isinstance(ap, dict):
                sys.exit("%s: additionalProperties is not a schema" % where)
            row["additional"] = self.node(ap, where + "{}")
        props = spec.get("properties", {})
        if props:
            children = [(name, self.node(p, where + "." + name)) for name, p in props.items()]
            tags = self.tags.get(definition, {}) if definition else {}
            row["prop_begin"] = len(self.props)
            row["prop_count"] = len(children)
            for name, child in children:
                self.props.append((self.s(name), child, int(tags.get(name, 0))))
        elif typ == "kObject" and row["additional"] < 0:
            # An object with no declared fields (RawExtension, FieldsV1): any content is kept.
            row["flags"] |= 1
        return row


KNOWN_KEYS = {
    "type", "format", "description", "properties", "required", "items", "additionalProperties",
    "$ref", "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type",
    "x-kubernetes-patch-strategy", "x-kubernetes-patch-merge-key",
    "x-kubernetes-group-version-kind", "x-kubernetes-unions", "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource", "nullable",
}


def parse_path(path):
    """(group, version, namespaced, plural, subresource) for a resource path, or None."""
    segs = [s for s in path.split("/") if s]
    if len(segs) >= 2 and segs[0] == "api":
        group, version, rest = "", segs[1], segs[2:]
    elif len(segs) >= 3 and segs[0] == "apis":
        group, version, rest = segs[1], segs[2], segs[3:]
    else:
        return None
    if rest and rest[0] == "watch":  # deprecated /watch/ paths repeat the watch verb
        rest = rest[1:]
    namespaced = False
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[1] == "{namespace}":
        namespaced, rest = True, rest[2:]
    if not rest or rest[0].startswith("{"):
        return None
    plural, sub = rest[0], ""
    if len(rest) >= 3 and rest[1] == "{name}":
        sub = rest[2]
    elif len(rest) == 2 and rest[1] != "{name}":
        return None
    return group, version, namespaced, plural, sub


def collect_resources(paths):
    """{(group, version, plural): info} from the paths section."""
    resources = {}
    for path, ops in paths.items():
        parsed = parse_path(path)
        if parsed is None:
            continue
        group, version, namespaced, plural, sub = parsed
        for method, op in ops.items():
            if method == "parameters" or not isinstance(op, dict):
                continue
            action = op.get("x-kubernetes-action")
            gvk = op.get("x-kubernetes-group-version-kind")
            if action is None or gvk is None:
                continue
            r = resources.setdefault((group, version, plural), {
                "kind": None, "namespaced": False, "verbs": set(), "subs": {}})
            verb = CONNECT_VERBS.get(method) if action == "connect" else ACTION_VERBS.get(action)
            if verb is None:
                continue
            if sub:
                s = r["subs"].setdefault(sub, {"gvk": None, "verbs": set()})
                s["verbs"].add(verb)
                if s["gvk"] is None or method == "get":
                    s["gvk"] = (gvk["group"], gvk["version"], gvk["kind"])
                if namespaced:
                    r["namespaced"] = True
            else:
                r["kind"] = (gvk["group"], gvk["version"], gvk["kind"])
                r["verbs"].add(verb)
                # A namespaced resource also has an all-namespaces list path; a path under
                # /namespaces/{namespace}/ decides.
                if namespaced:
                    r["namespaced"] = True
    return resources


def find_kind_definitions(defs):
    out = {}
    for name, spec in defs.items():
        for gvk in spec.get("x-kubernetes-group-version-kind", []):
            key = (gvk["group"], gvk["version"], gvk["kind"])
            # A shared type (DeleteOptions) lists many GVKs; a kind's own definition lists one.
            if len(spec["x-kubernetes-group-version-kind"]) == 1:
                out[key] = name
    return out


def c_str(text):
    return json.dumps(text)  # JSON string escapes are valid C++ for our ASCII identifiers


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--swagger", default=DEFAULT_SWAGGER)
    ap.add_argument("--proto-tags", default=DEFAULT_TAGS)
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()

    with open(args.swagger, encoding="utf-8") as f:
        swagger = json.load(f)
    defs = dict(swagger["definitions"])
    defs.update(METRICS_DEFS)
    tags = {}
    if os.path.exists(args.proto_tags):
        with open(args.proto_tags, encoding="utf-8") as f:
            tags = json.load(f)

    tables = Tables(defs, tags)
    kind_defs = find_kind_definitions(defs)
    served = collect_resources(swagger["paths"])
    for kind, plural, namespaced in METRICS_RESOURCES:
        served[("metrics.k8s.io", "v1beta1", plural)] = {
            "kind": ("metrics.k8s.io", "v1beta1", kind), "namespaced": namespaced,
            "verbs": {"get", "list"}, "subs": {}}

    wanted = set(KINDS)
    by_kind = {}
    for (group, version, plural), r in served.items():
        if r["kind"] is not None and r["kind"][0] == group and r["kind"][1] == version \
                and r["kind"] in wanted:
            if r["kind"] in by_kind:
                sys.exit("two resources for %r" % (r["kind"],))
            by_kind[r["kind"]] = (plural, r)

    # Which resources serve a kind as a subresource body (Scale, Eviction, TokenRequest ...).
    as_sub = {}
    for (group, version, plural), r in served.items():
        for sub, s in r["subs"].items():
            as_sub.setdefault(s["gvk"], []).append("%s/%s" % (plural, sub))

    resources = []
    subresources = []
    for gvk in KINDS:
        if gvk not in kind_defs:
            sys.exit("no definition for %r" % (gvk,))
        def_name = kind_defs[gvk]
        node = tables.definition(def_name)
        list_def = kind_defs.get((gvk[0], gvk[1], gvk[2] + "List"))
        if list_def:
            tables.definition(list_def)
        if gvk in by_kind:
            plural, r = by_kind[gvk]
            sub_begin = len(subresources)
            for sub in sorted(r["subs"]):
                s = r["subs"][sub]
                subresources.append((tables.s(sub), tables.s(s["gvk"][0]), tables.s(s["gvk"][1]),
                                     tables.s(s["gvk"][2]),
                                     tables.lst([v for v in VERB_ORDER if v in s["verbs"]])))
            resources.append({
                "group": gvk[0], "version": gvk[1], "kind": gvk[2], "plural": plural, "node": node,
                "namespaced": r["namespaced"], "subresource_only": False,
                "verbs": [v for v in VERB_ORDER if v in r["verbs"]],
                "sub_begin": sub_begin, "sub_count": len(subresources) - sub_begin})
        elif gvk in as_sub:
            # Only a body of other resources' subresources: scope follows those parents.
            resources.append({
                "group": gvk[0], "version": gvk[1], "kind": gvk[2], "plural": "", "node": node,
                "namespaced": True, "subresource_only": True, "verbs": [],
                "sub_begin": len(subresources), "sub_count": 0})
        else:
            sys.exit("kind %r is neither a resource nor a subresource body" % (gvk,))
    for name in EXTRA_ROOTS:
        tables.definition(name)
    # Intern every string and list before anything is emitted.
    for r in resources:
        r["row"] = (tables.s(r["group"]), tables.s(r["version"]), tables.s(r["kind"]),
                    tables.s(r["plural"]), r["node"], r["namespaced"], r["subresource_only"],
                    tables.lst(r["verbs"]), r["sub_begin"], r["sub_count"])
    for name in tables.def_nodes:
        tables.s(name)

    emit(args.out, tables, resources, subresources, args)
    print("wrote %s: %d nodes (%d definitions), %d properties (%d with proto tags), %d strings, "
          "%d resources" % (
              os.path.relpath(args.out), len(tables.nodes), len(tables.def_nodes),
              len(tables.props), sum(1 for p in tables.props if p[2]), len(tables.strings),
              len(resources)))


def emit(out_path, t, resources, subresources, args):
    lines = []
    w = lines.append
    w("// GENERATED by src/api/core/gen/gen_registry.py from the Kubernetes v1.32 OpenAPI facts")
    w("// (types, formats, required lists, list/map/patch metadata, paths). DO NOT EDIT.")
    w("// Regenerate: /usr/bin/python3 src/api/core/gen/gen_registry.py")
    w("// proto tags merged: %s" % ("yes, from gen/proto_tags.json" if t.tags
                                    else "no (gen/proto_tags.json absent)"))
    w("// clang-format off")
    w('#include "api/core/builtin_tables.h"')
    w("")
    w("namespace mini8s::api::gen {")
    w("")
    w("const char* const kStrings[] = {")
    for i in range(0, len(t.strings), 6):
        w("  " + ", ".join(c_str(x) for x in t.strings[i:i + 6]) + ",")
    w("};")
    w("const size_t kStringCount = sizeof(kStrings) / sizeof(kStrings[0]);")
    w("")
    w("const int32_t kLists[] = {")
    for i in range(0, len(t.lists), 20):
        w("  " + ",".join(str(x) for x in t.lists[i:i + 20]) + ",")
    w("};")
    w("const size_t kListsSize = sizeof(kLists) / sizeof(kLists[0]);")
    w("")
    w("// {type, flags, format, definition, required, prop_begin, prop_count, items, additional,")
    w("//  list_type, list_map_keys, map_type, patch_strategy, patch_merge_key, gvks}")
    w("const NodeRow kNodes[] = {")
    for i, n in enumerate(t.nodes):
        w("  {Type::%s,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d},  // %d" % (
            n["type"], n["flags"], n["format"], n["definition"], n["required"], n["prop_begin"],
            n["prop_count"], n["items"], n["additional"], n["list_type"], n["list_map_keys"],
            n["map_type"], n["patch_strategy"], n["patch_merge_key"], n["gvks"], i))
    w("};")
    w("const size_t kNodeCount = sizeof(kNodes) / sizeof(kNodes[0]);")
    w("")
    w("// {name, node, proto_tag}")
    w("const PropRow kProps[] = {")
    for i in range(0, len(t.props), 8):
        w("  " + " ".join("{%d,%d,%d}," % p for p in t.props[i:i + 8]))
    w("};")
    w("const size_t kPropCount = sizeof(kProps) / sizeof(kProps[0]);")
    w("")
    w("const DefRow kDefs[] = {")
    for name in sorted(t.def_nodes):
        w("  {%d, %d},  // %s" % (t.string_index[name], t.def_nodes[name], name))
    w("};")
    w("const size_t kDefCount = sizeof(kDefs) / sizeof(kDefs[0]);")
    w("")
    w("// {name, group, version, kind, verbs}")
    w("const SubresourceRow kSubresources[] = {")
    for row in subresources:
        w("  {%d, %d, %d, %d, %d}," % row)
    if not subresources:
        w("  {0, 0, 0, 0, 0},")
    w("};")
    w("const size_t kSubresourceCount = %d;" % len(subresources))
    w("")
    w("// {group, version, kind, plural, node, namespaced, subresource_only, verbs, sub_begin,")
    w("//  sub_count}")
    w("const ResourceRow kResources[] = {")
    for r in resources:
        g, v, k, pl, node, ns, so, verbs, sb, sc = r["row"]
        w("  {%d, %d, %d, %d, %d, %s, %s, %d, %d, %d},  // %s/%s %s" % (
            g, v, k, pl, node, "true" if ns else "false", "true" if so else "false", verbs, sb, sc,
            r["group"] or "core", r["version"], r["kind"]))
    w("};")
    w("const size_t kResourceCount = sizeof(kResources) / sizeof(kResources[0]);")
    w("")
    w("}  // namespace mini8s::api::gen")
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
