// Defaulting: the values Kubernetes fills in on create, so `kubectl get -o yaml` on mini8s shows
// what it shows on a real v1.32 cluster. Built-in kinds follow upstream's SetDefaults_* functions
// (plus the few values upstream's admission and REST layers always add and users always see:
// pod priority/preemptionPolicy, a Service's ipFamilies/ipFamilyPolicy, a Namespace's
// finalizers); custom resources get structural defaulting from their schema's `default`s.
//
// Pure functions on Boost.JSON objects; thread-safe. Idempotent: applying twice changes nothing.
#pragma once

#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "mini8s/api/schema.h"

namespace mini8s::api {

// Defaults for `kind` (custom kinds: from the schema; built-ins: upstream's rules).
void ApplyDefaults(const KindInfo& kind, boost::json::object& obj);

// Upstream's defaults for a built-in group/kind ("" for core). Unknown kinds are left alone.
void ApplyBuiltinDefaults(std::string_view group, std::string_view kind, boost::json::object& obj);

// Structural defaulting (CRDs): at every level where the parent object exists, a missing property
// (or a null one that is not nullable) whose schema has a `default` gets a copy of it; defaults
// are themselves defaulted recursively.
void ApplySchemaDefaults(const Schema& root, boost::json::value& obj);

// Pod-spec defaulting, shared by every kind that embeds a pod template.
void DefaultPodSpec(boost::json::object& spec);

// "Always" for ":latest" or an untagged image, else "IfNotPresent" (a digest without a tag and
// an empty image also give "IfNotPresent").
std::string_view DefaultImagePullPolicy(std::string_view image);

}  // namespace mini8s::api
