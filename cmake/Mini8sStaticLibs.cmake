# MINI8S_STATIC_LIBS: link libstdc++, libgcc and the third-party libraries statically, so that a
# `mini8s` process does not spend its start-up in the dynamic loader and does not dirty the
# relocated data of a dozen shared libraries it mostly never calls. Every `mini8s runtime` call
# and every pod supervisor pays the binary's start-up (docs/design/runtime.md, "Speed" and
# "Memory"). Each library falls back to the shared one when its archive is not installed.
#
# mini8s_static_libs_before_find()  before the find_package() calls (turns it off under ASan)
# mini8s_static_libs_after_find()   after them
# mini8s_static_libs_finalize()     after the modules (targets made in subdirectories)

macro(mini8s_static_libs_before_find)
  if(MINI8S_SANITIZE)
    # ASan wants the shared C++ runtime; sanitizer builds are not measured anyway.
    set(MINI8S_STATIC_LIBS OFF)
  endif()
endmacro()

# The archive of `name` (libNAME.a), else the shared library, else the bare name.
function(mini8s_prefer_static out name)
  find_library(MINI8S_STATIC_${name} NAMES lib${name}.a)
  if(MINI8S_STATIC_${name})
    set(${out} ${MINI8S_STATIC_${name}} PARENT_SCOPE)
    return()
  endif()
  # Runtime-only packages (no -dev) still have the versioned shared object.
  find_library(MINI8S_SHARED_${name} NAMES ${name} lib${name}.so.1 lib${name}.so.2)
  if(MINI8S_SHARED_${name})
    set(${out} ${MINI8S_SHARED_${name}} PARENT_SCOPE)
  else()
    set(${out} ${name} PARENT_SCOPE)
  endif()
endfunction()

# Points an imported shared-library target at its archive, when installed. The target keeps its
# compile definitions (Boost's *_DYN_LINK only selects symbol visibility on GCC), so switching
# the option does not recompile anything.
function(mini8s_use_archive target archive)
  find_library(MINI8S_ARCHIVE_${archive} NAMES ${archive})
  if(NOT MINI8S_ARCHIVE_${archive} OR NOT TARGET ${target})
    return()
  endif()
  get_target_property(configs ${target} IMPORTED_CONFIGURATIONS)
  set_target_properties(${target} PROPERTIES IMPORTED_LOCATION ${MINI8S_ARCHIVE_${archive}})
  foreach(cfg IN LISTS configs)
    set_target_properties(${target} PROPERTIES IMPORTED_LOCATION_${cfg}
                                               ${MINI8S_ARCHIVE_${archive}})
  endforeach()
endfunction()

macro(mini8s_static_libs_after_find)
  if(MINI8S_STATIC_LIBS)
    mini8s_use_archive(yaml-cpp libyaml-cpp.a)
    mini8s_use_archive(Boost::json libboost_json.a)
    mini8s_use_archive(Boost::url libboost_url.a)
    mini8s_use_archive(Boost::container libboost_container.a)
    # glibc 2.34+ has dlopen and pthreads in libc: the archives need nothing more.
    mini8s_use_archive(OpenSSL::SSL libssl.a)
    mini8s_use_archive(OpenSSL::Crypto libcrypto.a)
    mini8s_use_archive(SQLite::SQLite3 libsqlite3.a)
    add_link_options(-static-libstdc++ -static-libgcc)
  endif()
  # A PIE carries ~40 000 relative relocations (vtables, typeinfo, string tables): every process
  # applies them at start-up and so dirties 0.6 MiB of .data.rel.ro it mostly never reads. Linked
  # at a fixed address that work and memory are gone: `mini8s version` 20% less CPU, 145 fewer
  # page faults; a pod supervisor's private memory 0.9 -> 0.26 MiB (docs/design/runtime.md).
  # The cost is ASLR of the executable image itself (libraries, heap, stacks and mmaps stay
  # randomized), as for Debian's runc and most Go binaries. -DMINI8S_PIE=ON restores it.
  option(MINI8S_PIE "Link executables as position-independent (ASLR for the image)" OFF)
  if(NOT MINI8S_PIE AND NOT MINI8S_SANITIZE)
    add_link_options(-no-pie)
  endif()
endmacro()

macro(mini8s_static_libs_finalize)
  if(MINI8S_STATIC_LIBS AND TARGET PkgConfig::ARCHIVE)
    # libarchive.a needs its private dependencies (pkg-config --static libarchive).
    set(_mini8s_archive_libs)
    foreach(_lib archive nettle acl lzma zstd lz4 bz2 z)
      mini8s_prefer_static(_path ${_lib})
      list(APPEND _mini8s_archive_libs ${_path})
    endforeach()
    # Shared: a static libxml2 would drag in ICU's 30 MB of data (only the xar reader uses it).
    list(APPEND _mini8s_archive_libs xml2)
    if(MINI8S_STATIC_archive)
      set_target_properties(PkgConfig::ARCHIVE PROPERTIES
                            INTERFACE_LINK_LIBRARIES "${_mini8s_archive_libs}")
    endif()
  endif()
endmacro()
