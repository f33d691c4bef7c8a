// Private seccomp helpers used by the spec parser.
#pragma once

#include <string>
#include <string_view>

namespace mini8s::runtime {

bool IsKnownSeccompAction(std::string_view action);
bool IsKnownSeccompOp(std::string_view op);
// DefaultSeccompProfile() as OCI JSON.
std::string DefaultSeccompProfileJson();

}  // namespace mini8s::runtime
