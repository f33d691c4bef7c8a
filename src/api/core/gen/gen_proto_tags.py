#!/usr/bin/env python3
"""Generates the protobuf field-number facts mini8s needs to decode `k8s\\0` request bodies.

Inputs (read at generation time, never committed): git mirrors of kubernetes/api,
kubernetes/apimachinery and kubernetes/apiextensions-apiserver at a v0.32.x tag. For every
package listed in PACKAGES the script reads `generated.proto` (message fields and numbers) and the
package's Go sources (struct tags: JSON name, omitempty, pointer, `json:",inline"`), joins them on
the field number, and checks the result against the swagger definitions.

Outputs (facts only, no upstream prose):
  src/api/core/gen/proto_tags.json        {swagger definition: {json property: field number}}
                                          (merged by gen_registry.py into Property::proto_tag)
  src/api/protobuf/proto_facts.inc        C++ tables the decoder needs beyond the tag numbers:
                                          inline-embedded messages and their numbering, and the
                                          scalar fields whose zero value is meaningful.

Usage:
  gen_proto_tags.py --api GITDIR --apimachinery GITDIR --apiextensions GITDIR \\
      [--ref v0.32.4] [--swagger FILE] [--out-dir REPO_ROOT] [--report]
"""

import argparse
import json
import os
import re
import subprocess
import sys

# (repo key, package directory, swagger definition prefix)
PACKAGES = [
    ("api", "core/v1", "io.k8s.api.core.v1"),
    ("api", "apps/v1", "io.k8s.api.apps.v1"),
    ("api", "batch/v1", "io.k8s.api.batch.v1"),
    ("api", "rbac/v1", "io.k8s.api.rbac.v1"),
    ("api", "networking/v1", "io.k8s.api.networking.v1"),
    ("api", "policy/v1", "io.k8s.api.policy.v1"),
    ("api", "scheduling/v1", "io.k8s.api.scheduling.v1"),
    ("api", "authentication/v1", "io.k8s.api.authentication.v1"),
    ("api", "authorization/v1", "io.k8s.api.authorization.v1"),
    ("api", "autoscaling/v1", "io.k8s.api.autoscaling.v1"),
    ("api", "autoscaling/v2", "io.k8s.api.autoscaling.v2"),
    ("api", "coordination/v1", "io.k8s.api.coordination.v1"),
    ("api", "discovery/v1", "io.k8s.api.discovery.v1"),
    ("api", "events/v1", "io.k8s.api.events.v1"),
    ("api", "storage/v1", "io.k8s.api.storage.v1"),
    # GA groups kubectl's typed commands also reach (certificate approve, drain's webhooks...).
    ("api", "certificates/v1", "io.k8s.api.certificates.v1"),
    ("api", "node/v1", "io.k8s.api.node.v1"),
    ("api", "flowcontrol/v1", "io.k8s.api.flowcontrol.v1"),
    ("api", "admissionregistration/v1", "io.k8s.api.admissionregistration.v1"),
    ("apiextensions", "pkg/apis/apiextensions/v1",
     "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1"),
    ("apimachinery", "pkg/apis/meta/v1", "io.k8s.apimachinery.pkg.apis.meta.v1"),
    ("apimachinery", "pkg/runtime", "io.k8s.apimachinery.pkg.runtime"),
    ("apimachinery", "pkg/util/intstr", "io.k8s.apimachinery.pkg.util.intstr"),
    ("apimachinery", "pkg/api/resource", "io.k8s.apimachinery.pkg.api.resource"),
]

SCALARS = {"string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "double", "float",
           "sint32", "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64"}


def git_show(gitdir, ref, path):
    return subprocess.run(["git", "--git-dir", gitdir, "show", f"{ref}:{path}"], check=True,
                          capture_output=True, text=True).stdout


def git_ls(gitdir, ref, path):
    out = subprocess.run(["git", "--git-dir", gitdir, "ls-tree", "--name-only", f"{ref}:{path}"],
                         check=True, capture_output=True, text=True).stdout
    return out.split()


def proto_package_to_prefix(pkg):
    # k8s.io.api.core.v1 -> io.k8s.api.core.v1; apiextensions_apiserver -> apiextensions-apiserver
    assert pkg.startswith("k8s.io."), pkg
    return "io.k8s." + pkg[len("k8s.io."):].replace("apiextensions_apiserver",
                                                    "apiextensions-apiserver")


FIELD_RE = re.compile(r"^\s*(optional|repeated|required)\s+([\w.]+)\s+(\w+)\s*=\s*(\d+)\s*(\[[^\]]*\])?\s*;")
MAP_RE = re.compile(r"^\s*map<\s*([\w.]+)\s*,\s*([\w.]+)\s*>\s+(\w+)\s*=\s*(\d+)\s*;")


def parse_proto(text):
    """Returns (package, {message: [field dict]}). k8s generated.proto has no nested messages."""
    package = None
    messages = {}
    current = None
    depth = 0
    for raw_line in text.splitlines():
        line = raw_line.split("//", 1)[0]
        if not line.strip():
            continue
        m = re.match(r"^\s*package\s+([\w.]+)\s*;", line)
        if m:
            package = m.group(1)
            continue
        m = re.match(r"^\s*message\s+(\w+)\s*{", line)
        if m:
            if depth != 0:
                raise SystemExit(f"nested message {m.group(1)} not supported")
            current = m.group(1)
            messages[current] = []
            depth = 1
            continue
        if current is None:
            continue
        m = FIELD_RE.match(line)
        if m:
            messages[current].append({"label": m.group(1), "type": m.group(2), "name": m.group(3),
                                      "number": int(m.group(4)),
                                      "packed": "packed" in (m.group(5) or "")})
            continue
        m = MAP_RE.match(line)
        if m:
            messages[current].append({"label": "map", "key": m.group(1), "type": m.group(2),
                                      "name": m.group(3), "number": int(m.group(4)),
                                      "packed": False})
            continue
        depth += line.count("{") - line.count("}")
        if depth <= 0:
            current = None
            depth = 0
    return package, messages


STRUCT_START_RE = re.compile(r"^type\s+(\w+)\s+struct\s*{")
TAG_RE = re.compile(r"`([^`]*)`")


def parse_go_structs(text):
    """{struct: {proto number: {go_type, json, omitempty, inline, pointer}}} from struct tags."""
    structs = {}
    current = None
    for line in text.splitlines():
        if current is None:
            m = STRUCT_START_RE.match(line)
            if m:
                current = m.group(1)
                structs[current] = {}
            continue
        if line.startswith("}"):
            current = None
            continue
        code = line.split("//", 1)[0] if "`" not in line else line
        m = TAG_RE.search(code)
        if not m:
            continue
        tags = dict(re.findall(r'(\w+):"([^"]*)"', m.group(1)))
        if "protobuf" not in tags:
            continue
        decl = code[:m.start()].split()
        go_type = decl[-1]
        pb = tags["protobuf"].split(",")
        if len(pb) < 2 or not pb[1].isdigit():
            continue  # protobuf:"-" and similar
        number = int(pb[1])
        json_parts = tags.get("json", "").split(",")
        json_name = json_parts[0]
        inline = "inline" in json_parts[1:] and json_name == ""
        if json_name == "-":
            continue
        structs[current][number] = {
            "go_type": go_type,
            "json": json_name,
            "omitempty": "omitempty" in json_parts[1:],
            "inline": inline,
            "pointer": go_type.startswith("*"),
            "pbname": next((p[5:] for p in pb if p.startswith("name=")), None),
        }
    return structs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--apimachinery", required=True)
    ap.add_argument("--apiextensions", required=True)
    ap.add_argument("--ref", default="v0.32.4")
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.abspath(os.path.join(here, "..", "..", "..", ".."))
    ap.add_argument("--swagger",
                    default="/work/shared/reference/openapi/kubernetes-v1.32-swagger.json")
    ap.add_argument("--out-dir", default=root)
    ap.add_argument("--report", action="store_true", help="print every mismatch found")
    args = ap.parse_args()
    repos = {"api": args.api, "apimachinery": args.apimachinery,
             "apiextensions": args.apiextensions}

    swagger = {}
    if args.swagger and os.path.exists(args.swagger):
        with open(args.swagger) as f:
            swagger = json.load(f)["definitions"]
    else:
        print("warning: no swagger file; names are not cross-checked", file=sys.stderr)

    # message full name (proto) -> (definition name, fields, go struct info)
    messages = {}
    for repo, pkgdir, prefix in PACKAGES:
        gitdir = repos[repo]
        package, msgs = parse_proto(git_show(gitdir, args.ref, f"{pkgdir}/generated.proto"))
        if proto_package_to_prefix(package) != prefix:
            raise SystemExit(f"{pkgdir}: package {package} does not map to {prefix}")
        go_structs = {}
        for name in git_ls(gitdir, args.ref, pkgdir):
            if (not name.endswith(".go") or name.endswith("_test.go") or name.startswith("zz_")
                    or name.endswith(".pb.go") or "swagger_doc" in name or "fuzz" in name):
                continue
            go_structs.update(parse_go_structs(git_show(gitdir, args.ref, f"{pkgdir}/{name}")))
        for msg, fields in msgs.items():
            messages[f"{package}.{msg}"] = (f"{prefix}.{msg}", fields, go_structs.get(msg, {}))

    def resolve(type_name, package):
        if type_name in SCALARS:
            return None
        if type_name.startswith("."):
            return type_name[1:]
        return f"{package}.{type_name}"

    tags = {}
    inline_fields = []  # (parent definition, number, inline definition)
    keep_zero = []      # (definition, json name)
    map_array_values = []
    report = []
    for full, (definition, fields, go) in sorted(messages.items()):
        package = full.rsplit(".", 1)[0]
        entry = {}
        sw = swagger.get(definition)
        sw_props = set((sw or {}).get("properties", {}).keys())
        for f in fields:
            g = go.get(f["number"])
            json_name = f["name"]
            if g is None:
                if go:
                    report.append(f"{definition}.{f['name']}={f['number']}: no Go struct tag")
            else:
                if g["pbname"] and g["pbname"] != f["name"]:
                    report.append(f"{definition}: proto name {f['name']} vs Go tag {g['pbname']}")
                if g["inline"]:
                    target = resolve(f["type"], package)
                    if target not in messages:
                        raise SystemExit(f"{definition}: inline {f['type']} not among messages")
                    inline_fields.append((definition, f["number"], messages[target][0]))
                    report.append(f"{definition}: field {f['name']}={f['number']} is inline "
                                  f"{messages[target][0]}")
                    continue
                # Types with their own JSON form (IntOrString, Duration, JSONSchemaPropsOr*)
                # have no JSON names; their proto names stand in.
                json_name = g["json"] or f["name"]
                if json_name != f["name"]:
                    report.append(f"{definition}: proto field {f['name']} is JSON {json_name}")
                # Only values that have a zero the decoder might drop: scalars, IntOrString and
                # Quantity. Messages are always emitted.
                zeroable = f["type"] in SCALARS or f["type"].endswith(
                    (".intstr.IntOrString", ".resource.Quantity"))
                scalar_like = zeroable and f["label"] not in ("repeated", "map")
                if scalar_like and (g["pointer"] or not g["omitempty"]):
                    keep_zero.append((definition, json_name))
            if sw is not None and sw_props and json_name not in sw_props:
                report.append(f"{definition}: {json_name} not a swagger property")
            if f["label"] == "map" and sw is not None:
                ap_schema = sw.get("properties", {}).get(json_name, {}).get(
                    "additionalProperties", {})
                if ap_schema.get("type") == "array":
                    inner = messages.get(resolve(f["type"], package))
                    ok = inner and len(inner[1]) == 1 and inner[1][0]["number"] == 1 and \
                        inner[1][0]["label"] == "repeated"
                    if not ok:
                        raise SystemExit(f"{definition}.{json_name}: map of arrays without a "
                                         f"one-field wrapper message")
                    map_array_values.append(f"{definition}.{json_name}")
            entry[json_name] = f["number"]
        if sw is None and swagger:
            report.append(f"{definition}: not a swagger definition (inline or internal type)")
        tags[definition] = entry

    # Every swagger property of a covered definition must have a number (directly or through an
    # inline-embedded message), apart from TypeMeta's, which protobuf leaves to the envelope.
    for definition, entry in sorted(tags.items()):
        sw = swagger.get(definition)
        if sw is None:
            continue
        covered = set(entry)
        pending = [t for d, _, t in inline_fields if d == definition]
        while pending:
            target = pending.pop()
            covered |= set(tags[target])
            pending += [t for d, _, t in inline_fields if d == target]
        for p in sorted(set(sw.get("properties", {})) - covered - {"apiVersion", "kind"}):
            report.append(f"{definition}: swagger property {p} has no proto field")

    out_json = os.path.join(args.out_dir, "src/api/core/gen/proto_tags.json")
    with open(out_json, "w") as f:
        f.write("{\n")
        items = sorted(tags.items())
        for i, (definition, entry) in enumerate(items):
            body = ", ".join(f"{json.dumps(k)}: {v}" for k, v in
                             sorted(entry.items(), key=lambda kv: kv[1]))
            f.write(f"  {json.dumps(definition)}: {{{body}}}{',' if i + 1 < len(items) else ''}\n")
        f.write("}\n")

    # The decoder's extra facts. Inline-embedded message types are usually absent from the swagger
    # document, so their numbering travels here rather than through the registry.
    inline_targets = sorted({t for _, _, t in inline_fields})
    out_inc = os.path.join(args.out_dir, "src/api/protobuf/proto_facts.inc")
    with open(out_inc, "w") as f:
        f.write("// Generated by src/api/core/gen/gen_proto_tags.py from the Kubernetes "
                f"{args.ref} generated.proto\n// and Go struct tags. Do not edit.\n\n")
        f.write("// {parent definition, field number, definition of the inline-embedded message}\n")
        f.write("inline constexpr InlineField kInlineFields[] = {\n")
        for parent, number, target in sorted(inline_fields):
            f.write(f"    {{\"{parent}\", {number}, \"{target}\"}},\n")
        f.write("};\n\n// The numbering of every inline-embedded message: {definition, json name, "
                "field number}\n")
        f.write("inline constexpr InlineTag kInlineTags[] = {\n")
        for target in inline_targets:
            for name, number in sorted(tags[target].items(), key=lambda kv: kv[1]):
                f.write(f"    {{\"{target}\", \"{name}\", {number}}},\n")
        f.write("};\n\n// Non-repeated fields Go always encodes whose zero value still means "
                "something in JSON\n// (pointers, or no omitempty): {definition, json name}\n")
        f.write("inline constexpr KeepZeroField kKeepZeroFields[] = {\n")
        for definition, name in sorted(set(keep_zero)):
            f.write(f"    {{\"{definition}\", \"{name}\"}},\n")
        f.write("};\n")

    print(f"{len(tags)} messages, {sum(len(e) for e in tags.values())} fields, "
          f"{len(inline_fields)} inline fields, {len(set(keep_zero))} keep-zero fields, "
          f"{len(map_array_values)} maps of arrays; {len(report)} notes", file=sys.stderr)
    if args.report:
        for line in report:
            print(line)


if __name__ == "__main__":
    main()
