# SPDX-License-Identifier: MIT
# smtp_symbols_test(TEST LIBRARY [LINK...]): the test TEST checks that every symbol LIBRARY
# exports begins with smtp_ and none collides with libESMTP's (tests/symbols.sh). A static
# build is linked whole into a throwaway shared object (with LINK, the libraries it needs), so
# that nm sees what a shared build would export.
function(smtp_symbols_test test library)
  if(BUILD_SHARED_LIBS)
    set(lib $<TARGET_FILE:${library}>)
  else()
    add_library(${library}_symcheck SHARED ${PROJECT_SOURCE_DIR}/tests/symcheck.c)
    target_link_libraries(${library}_symcheck PRIVATE
      -Wl,--whole-archive ${library} -Wl,--no-whole-archive ${ARGN})
    set(lib $<TARGET_FILE:${library}_symcheck>)
  endif()
  add_test(NAME ${test} COMMAND sh ${PROJECT_SOURCE_DIR}/tests/symbols.sh ${lib}
    ${PROJECT_SOURCE_DIR}/tests/libesmtp6.syms)
endfunction()
