# Helpers that give every module and test binary the same flags and include roots (STYLE §3.10).

function(mini8s_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wimplicit-fallthrough)
  if(MINI8S_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# mini8s_module(NAME store SOURCES a.cpp b.cpp DEPS mini8s_common SQLite::SQLite3)
# Creates the static library mini8s_<NAME>. include/ and src/ are the include roots.
function(mini8s_module)
  cmake_parse_arguments(M "" "NAME" "SOURCES;DEPS" ${ARGN})
  add_library(mini8s_${M_NAME} STATIC ${M_SOURCES})
  mini8s_warnings(mini8s_${M_NAME})
  target_include_directories(mini8s_${M_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/include
                                                     ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(mini8s_${M_NAME} PUBLIC ${M_DEPS})
endfunction()

# mini8s_tests(NAME store KIND unit SOURCES x_test.cpp DEPS mini8s_store)
# One Catch2 binary per module and kind; every TEST_CASE becomes a CTest test labelled KIND.
# Root tests exit 77 when they cannot run (crun's convention) and run serially.
function(mini8s_tests)
  cmake_parse_arguments(T "" "NAME;KIND;TIMEOUT" "SOURCES;DEPS" ${ARGN})
  if(NOT T_KIND)
    set(T_KIND unit)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  set(target mini8s_${T_NAME}_${T_KIND}_tests)
  add_executable(${target} ${T_SOURCES})
  mini8s_warnings(${target})
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/include
                                               ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/test)
  target_link_libraries(${target} PRIVATE ${T_DEPS} mini8s_testutil Catch2::Catch2WithMain)
  set(props LABELS ${T_KIND} TIMEOUT ${T_TIMEOUT})
  if(T_KIND STREQUAL "root")
    list(APPEND props SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
  endif()
  catch_discover_tests(${target} TEST_PREFIX "${T_NAME}: " PROPERTIES ${props})
endfunction()
