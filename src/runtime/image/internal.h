// Private helpers shared by the image store's sources.
#pragma once

#include <string>

#include <boost/json/value.hpp>

#include "mini8s/common/result.h"

namespace mini8s::image {

inline constexpr char kOciIndex[] = "application/vnd.oci.image.index.v1+json";
inline constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";
inline constexpr char kDockerList[] = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr char kDockerManifest[] = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr char kDockerConfig[] = "application/vnd.docker.container.image.v1+json";
inline constexpr char kDockerLayerTar[] = "application/vnd.docker.image.rootfs.diff.tar";

Status ExtractArchive(const std::string& path, const std::string& dest);
Result<std::string> ReadFile(const std::string& path);
Status WriteFileAtomic(const std::string& path, std::string_view data);
// The architecture name Go uses for this machine (amd64, arm64, ...).
std::string HostArchitecture();
// True for an index / manifest list document (by media type or shape).
bool IsIndex(const boost::json::value& doc, std::string_view media_type);

}  // namespace mini8s::image
