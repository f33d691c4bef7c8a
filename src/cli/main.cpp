#include "mini8s/cli/main.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "cli/commands.h"
#include "cli/version.h"
#include "mini8s/common/logging.h"

namespace mini8s::cli {
namespace {

struct Command {
  const char* name;
  int (*run)(const Args&);
  const char* help;
};

int RunHelp(const Args& args);

// crun's commands[]: a plain table is all the dispatch a multi-call binary needs.
constexpr Command kCommands[] = {
    {"server", RunServer, "Run the control plane (and, by default, a node agent)"},
    {"agent", RunAgent, "Run a node agent that joins a server"},
    {"kubectl", RunKubectl, "Run the bundled kubectl-compatible client"},
    {"runtime", RunRuntime, "OCI-runtime-style container commands (create, start, state, ...)"},
    {"image", RunImage, "Manage images (pull, import, ls, rm, inspect)"},
    {"token", RunToken, "Manage bootstrap tokens (create, list, delete, generate)"},
    {"certificate", RunCertificate, "Check or rotate the server's certificates"},
    {"secrets-encrypt", RunSecretsEncrypt, "Manage secrets encryption at rest"},
    {"version", RunVersion, "Print the version"},
    {"help", RunHelp, "Show this help"},
};

void PrintUsage(std::FILE* out) {
  std::fprintf(out,
               "mini8s: a Kubernetes distribution in one executable\n\n"
               "Usage: mini8s <command> [flags]\n\nCommands:\n");
  for (const Command& c : kCommands) std::fprintf(out, "  %-15s %s\n", c.name, c.help);
  std::fprintf(out, "\nRun 'mini8s <command> --help' for a command's flags.\n");
}

int RunHelp(const Args& args) {
  if (!args.empty() && args[0] != "--help" && args[0] != "-h") {
    for (const Command& c : kCommands) {
      if (args[0] == c.name) return c.run({"--help"});
    }
    return UsageError("help", "unknown command \"" + args[0] + "\"");
  }
  PrintUsage(stdout);
  return 0;
}

bool IsNumber(std::string_view s) {
  return !s.empty() && s.size() <= 4 && s.find_first_not_of("0123456789") == std::string_view::npos;
}

const Command* Find(std::string_view name) {
  for (const Command& c : kCommands) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

}  // namespace

int UsageError(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "mini8s %s: %s\nRun 'mini8s %s --help' for usage.\n", command.c_str(),
               message.c_str(), command == "mini8s" ? "" : command.c_str());
  return 2;
}

int RunVersion(const Args& args) {
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") {
      std::printf("Usage: mini8s version\n\nPrints the mini8s version and the Kubernetes API "
                  "version it implements.\n");
      return 0;
    }
    return UsageError("version", "unknown flag: " + a);
  }
  std::printf("mini8s version %s (Kubernetes %s)\n", kMini8sVersion, kKubernetesVersion);
  return 0;
}

int Main(int argc, char** argv) {
  // Called through a symlink named after a command (e.g. `kubectl`).
  const char* base = argc > 0 ? std::strrchr(argv[0], '/') : nullptr;
  std::string_view self = argc > 0 ? (base ? base + 1 : argv[0]) : "mini8s";
  if (self != "mini8s") {
    if (const Command* c = Find(self)) return c->run(Args(argv + 1, argv + argc));
  }
  // Global klog-style verbosity before the command: -v N, -v=N, --v N, --v=N. A lone -v (not
  // followed by a number) keeps meaning --version.
  int first = 1;
  while (first < argc) {
    std::string_view a = argv[first];
    std::string_view level;
    int used = 1;
    if (a.rfind("--v=", 0) == 0 || a.rfind("-v=", 0) == 0) {
      level = a.substr(a.find('=') + 1);
    } else if ((a == "-v" || a == "--v") && first + 1 < argc && IsNumber(argv[first + 1])) {
      level = argv[first + 1];
      used = 2;
    } else {
      break;
    }
    if (!IsNumber(level)) {
      std::fprintf(stderr, "mini8s: invalid verbosity \"%s\"\nRun 'mini8s help' for usage.\n",
                   std::string(level).c_str());
      return 2;
    }
    log::SetVerbosity(std::atoi(std::string(level).c_str()));
    first += used;
  }
  if (argc - first < 1) {
    PrintUsage(stderr);
    return 2;
  }
  std::string_view name = argv[first];
  if (name == "--help" || name == "-h") return RunHelp({});
  if (name == "--version" || name == "-v") return RunVersion({});
  const Command* c = Find(name);
  if (c == nullptr) {
    std::fprintf(stderr, "mini8s: unknown command \"%s\"\nRun 'mini8s help' for usage.\n",
                 argv[first]);
    return 2;
  }
  return c->run(Args(argv + first + 1, argv + argc));
}

}  // namespace mini8s::cli
