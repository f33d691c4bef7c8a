// One function per top-level command. Each gets the arguments after the command name and returns
// the exit code (0 ok, 1 failure, 2 usage error).
#pragma once

#include <string>
#include <vector>

namespace mini8s::cli {

using Args = std::vector<std::string>;

int RunVersion(const Args& args);
int RunServer(const Args& args);
int RunAgent(const Args& args);
int RunKubectl(const Args& args);
int RunRuntime(const Args& args);
int RunImage(const Args& args);
int RunToken(const Args& args);
int RunCertificate(const Args& args);
int RunSecretsEncrypt(const Args& args);

// Prints "mini8s <command>: <message>" and a usage hint to stderr; returns 2.
int UsageError(const std::string& command, const std::string& message);

}  // namespace mini8s::cli
