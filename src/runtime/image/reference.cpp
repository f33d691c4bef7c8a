// Docker reference grammar (distribution/reference) and digests.
#include <cctype>
#include <string>

#include <openssl/evp.h>

#include "mini8s/image/image.h"

namespace mini8s::image {
namespace {

bool IsAlnumLower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// path-component: [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
bool ValidComponent(std::string_view c) {
  if (c.empty() || !IsAlnumLower(c.front()) || !IsAlnumLower(c.back())) return false;
  size_t i = 0;
  while (i < c.size()) {
    if (IsAlnumLower(c[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < c.size() && !IsAlnumLower(c[j])) ++j;
    std::string_view sep = c.substr(i, j - i);
    bool ok = sep == "." || sep == "_" || sep == "__" ||
              sep.find_first_not_of('-') == std::string_view::npos;
    if (!ok) return false;
    i = j;
  }
  return true;
}

// domain: host[:port], host being DNS labels separated by dots or a bracketed IPv6 address.
bool ValidDomain(std::string_view d) {
  if (d.empty()) return false;
  std::string_view host = d;
  if (d.front() == '[') {
    size_t close = d.find(']');
    if (close == std::string_view::npos) return false;
    host = d.substr(1, close - 1);
    std::string_view rest = d.substr(close + 1);
    if (host.empty() || host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos) {
      return false;
    }
    if (rest.empty()) return true;
    if (rest.front() != ':' || rest.size() < 2) return false;
    return rest.substr(1).find_first_not_of("0123456789") == std::string_view::npos;
  }
  size_t colon = d.find(':');
  if (colon != std::string_view::npos) {
    std::string_view port = d.substr(colon + 1);
    if (port.empty() || port.find_first_not_of("0123456789") != std::string_view::npos) {
      return false;
    }
    host = d.substr(0, colon);
  }
  if (host.empty()) return false;
  size_t start = 0;
  while (start <= host.size()) {
    size_t dot = host.find('.', start);
    std::string_view label = host.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (label.empty() || !std::isalnum(static_cast<unsigned char>(label.front())) ||
        !std::isalnum(static_cast<unsigned char>(label.back()))) {
      return false;
    }
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

bool ValidTag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!word(t.front())) return false;
  for (char c : t) {
    if (!word(c) && c != '.' && c != '-') return false;
  }
  return true;
}

}  // namespace

Status ValidateDigest(std::string_view digest) {
  constexpr std::string_view kPrefix = "sha256:";
  if (digest.substr(0, kPrefix.size()) != kPrefix) {
    return Status::Invalid("unsupported digest \"" + std::string(digest) +
                           "\" (only sha256 is supported)");
  }
  std::string_view hex = digest.substr(kPrefix.size());
  if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdef") != std::string_view::npos) {
    return Status::Invalid("invalid digest \"" + std::string(digest) + "\"");
  }
  return Status::OK();
}

std::string DigestOf(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

std::string Reference::String() const {
  std::string s = Name();
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

Result<Reference> ParseReference(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Status::Invalid("invalid image reference \"" + std::string(text) + "\": " + why);
  };
  if (text.empty()) return bad("empty");
  Reference ref;
  std::string_view rest = text;
  size_t at = rest.find('@');
  if (at != std::string_view::npos) {
    ref.digest = std::string(rest.substr(at + 1));
    if (Status s = ValidateDigest(ref.digest); !s.ok()) return bad(s.message());
    rest = rest.substr(0, at);
  }
  // A tag is after the last ':' that follows the last '/' (a ':' before it is a port).
  size_t slash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    ref.tag = std::string(rest.substr(colon + 1));
    if (!ValidTag(ref.tag)) return bad("invalid tag \"" + ref.tag + "\"");
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return bad("missing repository name");
  size_t first_slash = rest.find('/');
  std::string_view first = rest.substr(0, first_slash);
  if (first_slash != std::string_view::npos &&
      (first.find_first_of(".:") != std::string_view::npos || first == "localhost" ||
       first.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string_view::npos)) {
    if (!ValidDomain(first)) return bad("invalid registry host \"" + std::string(first) + "\"");
    ref.domain = std::string(first);
    rest = rest.substr(first_slash + 1);
  } else {
    ref.domain = "docker.io";
  }
  if (ref.domain == "index.docker.io") ref.domain = "docker.io";
  if (rest.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string_view::npos) {
    return bad("repository name must be lowercase");
  }
  size_t start = 0;
  while (true) {
    size_t s = rest.find('/', start);
    std::string_view comp = rest.substr(start, s == std::string_view::npos ? s : s - start);
    if (!ValidComponent(comp)) {
      return bad("invalid repository path component \"" + std::string(comp) + "\"");
    }
    if (s == std::string_view::npos) break;
    start = s + 1;
  }
  ref.path = std::string(rest);
  if (ref.domain == "docker.io" && ref.path.find('/') == std::string::npos) {
    ref.path = "library/" + ref.path;
  }
  if (ref.Name().size() > 255) return bad("repository name longer than 255 characters");
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids) {
  std::vector<std::string> out;
  for (const std::string& d : diff_ids) {
    out.push_back(out.empty() ? d : DigestOf(out.back() + " " + d));
  }
  return out;
}

}  // namespace mini8s::image
