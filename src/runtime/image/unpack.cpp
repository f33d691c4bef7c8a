// Layer unpacking with libarchive. Two readers are chained so one pass both hashes the
// uncompressed tar (the diff ID) and extracts it: the outer reader only decompresses (raw format,
// any filter), the inner one parses tar from the outer's output.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <memory>
#include <string>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "mini8s/image/image.h"

namespace mini8s::image {
namespace {

namespace fs = std::filesystem;

struct ReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct MdFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

struct Chain {
  archive* outer = nullptr;
  EVP_MD_CTX* md = nullptr;
  bool eof = false;
};

la_ssize_t ChainRead(archive* inner, void* data, const void** buf) {
  auto* chain = static_cast<Chain*>(data);
  if (chain->eof) return 0;
  const void* block = nullptr;
  size_t size = 0;
  la_int64_t offset = 0;
  int r = archive_read_data_block(chain->outer, &block, &size, &offset);
  if (r == ARCHIVE_EOF) {
    chain->eof = true;
    return 0;
  }
  if (r < ARCHIVE_WARN) {
    archive_set_error(inner, EIO, "%s", archive_error_string(chain->outer));
    return -1;
  }
  EVP_DigestUpdate(chain->md, block, size);
  *buf = block;
  return static_cast<la_ssize_t>(size);
}

std::string HexDigest(EVP_MD_CTX* md) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(md, out, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s = "sha256:";
  for (unsigned int i = 0; i < len; ++i) {
    s += kHex[out[i] >> 4];
    s += kHex[out[i] & 15];
  }
  return s;
}

// "./a/b/" -> "a/b"; empty for the root; nullopt when a component is "..".
std::optional<std::string> CleanPath(std::string_view p) {
  std::string out;
  size_t i = 0;
  while (i <= p.size()) {
    size_t s = p.find('/', i);
    std::string_view c = p.substr(i, s == std::string_view::npos ? s : s - i);
    if (c == "..") return std::nullopt;
    if (!c.empty() && c != ".") {
      if (!out.empty()) out += '/';
      out += c;
    }
    if (s == std::string_view::npos) break;
    i = s + 1;
  }
  return out;
}

Status MkdirAll(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::FromErrno(ec.value(), "mkdir", dir);
  return Status::OK();
}

}  // namespace

Result<std::string> UnpackLayer(const std::string& blob_path, const std::string& dest_in) {
  std::error_code ec;
  std::string dest = fs::canonical(dest_in, ec).string();
  if (ec) return Status::FromErrno(ec.value(), "unpack: resolve", dest_in);

  std::unique_ptr<archive, ReadFree> outer(archive_read_new());
  archive_read_support_filter_all(outer.get());
  archive_read_support_format_raw(outer.get());
  if (archive_read_open_filename(outer.get(), blob_path.c_str(), 1 << 16) != ARCHIVE_OK) {
    return Status::Invalid("layer " + blob_path + ": " + archive_error_string(outer.get()));
  }
  archive_entry* raw_entry = nullptr;
  if (archive_read_next_header(outer.get(), &raw_entry) != ARCHIVE_OK) {
    return Status::Invalid("layer " + blob_path + ": " + archive_error_string(outer.get()));
  }
  std::unique_ptr<EVP_MD_CTX, MdFree> md(EVP_MD_CTX_new());
  EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr);
  Chain chain{outer.get(), md.get()};

  std::unique_ptr<archive, ReadFree> in(archive_read_new());
  archive_read_support_format_tar(in.get());
  archive_read_support_format_gnutar(in.get());
  if (archive_read_open(in.get(), &chain, nullptr, ChainRead, nullptr) != ARCHIVE_OK) {
    return Status::Invalid("layer " + blob_path +
                           " is not a tar archive: " + archive_error_string(in.get()));
  }
  std::unique_ptr<archive, WriteFree> out(archive_write_disk_new());
  archive_write_disk_set_options(
      out.get(), ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                     ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                     ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_UNLINK);
  archive_write_disk_set_standard_lookup(out.get());

  while (true) {
    archive_entry* entry = nullptr;
    int r = archive_read_next_header(in.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      return Status::Invalid("layer " + blob_path + ": " + archive_error_string(in.get()));
    }
    const char* name_c = archive_entry_pathname(entry);
    std::optional<std::string> rel = CleanPath(name_c ? name_c : "");
    if (!rel) {
      return Status::Invalid("layer " + blob_path + ": entry \"" + name_c + "\" escapes the root");
    }
    std::string base = fs::path(*rel).filename().string();
    std::string parent = fs::path(*rel).parent_path().string();
    std::string parent_abs = parent.empty() ? dest : dest + "/" + parent;
    if (base.rfind(".wh.", 0) == 0) {
      MINI8S_RETURN_IF_ERROR(MkdirAll(parent_abs));
      if (base == ".wh..wh..opq") {
        // An opaque directory hides everything below it in lower layers.
        if (setxattr(parent_abs.c_str(), "trusted.overlay.opaque", "y", 1, 0) != 0) {
          return Status::FromErrno(errno, "setxattr trusted.overlay.opaque", parent_abs);
        }
      } else {
        std::string target = parent_abs + "/" + base.substr(4);
        fs::remove_all(target, ec);
        if (mknod(target.c_str(), S_IFCHR | 0000, makedev(0, 0)) != 0) {
          return Status::FromErrno(errno, "mknod whiteout", target);
        }
      }
      continue;
    }
    if (rel->empty()) continue;  // the root itself keeps dest's attributes
    archive_entry_set_pathname(entry, (dest + "/" + *rel).c_str());
    if (const char* link = archive_entry_hardlink(entry); link != nullptr) {
      std::optional<std::string> lrel = CleanPath(link);
      if (!lrel || lrel->empty()) {
        return Status::Invalid("layer " + blob_path + ": hard link target \"" + link +
                               "\" escapes the root");
      }
      archive_entry_set_hardlink(entry, (dest + "/" + *lrel).c_str());
    }
    r = archive_write_header(out.get(), entry);
    if (r < ARCHIVE_WARN) {
      return Status::Internal("layer " + blob_path + ": " + *rel + ": " +
                              archive_error_string(out.get()));
    }
    if (archive_entry_size(entry) > 0 && r >= ARCHIVE_WARN) {
      const void* block;
      size_t size;
      la_int64_t offset;
      while ((r = archive_read_data_block(in.get(), &block, &size, &offset)) == ARCHIVE_OK) {
        if (archive_write_data_block(out.get(), block, size, offset) < ARCHIVE_OK) {
          return Status::Internal("layer " + blob_path + ": writing " + *rel + ": " +
                                  archive_error_string(out.get()));
        }
      }
      if (r != ARCHIVE_EOF) {
        return Status::Invalid("layer " + blob_path + ": reading " + *rel + ": " +
                               archive_error_string(in.get()));
      }
    }
    if (archive_write_finish_entry(out.get()) < ARCHIVE_WARN) {
      return Status::Internal("layer " + blob_path + ": " + *rel + ": " +
                              archive_error_string(out.get()));
    }
  }
  // Drain what follows the tar end marker so the diff ID covers the whole stream.
  const void* buf;
  while (ChainRead(in.get(), &chain, &buf) > 0) {
  }
  if (archive_write_close(out.get()) != ARCHIVE_OK) {
    return Status::Internal("layer " + blob_path + ": " + archive_error_string(out.get()));
  }
  return HexDigest(md.get());
}

}  // namespace mini8s::image

namespace mini8s::image {

// Extracts a (possibly compressed) tar of plain files, as an import archive is, into `dest`.
Status ExtractArchive(const std::string& path, const std::string& dest_in) {
  std::error_code ec;
  std::string dest = fs::canonical(dest_in, ec).string();
  if (ec) return Status::FromErrno(ec.value(), "extract: resolve", dest_in);
  std::unique_ptr<archive, ReadFree> in(archive_read_new());
  archive_read_support_filter_all(in.get());
  archive_read_support_format_tar(in.get());
  archive_read_support_format_gnutar(in.get());
  if (archive_read_open_filename(in.get(), path.c_str(), 1 << 16) != ARCHIVE_OK) {
    return Status::Invalid(path + ": " + archive_error_string(in.get()));
  }
  std::unique_ptr<archive, WriteFree> out(archive_write_disk_new());
  archive_write_disk_set_options(out.get(),
                                 ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS);
  while (true) {
    archive_entry* entry = nullptr;
    int r = archive_read_next_header(in.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      return Status::Invalid(path + " is not an image archive: " + archive_error_string(in.get()));
    }
    std::optional<std::string> rel = CleanPath(archive_entry_pathname(entry));
    if (!rel) return Status::Invalid(path + ": entry escapes the archive root");
    if (rel->empty()) continue;
    // Only directories and regular files matter in an image archive.
    mode_t type = archive_entry_filetype(entry);
    if (type != AE_IFREG && type != AE_IFDIR) continue;
    if (archive_entry_hardlink(entry) != nullptr) continue;
    archive_entry_set_pathname(entry, (dest + "/" + *rel).c_str());
    archive_entry_set_perm(entry, type == AE_IFDIR ? 0755 : 0644);
    if (archive_write_header(out.get(), entry) < ARCHIVE_WARN) {
      return Status::Internal(path + ": " + archive_error_string(out.get()));
    }
    const void* block;
    size_t size;
    la_int64_t offset;
    while ((r = archive_read_data_block(in.get(), &block, &size, &offset)) == ARCHIVE_OK) {
      if (archive_write_data_block(out.get(), block, size, offset) < ARCHIVE_OK) {
        return Status::Internal(path + ": " + archive_error_string(out.get()));
      }
    }
    if (r != ARCHIVE_EOF) return Status::Invalid(path + ": " + archive_error_string(in.get()));
    archive_write_finish_entry(out.get());
  }
  return Status::OK();
}

}  // namespace mini8s::image
