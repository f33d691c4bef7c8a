// `mini8s certificate check|rotate`: k3s's certificate subcommands over the files of a server's
// data directory. They work on the files alone (no API call), so they run with the server
// stopped, which is what k3s asks for rotate; a running server also picks rotated files up at
// its next renewal pass (see docs/design/tls-certificates.md).
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "mini8s/common/clock.h"
#include "mini8s/common/flags.h"
#include "mini8s/http/tls_material.h"
#include "mini8s/server/bootstrap.h"
#include "mini8s/server/cert_rotation.h"

namespace mini8s::cli {
namespace {

namespace fs = std::filesystem;

int Fail(const std::string& message) {
  std::fprintf(stderr, "mini8s certificate: %s\n", message.c_str());
  return 1;
}

std::string Residual(std::chrono::system_clock::duration d) {
  auto hours = std::chrono::duration_cast<std::chrono::hours>(d).count();
  if (hours < 0) return "-";
  if (hours >= 48) return std::to_string(hours / 24) + "d";
  return std::to_string(hours) + "h";
}

int Check(const std::string& data_dir) {
  auto certs = server::ListServerCertificates(data_dir);
  if (!certs.ok()) return Fail(certs.error().message());
  auto now = std::chrono::system_clock::now();
  std::printf("%-70s %-45s %-12s %-21s %-13s %s\n", "FILENAME", "SUBJECT", "USAGES", "EXPIRES",
              "RESIDUAL TIME", "STATUS");
  int expired = 0;
  for (const auto& c : *certs) {
    const char* status = "OK";
    if (c.not_after <= now) {
      status = "EXPIRED";
      ++expired;
    } else if (!c.is_ca && c.not_after - now < server::kRenewBeforeExpiry) {
      status = "WARNING";  // the server renews it at its next start or renewal pass
    }
    std::printf("%-70s %-45s %-12s %-21s %-13s %s\n", c.path.c_str(), c.subject.c_str(),
                c.usages.c_str(), FormatRfc3339(c.not_after).c_str(),
                Residual(c.not_after - now).c_str(), status);
  }
  return expired == 0 ? 0 : 1;
}

int Rotate(const std::string& data_dir, const std::vector<std::string>& services) {
  std::vector<std::string> names;
  std::string known;
  for (const auto& m : server::ManagedLeafCertificates()) {
    known += (known.empty() ? "" : ", ") + m.service;
  }
  for (const std::string& s : services) {
    bool found = false;
    for (const auto& m : server::ManagedLeafCertificates()) {
      if (m.service == s) {
        names.push_back(m.name);
        found = true;
      }
    }
    if (!found)
      return UsageError("certificate", "unknown service \"" + s + "\" (known: " + known + ")");
  }
  if (services.empty()) {
    for (const auto& m : server::ManagedLeafCertificates()) names.push_back(m.name);
  }
  fs::path tls_dir = fs::path(data_dir) / "server" / "tls";
  std::error_code ec;
  if (!fs::exists(tls_dir / "server-ca.crt", ec)) {
    return Fail("no certificates in " + tls_dir.string() +
                " (has the server run with this --data-dir?)");
  }
  // k3s keeps the previous material beside the live directory.
  fs::path backup = fs::path(data_dir) / "server" / ("tls-" + std::to_string(::time(nullptr)));
  fs::copy(tls_dir, backup, fs::copy_options::recursive | fs::copy_options::skip_existing, ec);
  if (ec) return Fail("cannot back up " + tls_dir.string() + ": " + ec.message());

  server::BootstrapOptions o;
  o.data_dir = data_dir;
  o.force_renew = names;
  // Keep every name the serving certificate has (--tls-san, --advertise-address, domain).
  if (auto pem = http::ReadPemFile((tls_dir / "serving-kube-apiserver.crt").string()); pem.ok()) {
    if (auto info = http::InspectCertificate(*pem); info.ok()) {
      o.tls_sans = info->dns_names;
      o.tls_sans.insert(o.tls_sans.end(), info->ip_addresses.begin(), info->ip_addresses.end());
    }
  }
  auto creds = server::EnsureServerCredentials(o);
  if (!creds.ok()) return Fail(creds.error().message());
  std::printf("certificates backed up to %s\n", backup.string().c_str());
  for (const std::string& n : names) {
    std::printf("rotated %s\n", (tls_dir / (n + ".crt")).string().c_str());
  }
  std::printf(
      "CA certificates kept; restart the server to use the new certificates "
      "(a running one loads them at its next renewal pass)\n");
  return 0;
}

}  // namespace

int RunCertificate(const Args& args) {
  std::string data_dir = "/var/lib/mini8s";
  std::vector<std::string> services;
  FlagSet fs("certificate");
  fs.SetUsage("check|rotate [flags]",
              "Inspect or renew the server's certificates (k3s's certificate subcommands).\n"
              "  check   list every certificate with its expiry (exit 1 if one has expired)\n"
              "  rotate  reissue leaf certificates now from the same CAs (CAs are kept);\n"
              "          run it with the server stopped");
  fs.String("data-dir", &data_dir, "Folder holding the server's state").Short('d');
  fs.StringList("service", &services,
                "rotate: only these services' certificates (admin, "
                "api-server); default all")
      .Short('s')
      .NoEnv();
  Status ps = fs.Parse(args);
  if (!ps.ok()) return UsageError("certificate", ps.message());
  if (fs.help_requested()) {
    std::printf("%s", fs.Help().c_str());
    return 0;
  }
  if (fs.positional().size() != 1) {
    return UsageError("certificate", "expected one command (check, rotate)");
  }
  const std::string& command = fs.positional()[0];
  if (command == "check") {
    if (!services.empty()) return UsageError("certificate", "--service is for rotate");
    return Check(data_dir);
  }
  if (command == "rotate") return Rotate(data_dir, services);
  return UsageError("certificate", "unknown command \"" + command + "\" (check, rotate)");
}

}  // namespace mini8s::cli
