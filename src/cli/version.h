// Version facts shared by `mini8s version`, the API server's /version and the node info.
#pragma once

namespace mini8s::cli {

inline constexpr char kMini8sVersion[] = "v0.1.0";
// The Kubernetes API version mini8s implements. /version's "minor" decides which kubectl the
// machine's dispatcher runs, so it must stay "32" (reference/kubectl-wire.md §0).
inline constexpr char kKubernetesVersion[] = "v1.32.4";
inline constexpr char kKubernetesMajor[] = "1";
inline constexpr char kKubernetesMinor[] = "32";

}  // namespace mini8s::cli
