#include "mini8s/common/flags.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <system_error>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

#include "mini8s/common/check.h"
#include "mini8s/common/json.h"
#include "mini8s/common/logging.h"
#include "mini8s/common/yaml.h"

namespace mini8s {
namespace {

namespace bj = boost::json;
namespace fs = std::filesystem;

bool ParseGoBool(std::string_view s, bool& out) {
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") {
    out = true;
    return true;
  }
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False") {
    out = false;
    return true;
  }
  return false;
}

// Decimal, or hex with 0x, optionally signed (Go's ParseInt with base 0 minus octal, which no one
// means in a flag).
bool ParseInt64(std::string_view s, int64_t& out) {
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  }
  if (s.empty()) return false;
  uint64_t u = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), u, base);
  if (ec != std::errc() || p != s.data() + s.size()) return false;
  if (neg) {
    if (u > uint64_t{1} << 63) return false;
    out = u == (uint64_t{1} << 63) ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(u);
  } else {
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    out = static_cast<int64_t>(u);
  }
  return true;
}

std::vector<std::string> SplitCommas(std::string_view s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = s.find(',', start);
    std::string_view part =
        s.substr(start, comma == std::string_view::npos ? comma : comma - start);
    out.emplace_back(part);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string DefaultEnvName(const std::string& flag) {
  std::string env = "MINI8S_";
  for (char c : flag) {
    env += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return env;
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  out += s;
  out += '"';
  return out;
}

bool EndsWithNoCase(const std::string& s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  for (std::size_t i = 0; i < suffix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[s.size() - suffix.size() + i])) != suffix[i]) {
      return false;
    }
  }
  return true;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::FromErrno(errno, "open", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::FromErrno(errno, "read", path);
  return ss.str();
}

// A config-file scalar as the flag string k3s would pass (wrangler's convert.ToString).
Result<std::string> ScalarText(const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::string:
      return std::string(v.get_string());
    case bj::kind::bool_:
      return std::string(v.get_bool() ? "true" : "false");
    case bj::kind::int64:
      return std::to_string(v.get_int64());
    case bj::kind::uint64:
      return std::to_string(v.get_uint64());
    case bj::kind::double_:
      return FormatGoFloat(v.get_double(), 'g');
    case bj::kind::null:
      return std::string();
    default:
      return Status::Invalid("expected a scalar or a list of scalars");
  }
}

// Go's Duration units, longest names first where prefixes overlap.
struct Unit {
  std::string_view name;
  double ns;
};
constexpr Unit kUnits[] = {{"ns", 1},   {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"\xce\xbcs", 1e3},
                           {"ms", 1e6}, {"s", 1e9},  {"m", 60e9},        {"h", 3600e9}};

}  // namespace

// ---- Durations ---------------------------------------------------------------------------------

Result<std::chrono::nanoseconds> ParseGoDuration(std::string_view s) {
  std::string orig(s);
  auto bad = [&](const char* why) {
    return Status::Invalid("time: " + std::string(why) + " in duration " + Quote(orig));
  };
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::chrono::nanoseconds(0);
  if (s.empty()) return bad("invalid duration");
  long double total = 0;
  while (!s.empty()) {
    std::size_t i = 0;
    long double value = 0;
    bool digits = false;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      value = value * 10 + (s[i] - '0');
      ++i;
      digits = true;
    }
    if (i < s.size() && s[i] == '.') {
      ++i;
      long double scale = 0.1L;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
        value += (s[i] - '0') * scale;
        scale /= 10;
        ++i;
        digits = true;
      }
    }
    if (!digits) return bad("invalid duration");
    s.remove_prefix(i);
    std::size_t u = 0;
    while (u < s.size() && s[u] != '.' && !std::isdigit(static_cast<unsigned char>(s[u]))) ++u;
    std::string_view unit = s.substr(0, u);
    if (unit.empty()) return bad("missing unit");
    const Unit* found = nullptr;
    for (const Unit& k : kUnits) {
      if (k.name == unit) found = &k;
    }
    if (found == nullptr)
      return Status::Invalid("time: unknown unit " + Quote(unit) + " in duration " + Quote(orig));
    total += value * static_cast<long double>(found->ns);
    s.remove_prefix(u);
  }
  // long double holds every int64 exactly; going through double lost precision above 2^53 ns
  // (~104 days) and rounded Go's maximum, 2562047h47m16.854775807s, up to 2^63, which overflowed.
  const long double max_ns = static_cast<long double>(std::numeric_limits<int64_t>::max());
  if (total > max_ns) return bad("invalid duration");
  const long double rounded = std::min(std::roundl(total), max_ns);
  int64_t ns = static_cast<int64_t>(rounded);
  return std::chrono::nanoseconds(neg ? -ns : ns);
}

std::string FormatGoDuration(std::chrono::nanoseconds d) {
  int64_t ns = d.count();
  if (ns == 0) return "0s";
  std::string sign = ns < 0 ? "-" : "";
  uint64_t u = ns < 0 ? static_cast<uint64_t>(-(ns + 1)) + 1 : static_cast<uint64_t>(ns);
  auto frac = [](uint64_t v, uint64_t unit, int digits) {
    std::string s = std::to_string(v / unit);
    uint64_t rem = v % unit;
    if (rem != 0) {
      std::string f = std::to_string(rem);
      f.insert(0, static_cast<std::size_t>(digits) - f.size(), '0');
      while (!f.empty() && f.back() == '0') f.pop_back();
      s += "." + f;
    }
    return s;
  };
  if (u < 1000) return sign + std::to_string(u) + "ns";
  if (u < 1000000) return sign + frac(u, 1000, 3) + "\xc2\xb5s";
  if (u < 1000000000) return sign + frac(u, 1000000, 6) + "ms";
  uint64_t secs_ns = u % 60000000000ULL;
  uint64_t total_min = u / 60000000000ULL;
  std::string out = sign;
  if (total_min >= 60) out += std::to_string(total_min / 60) + "h";
  if (total_min > 0) out += std::to_string(total_min % 60) + "m";
  out += frac(secs_ns, 1000000000ULL, 9) + "s";
  return out;
}

// ---- Flag options ------------------------------------------------------------------------------

FlagSet::Flag& FlagSet::Flag::Short(char c) {
  shorthand = c;
  return *this;
}
FlagSet::Flag& FlagSet::Flag::Env(std::string var) {
  env = std::move(var);
  return *this;
}
FlagSet::Flag& FlagSet::Flag::NoEnv() {
  env.clear();
  return *this;
}
FlagSet::Flag& FlagSet::Flag::Placeholder(std::string word) {
  placeholder = std::move(word);
  return *this;
}
FlagSet::Flag& FlagSet::Flag::Hidden() {
  hidden = true;
  return *this;
}

// ---- FlagSet -----------------------------------------------------------------------------------

struct FlagSet::Occurrence {
  Flag* flag;
  std::string value;
  std::string origin;  // how to name the source in an error
  FlagSource source;
};

FlagSet::FlagSet(std::string command) : command_(std::move(command)) {
  env_ = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

FlagSet::~FlagSet() = default;

FlagSet::Flag& FlagSet::Add(Flag::Type type, std::string name, void* target, std::string help,
                            std::string default_text) {
  MINI8S_CHECK(FindLong(name) == nullptr) << "flag --" << name << " registered twice";
  MINI8S_CHECK(!name.empty() && name[0] != '-') << "bad flag name: " << name;
  auto f = std::make_unique<Flag>();
  f->type = type;
  f->env = DefaultEnvName(name);
  f->name = std::move(name);
  f->help = std::move(help);
  f->target = target;
  f->default_text = std::move(default_text);
  flags_.push_back(std::move(f));
  return *flags_.back();
}

FlagSet::Flag& FlagSet::String(std::string name, std::string* target, std::string help) {
  return Add(Flag::Type::kString, std::move(name), target, std::move(help),
             target->empty() ? "" : Quote(*target));
}
FlagSet::Flag& FlagSet::Bool(std::string name, bool* target, std::string help) {
  return Add(Flag::Type::kBool, std::move(name), target, std::move(help), *target ? "true" : "");
}
FlagSet::Flag& FlagSet::Int(std::string name, int* target, std::string help) {
  return Add(Flag::Type::kInt, std::move(name), target, std::move(help),
             *target ? std::to_string(*target) : "");
}
FlagSet::Flag& FlagSet::Int64(std::string name, int64_t* target, std::string help) {
  return Add(Flag::Type::kInt64, std::move(name), target, std::move(help),
             *target ? std::to_string(*target) : "");
}
FlagSet::Flag& FlagSet::Duration(std::string name, std::chrono::nanoseconds* target,
                                 std::string help) {
  return Add(Flag::Type::kDuration, std::move(name), target, std::move(help),
             target->count() ? FormatGoDuration(*target) : "");
}
FlagSet::Flag& FlagSet::StringList(std::string name, std::vector<std::string>* target,
                                   std::string help) {
  std::string def;
  for (const std::string& s : *target) def += (def.empty() ? "" : ",") + s;
  return Add(Flag::Type::kList, std::move(name), target, std::move(help),
             def.empty() ? "" : Quote(def));
}

void FlagSet::EnableConfigFile(std::string default_path) {
  config_enabled_ = true;
  config_default_ = std::move(default_path);
  config_value_ = config_default_;
  String("config", &config_value_, "Load configuration from FILE")
      .Short('c')
      .Env("MINI8S_CONFIG_FILE")
      .Placeholder("FILE");
}

void FlagSet::SetUsage(std::string synopsis, std::string description) {
  synopsis_ = std::move(synopsis);
  description_ = std::move(description);
}

void FlagSet::SetEnvLookup(EnvLookup lookup) { env_ = std::move(lookup); }

FlagSet::Flag* FlagSet::FindLong(std::string_view name) const {
  for (auto& f : flags_) {
    if (f->name == name) return f.get();
  }
  return nullptr;
}

FlagSet::Flag* FlagSet::FindShort(char c) const {
  for (auto& f : flags_) {
    if (f->shorthand == c) return f.get();
  }
  return nullptr;
}

FlagSource FlagSet::Source(std::string_view name) const {
  for (const auto& f : flags_) {
    if (f->name == name) return f->source;
  }
  MINI8S_CHECK(false) << "unknown flag " << name;
  return FlagSource::kDefault;
}

Status FlagSet::ReadConfig(const std::string& path, bool explicitly_set,
                           std::vector<Occurrence>& out) {
  std::vector<std::string> files;
  std::error_code ec;
  fs::path dropin_dir = path + ".d";
  if (fs::is_directory(dropin_dir, ec)) {
    std::vector<std::string> dropins;
    for (const auto& entry : fs::directory_iterator(dropin_dir, ec)) {
      std::error_code fec;
      if (!entry.is_regular_file(fec)) continue;
      std::string name = entry.path().filename().string();
      if (EndsWithNoCase(name, ".yaml") || EndsWithNoCase(name, ".yml")) {
        dropins.push_back(entry.path().string());
      }
    }
    std::sort(dropins.begin(), dropins.end());
    files = std::move(dropins);
  }
  if (fs::exists(path, ec)) {
    files.insert(files.begin(), path);
  } else if (files.empty()) {
    if (explicitly_set) return Status::NotFound("config file " + Quote(path) + " not found");
    return Status::OK();
  }

  // k3s's merge: keys keep the order they were first seen; a later file replaces a key's value
  // unless the key ends in '+', which appends.
  std::vector<std::string> order;
  std::map<std::string, std::pair<std::vector<bj::value>, std::string>> values;  // + origin file
  for (const std::string& file : files) {
    MINI8S_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
    auto doc = ParseYaml(text);
    if (!doc.has_value()) {
      return Status::Invalid("config file " + file + ": " + doc.error().message());
    }
    if (doc->is_null()) {
      config_files_.push_back(file);
      continue;
    }
    if (!doc->is_object()) {
      return Status::Invalid("config file " + file + ": expected a mapping of flag names");
    }
    config_files_.push_back(file);
    for (auto& kv : doc->get_object()) {
      std::string key(kv.key());
      bool append = !key.empty() && key.back() == '+';
      if (append) key.pop_back();
      std::vector<bj::value> items;
      if (kv.value().is_array()) {
        for (const bj::value& e : kv.value().get_array()) items.push_back(e);
      } else {
        items.push_back(kv.value());
      }
      auto it = values.find(key);
      if (it == values.end()) {
        order.push_back(key);
        values[key] = {std::move(items), file};
      } else if (append) {
        for (auto& e : items) it->second.first.push_back(std::move(e));
        it->second.second = file;
      } else {
        it->second = {std::move(items), file};
      }
    }
  }

  for (const std::string& key : order) {
    auto& [items, file] = values[key];
    Flag* f = key.size() == 1 && FindShort(key[0]) != nullptr ? FindShort(key[0]) : FindLong(key);
    if (f == nullptr || f->name == "config") {
      std::string w = "unknown flag \"" + key + "\" found in config file " + file + ", skipping";
      MINI8S_LOG(WARNING) << w;
      warnings_.push_back(std::move(w));
      continue;
    }
    std::string origin = "config file " + file + ": invalid value for \"" + key + "\"";
    if (f->type != Flag::Type::kList && items.size() != 1) {
      return Status::Invalid(origin + ": expected a single value, not a list");
    }
    for (const bj::value& item : items) {
      auto text = ScalarText(item);
      if (!text.has_value()) return Status::Invalid(origin + ": " + text.error().message());
      out.push_back(Occurrence{f, std::move(text).value(), origin, FlagSource::kConfigFile});
    }
  }
  return Status::OK();
}

Status FlagSet::Parse(const std::vector<std::string>& args) {
  help_ = false;
  positional_.clear();
  warnings_.clear();
  config_files_.clear();
  std::vector<Occurrence> cli;

  auto missing = [](const std::string& shown) {
    return Status::Invalid("flag needs an argument: " + shown);
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      positional_.insert(positional_.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      positional_.push_back(arg);
      continue;
    }
    bool double_dash = arg[1] == '-';
    std::string_view body = std::string_view(arg).substr(double_dash ? 2 : 1);
    std::size_t eq = body.find('=');
    std::string_view name = body.substr(0, eq);
    // Long form: --name, or Go-style -name when `name` is a long flag (k3s accepts both).
    if (name == "help" && FindLong("help") == nullptr) {
      help_ = true;
      continue;
    }
    if (double_dash || (name.size() > 1 && FindLong(name) != nullptr)) {
      Flag* f = FindLong(name);
      if (f == nullptr) {
        return Status::Invalid("unknown flag: " + std::string(double_dash ? "--" : "-") +
                               std::string(name));
      }
      std::string shown = "--" + f->name;
      if (eq != std::string_view::npos) {
        cli.push_back(Occurrence{f, std::string(body.substr(eq + 1)),
                                 "invalid argument for \"" + shown + "\" flag",
                                 FlagSource::kCommandLine});
      } else if (f->type == Flag::Type::kBool) {
        cli.push_back(Occurrence{f, "true", shown, FlagSource::kCommandLine});
      } else {
        if (i + 1 >= args.size()) return missing(shown);
        cli.push_back(Occurrence{f, args[++i], "invalid argument for \"" + shown + "\" flag",
                                 FlagSource::kCommandLine});
      }
      continue;
    }
    // Shorthands: -abc, -nVALUE, -n VALUE, -n=VALUE.
    for (std::size_t k = 1; k < arg.size(); ++k) {
      char c = arg[k];
      Flag* s = FindShort(c);
      if (s == nullptr) {
        if (c == 'h') {
          help_ = true;
          continue;
        }
        return Status::Invalid(std::string("unknown shorthand flag: '") + c + "' in " + arg);
      }
      std::string shown = std::string("-") + c;
      std::string origin = "invalid argument for \"" + shown + ", --" + s->name + "\" flag";
      std::string rest = arg.substr(k + 1);
      if (!rest.empty() && rest[0] == '=') {
        cli.push_back(Occurrence{s, rest.substr(1), origin, FlagSource::kCommandLine});
        break;
      }
      if (s->type == Flag::Type::kBool) {
        cli.push_back(Occurrence{s, "true", origin, FlagSource::kCommandLine});
        continue;
      }
      if (!rest.empty()) {
        cli.push_back(Occurrence{s, rest, origin, FlagSource::kCommandLine});
      } else {
        if (i + 1 >= args.size()) return missing(shown);
        cli.push_back(Occurrence{s, args[++i], origin, FlagSource::kCommandLine});
      }
      break;
    }
  }
  if (help_) return Status::OK();

  std::vector<Occurrence> config;
  if (config_enabled_) {
    std::string path = config_default_;
    bool explicitly_set = false;
    for (const Occurrence& o : cli) {
      if (o.flag->name == "config") {
        path = o.value;
        explicitly_set = true;
      }
    }
    if (!explicitly_set) {
      if (auto env = env_("MINI8S_CONFIG_FILE"); env.has_value() && !env->empty()) {
        path = *env;
        explicitly_set = true;
      }
    }
    if (!path.empty()) MINI8S_RETURN_IF_ERROR(ReadConfig(path, explicitly_set, config));
  }

  // Convert and assign every flag from its winning source(s).
  for (auto& fp : flags_) {
    Flag* f = fp.get();
    std::vector<const Occurrence*> from_cli, from_config;
    for (const Occurrence& o : cli) {
      if (o.flag == f) from_cli.push_back(&o);
    }
    for (const Occurrence& o : config) {
      if (o.flag == f) from_config.push_back(&o);
    }
    std::optional<std::string> env;
    if (!f->env.empty()) env = env_(f->env);
    std::string env_origin = "invalid value in $" + f->env;

    auto assign = [&](const std::string& value, const std::string& origin) -> Status {
      auto fail = [&](const std::string& why) {
        return Status::Invalid(origin + ": " + Quote(value) + ": " + why);
      };
      switch (f->type) {
        case Flag::Type::kString:
          *static_cast<std::string*>(f->target) = value;
          return Status::OK();
        case Flag::Type::kBool: {
          bool b;
          if (!ParseGoBool(value, b)) return fail("expected true or false");
          *static_cast<bool*>(f->target) = b;
          return Status::OK();
        }
        case Flag::Type::kInt:
        case Flag::Type::kInt64: {
          int64_t v;
          if (!ParseInt64(value, v)) return fail("expected an integer");
          if (f->type == Flag::Type::kInt) {
            if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) {
              return fail("value out of range");
            }
            *static_cast<int*>(f->target) = static_cast<int>(v);
          } else {
            *static_cast<int64_t*>(f->target) = v;
          }
          return Status::OK();
        }
        case Flag::Type::kDuration: {
          auto d = ParseGoDuration(value);
          if (!d.has_value()) return fail("expected a duration such as 10s, 5m or 1h30m");
          *static_cast<std::chrono::nanoseconds*>(f->target) = *d;
          return Status::OK();
        }
        case Flag::Type::kList:
          break;
      }
      return Status::Internal("unreachable");
    };

    if (f->type == Flag::Type::kList) {
      if (from_cli.empty() && !env.has_value() && from_config.empty()) continue;
      std::vector<std::string> list;
      auto add = [&](const std::string& v) {
        if (v.empty()) return;  // "--flag=" and an empty env var add nothing
        for (std::string& part : SplitCommas(v)) list.push_back(std::move(part));
      };
      if (env.has_value()) {
        add(*env);
      } else {
        for (const Occurrence* o : from_config) add(o->value);
      }
      for (const Occurrence* o : from_cli) add(o->value);
      *static_cast<std::vector<std::string>*>(f->target) = std::move(list);
      f->source = !from_cli.empty() ? FlagSource::kCommandLine
                  : env.has_value() ? FlagSource::kEnvironment
                                    : FlagSource::kConfigFile;
      continue;
    }
    if (!from_cli.empty()) {
      MINI8S_RETURN_IF_ERROR(assign(from_cli.back()->value, from_cli.back()->origin));
      f->source = FlagSource::kCommandLine;
    } else if (env.has_value()) {
      MINI8S_RETURN_IF_ERROR(assign(*env, env_origin));
      f->source = FlagSource::kEnvironment;
    } else if (!from_config.empty()) {
      MINI8S_RETURN_IF_ERROR(assign(from_config.back()->value, from_config.back()->origin));
      f->source = FlagSource::kConfigFile;
    }
  }
  return Status::OK();
}

std::string FlagSet::Help() const {
  std::string out = "Usage: mini8s " + command_ + (synopsis_.empty() ? "" : " " + synopsis_) + "\n";
  if (!description_.empty()) out += "\n" + description_ + "\n";
  struct Row {
    std::string left, right;
  };
  std::vector<Row> rows;
  for (const auto& f : flags_) {
    if (f->hidden) continue;
    std::string left = f->shorthand ? std::string("-") + f->shorthand + ", " : "    ";
    left += "--" + f->name;
    if (f->type != Flag::Type::kBool) {
      std::string ph = f->placeholder;
      if (ph.empty()) {
        switch (f->type) {
          case Flag::Type::kInt:
          case Flag::Type::kInt64:
            ph = "int";
            break;
          case Flag::Type::kDuration:
            ph = "duration";
            break;
          default:
            ph = "value";
        }
      }
      left += " " + ph;
    }
    std::string right = f->help;
    if (f->type == Flag::Type::kList) right += " (repeatable, comma-separated)";
    if (!f->default_text.empty()) right += " (default " + f->default_text + ")";
    if (!f->env.empty()) right += " [$" + f->env + "]";
    rows.push_back({left, right});
  }
  if (FindShort('h') == nullptr) rows.push_back({"-h, --help", "Show this help"});
  std::size_t width = 0;
  for (const Row& r : rows) width = std::max(width, r.left.size());
  width = std::min<std::size_t>(width, 32);
  out += "\nFlags:\n";
  for (const Row& r : rows) {
    out += "  " + r.left;
    if (r.left.size() < width) {
      out.append(width - r.left.size(), ' ');
    }
    out += "   " + r.right + "\n";
  }
  return out;
}

}  // namespace mini8s
