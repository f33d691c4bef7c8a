// FlagSet: the command-line flags of one mini8s subcommand, with k3s's sources and precedence:
//
//   command line  >  MINI8S_<NAME> environment variables  >  config file  >  defaults
//
// Command line (pflag/kubectl conventions, plus Go's single-dash long form that k3s accepts):
//   --name value, --name=value, -n value, -nvalue, -n=value, -abc (bool shorthands combined),
//   -name value (a long name after one dash), --bool / --bool=false, "--" ends the flags, "-" is
//   positional; flags and positional arguments may be interleaved. -h/--help sets
//   help_requested().
//
// Config file (EnableConfigFile): --config/-c FILE, else $MINI8S_CONFIG_FILE, else the default
//   path (usually /etc/mini8s/config.yaml), read only if it exists. FILE.d/*.yaml and *.yml
//   drop-ins are read after it in lexical order; the file itself may be absent when drop-ins exist.
//   Keys are flag names without dashes (one-letter keys name shorthands); values are scalars or
//   lists; a later file overrides a key, and `key+:` appends to it instead (k3s). Unknown keys are
//   skipped with a warning (k3s logs "Unknown flag ... found in config.yaml, skipping").
//
// Types: string, bool (Go's ParseBool spellings), int, duration (Go syntax: 300ms, 10s, 1h30m,
//   1.5h), and string lists. A list flag may repeat and each value is split on commas
//   (k3s StringSlice); list values accumulate from the config file and then the command line, as in
//   k3s where CLI values are appended to config-file ones; an environment variable replaces the
//   config-file part.
//
// Errors are one line (kInvalid) for the caller to print with a usage hint and exit 2 (see
// cli::UsageError). Thread-compatible; a FlagSet is used once, from one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mini8s/common/result.h"

namespace mini8s {

// Go's time.ParseDuration: a signed sequence of decimal numbers with units ns, us (µs), ms, s, m,
// h; "0" alone is allowed. kInvalid otherwise.
Result<std::chrono::nanoseconds> ParseGoDuration(std::string_view s);
// Go's Duration.String(): "1h30m0s", "300ms", "0s".
std::string FormatGoDuration(std::chrono::nanoseconds d);

// Where a flag's final value came from.
enum class FlagSource : uint8_t { kDefault, kConfigFile, kEnvironment, kCommandLine };

class FlagSet {
 public:
  using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

  // Options of one flag, set fluently after registration:
  //   flags.String("data-dir", &dir, "Folder to hold state").Short('d').Placeholder("DIR");
  class Flag {
   public:
    Flag& Short(char c);
    // Environment variable; by default MINI8S_ + the name upper-cased with '-' as '_'.
    Flag& Env(std::string var);
    Flag& NoEnv();
    Flag& Placeholder(std::string word);  // the VALUE word in help output
    Flag& Hidden();

   private:
    friend class FlagSet;
    enum class Type : uint8_t { kString, kBool, kInt, kInt64, kDuration, kList };
    Type type = Type::kString;
    std::string name;
    char shorthand = 0;
    std::string help;
    std::string env;
    std::string placeholder;
    bool hidden = false;
    void* target = nullptr;
    std::string default_text;
    FlagSource source = FlagSource::kDefault;
  };

  // `command` names the subcommand in messages and help ("server", "agent").
  explicit FlagSet(std::string command);
  ~FlagSet();
  FlagSet(const FlagSet&) = delete;
  FlagSet& operator=(const FlagSet&) = delete;

  // Each registers a flag whose default is the target's current value. Targets must outlive
  // Parse(). Registering a name twice is a programming error (crash).
  Flag& String(std::string name, std::string* target, std::string help);
  Flag& Bool(std::string name, bool* target, std::string help);
  Flag& Int(std::string name, int* target, std::string help);
  Flag& Int64(std::string name, int64_t* target, std::string help);
  Flag& Duration(std::string name, std::chrono::nanoseconds* target, std::string help);
  Flag& StringList(std::string name, std::vector<std::string>* target, std::string help);

  // Adds --config/-c and config-file reading (see above). `default_path` may be empty.
  void EnableConfigFile(std::string default_path = "/etc/mini8s/config.yaml");
  // Synopsis after "mini8s <command>" (default "[flags]") and a paragraph for Help().
  void SetUsage(std::string synopsis, std::string description);
  // Replaces getenv (tests).
  void SetEnvLookup(EnvLookup lookup);

  // Parses `args` (the arguments after the subcommand name) and applies all sources.
  Status Parse(const std::vector<std::string>& args);

  bool help_requested() const { return help_; }
  const std::vector<std::string>& positional() const { return positional_; }
  // Non-fatal problems (unknown config-file keys); also logged as warnings.
  const std::vector<std::string>& warnings() const { return warnings_; }
  // The config files actually read, in order.
  const std::vector<std::string>& config_files() const { return config_files_; }
  // kDefault for flags no source set; crash for unknown names.
  FlagSource Source(std::string_view name) const;
  bool Changed(std::string_view name) const { return Source(name) != FlagSource::kDefault; }

  // Help text generated from the definitions.
  std::string Help() const;

 private:
  struct Occurrence;
  Flag& Add(Flag::Type type, std::string name, void* target, std::string help,
            std::string default_text);
  Flag* FindLong(std::string_view name) const;
  Flag* FindShort(char c) const;
  Status ReadConfig(const std::string& path, bool explicitly_set, std::vector<Occurrence>& out);

  std::string command_;
  std::string synopsis_ = "[flags]";
  std::string description_;
  std::vector<std::unique_ptr<Flag>> flags_;
  bool config_enabled_ = false;
  std::string config_default_;
  std::string config_value_;  // the --config target
  EnvLookup env_;
  bool help_ = false;
  std::vector<std::string> positional_;
  std::vector<std::string> warnings_;
  std::vector<std::string> config_files_;
};

}  // namespace mini8s
