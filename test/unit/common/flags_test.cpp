#include "mini8s/common/flags.h"

#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "testutil/temp_dir.h"

namespace mini8s {
namespace {

using std::chrono::nanoseconds;
using namespace std::chrono_literals;

// A server-like flag set over a fake environment.
struct ServerFlags {
  std::string data_dir = "/var/lib/mini8s";
  std::string token;
  bool cluster_init = false;
  bool disable_agent = false;
  bool verbose = false;
  int port = 6443;
  int64_t big = 0;
  nanoseconds timeout = 10s;
  std::vector<std::string> tls_san;
  std::vector<std::string> node_label;
  std::map<std::string, std::string> env;
  FlagSet flags{"server"};

  explicit ServerFlags(const std::string& config_default = "") {
    flags.String("data-dir", &data_dir, "Folder to hold state").Short('d').Placeholder("DIR");
    flags.String("token", &token, "Shared secret").Short('t');
    flags.Bool("cluster-init", &cluster_init, "Initialize a new cluster");
    flags.Bool("disable-agent", &disable_agent, "Do not run a local agent").NoEnv();
    flags.Bool("verbose", &verbose, "Verbose output").Short('V');
    flags.Int("https-listen-port", &port, "HTTPS listen port");
    flags.Int64("big", &big, "A large number").Hidden();
    flags.Duration("timeout", &timeout, "How long to wait");
    flags.StringList("tls-san", &tls_san, "Extra TLS SANs");
    flags.StringList("node-label", &node_label, "Node labels").Env("MINI8S_LABELS");
    if (!config_default.empty()) flags.EnableConfigFile(config_default);
    flags.SetEnvLookup([this](const std::string& name) -> std::optional<std::string> {
      auto it = env.find(name);
      if (it == env.end()) return std::nullopt;
      return it->second;
    });
  }
  Status Parse(std::vector<std::string> args) { return flags.Parse(args); }
};

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST_CASE("Flags: long, short and equals forms set typed values", "[common][unit]") {
  ServerFlags s;
  REQUIRE(s.Parse({"--data-dir", "/tmp/a", "-t", "secret", "--cluster-init",
                   "--https-listen-port=7443", "--timeout", "1h30m", "--big=9000000000"})
              .ok());
  CHECK(s.data_dir == "/tmp/a");
  CHECK(s.token == "secret");
  CHECK(s.cluster_init);
  CHECK(s.port == 7443);
  CHECK(s.timeout == 90min);
  CHECK(s.big == 9000000000LL);
  CHECK(s.flags.Source("data-dir") == FlagSource::kCommandLine);
  CHECK(s.flags.Changed("token"));
  CHECK_FALSE(s.flags.Changed("tls-san"));

  ServerFlags t;
  REQUIRE(t.Parse({"-d/x", "-t=abc", "-data-dir=/go-style"}).ok());
  CHECK(t.data_dir == "/go-style");  // the last occurrence wins
  CHECK(t.token == "abc");
}

TEST_CASE("Flags: booleans take --flag, --flag=false and combined shorthands", "[common][unit]") {
  ServerFlags s;
  REQUIRE(s.Parse({"--cluster-init=false", "-Vd", "/data"}).ok());
  CHECK_FALSE(s.cluster_init);
  CHECK(s.verbose);
  CHECK(s.data_dir == "/data");

  ServerFlags t;
  REQUIRE(t.Parse({"--cluster-init", "false"}).ok());
  CHECK(t.cluster_init);  // a bool never consumes the next argument
  CHECK(t.flags.positional() == std::vector<std::string>{"false"});

  ServerFlags u;
  REQUIRE(u.Parse({"--cluster-init=T", "--verbose=0"}).ok());
  CHECK(u.cluster_init);
  CHECK_FALSE(u.verbose);
}

TEST_CASE("Flags: positional arguments interleave with flags and -- ends the flags",
          "[common][unit]") {
  ServerFlags s;
  REQUIRE(s.Parse({"get", "-d", "/x", "pods", "-", "--", "--token", "-t"}).ok());
  CHECK(s.flags.positional() == std::vector<std::string>{"get", "pods", "-", "--token", "-t"});
  CHECK(s.token.empty());
}

TEST_CASE("Flags: a one-letter long name works like kubectl's --v", "[common][unit]") {
  int v = 0;
  FlagSet flags("kubectl");
  flags.Int("v", &v, "Log verbosity").Short('v');
  REQUIRE(flags.Parse({"--v=3"}).ok());
  CHECK(v == 3);
  REQUIRE(flags.Parse({"-v", "4"}).ok());
  CHECK(v == 4);
  CHECK(flags.Help().find("  -v, --v int") != std::string::npos);
}

TEST_CASE("Flags: string lists repeat and split on commas", "[common][unit]") {
  ServerFlags s;
  REQUIRE(s.Parse({"--tls-san", "a.example", "--tls-san=b,c", "--node-label", "x=1"}).ok());
  CHECK(s.tls_san == std::vector<std::string>{"a.example", "b", "c"});
  CHECK(s.node_label == std::vector<std::string>{"x=1"});
}

TEST_CASE("Flags: bad input gives one-line errors", "[common][unit]") {
  auto err = [](std::vector<std::string> args) {
    ServerFlags s;
    Status st = s.Parse(std::move(args));
    REQUIRE_FALSE(st.ok());
    CHECK(st.code() == Code::kInvalid);
    CHECK(st.message().find('\n') == std::string::npos);
    return st.message();
  };
  CHECK(err({"--nope"}) == "unknown flag: --nope");
  CHECK(err({"-x"}) == "unknown shorthand flag: 'x' in -x");
  CHECK(err({"--data-dir"}) == "flag needs an argument: --data-dir");
  CHECK(err({"-d"}) == "flag needs an argument: -d");
  CHECK(err({"--https-listen-port", "abc"}) ==
        "invalid argument for \"--https-listen-port\" flag: \"abc\": expected an integer");
  CHECK(err({"--https-listen-port=99999999999"}).find("out of range") != std::string::npos);
  CHECK(err({"--cluster-init=maybe"}).find("expected true or false") != std::string::npos);
  CHECK(err({"--timeout", "10"}).find("expected a duration") != std::string::npos);
}

TEST_CASE("Flags: -h and --help request help instead of failing", "[common][unit]") {
  ServerFlags s;
  REQUIRE(s.Parse({"--nope-is-not-reached", "--help"}).ok() == false);
  ServerFlags t;
  REQUIRE(t.Parse({"-h"}).ok());
  CHECK(t.flags.help_requested());
  ServerFlags u;
  REQUIRE(u.Parse({"--data-dir", "/x", "--help"}).ok());
  CHECK(u.flags.help_requested());
}

TEST_CASE("Flags: help is generated from the definitions", "[common][unit]") {
  ServerFlags s("/etc/mini8s/config.yaml");
  s.flags.SetUsage("[flags]", "Run the control plane.");
  std::string help = s.flags.Help();
  CHECK(help.rfind("Usage: mini8s server [flags]\n\nRun the control plane.\n\nFlags:\n", 0) == 0);
  CHECK(help.find("  -d, --data-dir DIR") != std::string::npos);
  CHECK(help.find("Folder to hold state (default \"/var/lib/mini8s\") [$MINI8S_DATA_DIR]\n") !=
        std::string::npos);
  CHECK(help.find("--https-listen-port int") != std::string::npos);
  CHECK(help.find("(default 6443)") != std::string::npos);
  CHECK(help.find("--timeout duration") != std::string::npos);
  CHECK(help.find("(default 10s)") != std::string::npos);
  CHECK(help.find("--tls-san value") != std::string::npos);
  CHECK(help.find("-c, --config FILE") != std::string::npos);
  CHECK(help.find("[$MINI8S_CONFIG_FILE]") != std::string::npos);
  CHECK(help.find("Do not run a local agent\n") != std::string::npos);  // NoEnv
  CHECK(help.find("--big") == std::string::npos);                       // hidden
  CHECK(help.find("-h, --help") != std::string::npos);
}

TEST_CASE("Flags: MINI8S_* environment variables sit between the config file and the CLI",
          "[common][unit]") {
  ServerFlags s;
  s.env = {{"MINI8S_DATA_DIR", "/from-env"}, {"MINI8S_TOKEN", "env-token"},
           {"MINI8S_CLUSTER_INIT", "true"},  {"MINI8S_DISABLE_AGENT", "true"},  // NoEnv: ignored
           {"MINI8S_LABELS", "a=1,b=2"},     {"MINI8S_TIMEOUT", "5m"}};
  REQUIRE(s.Parse({"--token", "cli-token"}).ok());
  CHECK(s.data_dir == "/from-env");
  CHECK(s.token == "cli-token");
  CHECK(s.cluster_init);
  CHECK_FALSE(s.disable_agent);
  CHECK(s.node_label == std::vector<std::string>{"a=1", "b=2"});
  CHECK(s.timeout == 5min);
  CHECK(s.flags.Source("data-dir") == FlagSource::kEnvironment);
  CHECK(s.flags.Source("token") == FlagSource::kCommandLine);

  ServerFlags bad;
  bad.env = {{"MINI8S_HTTPS_LISTEN_PORT", "x"}};
  Status st = bad.Parse({});
  CHECK(st.message() == "invalid value in $MINI8S_HTTPS_LISTEN_PORT: \"x\": expected an integer");
}

TEST_CASE("Flags: config file, drop-ins, key+ appends and precedence", "[common][unit]") {
  testutil::TempDir dir;
  std::string cfg = dir.File("config.yaml");
  WriteFile(cfg,
            "# k3s-style config\n"
            "data-dir: /from-config\n"
            "token: config-token\n"
            "https-listen-port: 8443\n"
            "cluster-init: true\n"
            "timeout: 30s\n"
            "tls-san:\n  - one.example\n  - two.example\n"
            "node-label: [base=1]\n"
            "t: short-key-token\n");
  std::filesystem::create_directory(cfg + ".d");
  WriteFile(cfg + ".d/20-more.yaml", "tls-san+: [three.example]\nnode-label: [replaced=1]\n");
  WriteFile(cfg + ".d/10-first.yml", "https-listen-port: 9443\n");
  WriteFile(cfg + ".d/30-ignored.txt", "data-dir: /ignored\n");

  ServerFlags s(cfg);
  s.env = {{"MINI8S_TIMEOUT", "1m"}};
  REQUIRE(s.Parse({"--data-dir", "/from-cli", "--tls-san", "cli.example"}).ok());
  CHECK(s.data_dir == "/from-cli");     // CLI > config
  CHECK(s.token == "short-key-token");  // one-letter keys name shorthands; the later key wins
  CHECK(s.port == 9443);                // drop-in overrides the main file
  CHECK(s.cluster_init);
  CHECK(s.timeout == 1min);  // env > config
  CHECK(s.tls_san ==
        std::vector<std::string>{"one.example", "two.example", "three.example", "cli.example"});
  CHECK(s.node_label == std::vector<std::string>{"replaced=1"});
  CHECK(s.flags.Source("https-listen-port") == FlagSource::kConfigFile);
  CHECK(s.flags.config_files() ==
        std::vector<std::string>{cfg, cfg + ".d/10-first.yml", cfg + ".d/20-more.yaml"});
}

TEST_CASE("Flags: config file location comes from --config, then MINI8S_CONFIG_FILE",
          "[common][unit]") {
  testutil::TempDir dir;
  WriteFile(dir.File("a.yaml"), "token: a\n");
  WriteFile(dir.File("b.yaml"), "token: b\n");

  ServerFlags by_flag(dir.File("missing-default.yaml"));
  by_flag.env = {{"MINI8S_CONFIG_FILE", dir.File("b.yaml")}};
  REQUIRE(by_flag.Parse({"-c", dir.File("a.yaml")}).ok());
  CHECK(by_flag.token == "a");

  ServerFlags by_env(dir.File("missing-default.yaml"));
  by_env.env = {{"MINI8S_CONFIG_FILE", dir.File("b.yaml")}};
  REQUIRE(by_env.Parse({}).ok());
  CHECK(by_env.token == "b");

  ServerFlags missing_default(dir.File("missing-default.yaml"));
  REQUIRE(missing_default.Parse({}).ok());
  CHECK(missing_default.flags.config_files().empty());

  ServerFlags missing_explicit(dir.File("missing-default.yaml"));
  Status st = missing_explicit.Parse({"--config=" + dir.File("nope.yaml")});
  CHECK(st.code() == Code::kNotFound);
}

TEST_CASE("Flags: drop-ins alone are enough when the main config file is absent",
          "[common][unit]") {
  testutil::TempDir dir;
  std::string cfg = dir.File("config.yaml");
  std::filesystem::create_directory(cfg + ".d");
  WriteFile(cfg + ".d/01.yaml", "token: from-dropin\n");
  ServerFlags s(cfg);
  REQUIRE(s.Parse({}).ok());
  CHECK(s.token == "from-dropin");
}

TEST_CASE("Flags: unknown config keys are skipped with a warning; bad values are errors",
          "[common][unit]") {
  testutil::TempDir dir;
  std::string cfg = dir.File("config.yaml");
  WriteFile(cfg, "token: x\nflannel-backend: none\n");
  ServerFlags s(cfg);
  REQUIRE(s.Parse({}).ok());
  CHECK(s.token == "x");
  REQUIRE(s.flags.warnings().size() == 1);
  CHECK(s.flags.warnings()[0].find("unknown flag \"flannel-backend\"") != std::string::npos);

  WriteFile(cfg, "https-listen-port: [1, 2]\n");
  ServerFlags list_for_scalar(cfg);
  CHECK(list_for_scalar.Parse({}).message().find("expected a single value") != std::string::npos);

  WriteFile(cfg, "https-listen-port: abc\n");
  ServerFlags bad_value(cfg);
  CHECK(bad_value.Parse({}).message() ==
        "config file " + cfg +
            ": invalid value for \"https-listen-port\": \"abc\": expected an integer");

  WriteFile(cfg, "token: \"unterminated\n");
  ServerFlags bad_yaml(cfg);
  CHECK(bad_yaml.Parse({}).message().find("line 1, column 8") != std::string::npos);

  WriteFile(cfg, "- just\n- a list\n");
  ServerFlags not_a_map(cfg);
  CHECK(not_a_map.Parse({}).message().find("expected a mapping") != std::string::npos);
}

TEST_CASE("Flags: Go durations parse and print like time.Duration", "[common][unit]") {
  CHECK(*ParseGoDuration("10s") == 10s);
  CHECK(*ParseGoDuration("1h30m") == 90min);
  CHECK(*ParseGoDuration("1.5h") == 90min);
  CHECK(*ParseGoDuration("300ms") == 300ms);
  CHECK(*ParseGoDuration("2us") == 2us);
  CHECK(*ParseGoDuration("2\xc2\xb5s") == 2us);
  CHECK(*ParseGoDuration("-1m") == -1min);
  CHECK(*ParseGoDuration("0") == 0s);
  CHECK(*ParseGoDuration("1h2m3s4ms") == 1h + 2min + 3s + 4ms);
  CHECK_FALSE(ParseGoDuration("10").has_value());
  CHECK_FALSE(ParseGoDuration("").has_value());
  CHECK_FALSE(ParseGoDuration("5d").has_value());
  CHECK_FALSE(ParseGoDuration("s").has_value());
  CHECK(FormatGoDuration(90min) == "1h30m0s");
  CHECK(FormatGoDuration(10s) == "10s");
  CHECK(FormatGoDuration(1500ms) == "1.5s");
  CHECK(FormatGoDuration(300ms) == "300ms");
  CHECK(FormatGoDuration(0s) == "0s");
  CHECK(FormatGoDuration(-2min) == "-2m0s");
  CHECK(FormatGoDuration(nanoseconds(1500)) == "1.5\xc2\xb5s");
}

}  // namespace
}  // namespace mini8s

namespace mini8s {
namespace {

TEST_CASE("Flags: Go durations are exact up to the int64 maximum", "[common][unit]") {
  auto max = ParseGoDuration("2562047h47m16.854775807s");
  REQUIRE(max.has_value());
  CHECK(max->count() == std::numeric_limits<int64_t>::max());
  auto big = ParseGoDuration("1000000h1ns");  // beyond double's 53-bit mantissa
  REQUIRE(big.has_value());
  CHECK(big->count() == 3600000000000000001LL);
  CHECK_FALSE(ParseGoDuration("2562048h").has_value());
}

}  // namespace
}  // namespace mini8s
