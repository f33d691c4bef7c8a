// mini8s_protobuf_decode FILE...: decodes each captured protobuf request body with the built-in
// registry and prints its JSON, one line per file. Fields the registry has no number for are
// listed on stderr as "unknown FILE PATH". Exit status 1 if any file fails to decode.
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json/serialize.hpp>

#include "mini8s/api/protobuf.h"
#include "mini8s/api/registry.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: mini8s_protobuf_decode FILE...\n";
    return 2;
  }
  auto registry = mini8s::api::Registry::NewBuiltin();
  int status = 0;
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    if (!in) {
      std::cerr << "error " << argv[i] << ": cannot open\n";
      status = 1;
      continue;
    }
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::string> unknown;
    mini8s::api::ProtobufDecodeOptions options;
    options.unknown_fields = &unknown;
    auto v = mini8s::api::DecodeProtobuf(*registry, body, options);
    if (!v.ok()) {
      std::cerr << "error " << argv[i] << ": " << v.error().ToString() << "\n";
      status = 1;
      continue;
    }
    for (const std::string& path : unknown)
      std::cerr << "unknown " << argv[i] << " " << path << "\n";
    std::cout << boost::json::serialize(*v) << "\n";
  }
  return status;
}
