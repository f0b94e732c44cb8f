# SPDX-License-Identifier: MIT
# Installation, included by the top-level CMakeLists once every target exists. The layout is
# GNUInstallDirs' under CMAKE_INSTALL_PREFIX, or under the prefix given to `cmake --install
# --prefix` (and DESTDIR): nothing installed names the prefix, so the tree works wherever it is
# put. Three components, each a library, a CMake export set and a pkg-config file:
#
#   component  library   target      export set (lib/cmake/smtp/)  pkg-config
#   (core)     smtp      smtp::smtp  smtpTargets.cmake             smtp
#   io         smtp_io   smtp::io    smtpIoTargets.cmake           smtp-io (Requires: smtp)
#   tls        smtp_tls  smtp::tls   smtpTlsTargets.cmake          smtp-tls (Requires: smtp-io)
#
# tls is installed only when the mbedTLS adapter was built; smtpConfig.cmake (from
# cmake/smtpConfig.cmake.in) tells a consumer that asks for a missing component why.
include(CMakePackageConfigHelpers)
set(SMTP_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/smtp)

# Relocatable pkg-config files: prefix is found from the .pc file's own directory
# (${pcfiledir}, which pkg-config and pkgconf both define), e.g. ${pcfiledir}/../.. for
# lib/pkgconfig and ${pcfiledir}/../../.. for lib/x86_64-linux-gnu/pkgconfig. An absolute
# libdir or includedir cannot move with the prefix, so then the files name the paths as given.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(SMTP_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(SMTP_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
  set(SMTP_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
else()
  file(RELATIVE_PATH SMTP_PC_UP "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
  string(REGEX REPLACE "/$" "" SMTP_PC_UP "${SMTP_PC_UP}")
  set(SMTP_PC_PREFIX "\${pcfiledir}/${SMTP_PC_UP}")
  set(SMTP_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(SMTP_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
# A static library's consumers define SMTP_STATIC, as smtp::smtp's usage requirements do
# (include/smtp/common.h: it matters on Windows only).
set(SMTP_PC_CFLAGS "-I\${includedir}")
if(NOT BUILD_SHARED_LIBS)
  string(APPEND SMTP_PC_CFLAGS " -DSMTP_STATIC")
endif()

# smtp_install_component(TARGET EXPORT PC): the library, its export set and its .pc file.
function(smtp_install_component target export pc)
  install(TARGETS ${target} EXPORT ${export}
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
          RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
          INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(EXPORT ${export} NAMESPACE smtp:: DESTINATION ${SMTP_CMAKE_DIR})
  configure_file(${PROJECT_SOURCE_DIR}/cmake/${pc}.pc.in ${PROJECT_BINARY_DIR}/pkgconfig/${pc}.pc
                 @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/${pc}.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endfunction()

# Headers: the core's always, <smtp/io.h> and <smtp/tls.h> with their libraries.
set(SMTP_HEADERS_LEFT_OUT)
if(NOT TARGET smtp_io)
  list(APPEND SMTP_HEADERS_LEFT_OUT PATTERN io.h EXCLUDE)
endif()
if(NOT TARGET smtp_tls)
  list(APPEND SMTP_HEADERS_LEFT_OUT PATTERN tls.h EXCLUDE)
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/smtp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h" ${SMTP_HEADERS_LEFT_OUT})
install(FILES ${PROJECT_BINARY_DIR}/include/smtp/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/smtp)

smtp_install_component(smtp smtpTargets smtp)
if(TARGET smtp_io)
  smtp_install_component(smtp_io smtpIoTargets smtp-io)
endif()

# mbedTLS as smtp_tls links it: -L (outside the compiler's own directories) and -l flags for
# smtp-tls.pc, and the directories smtpConfig.cmake searches first. A shared libsmtp_tls records
# mbedTLS itself, so the .pc lists it in Libs.private (for `pkg-config --static`); a static
# build installs only libsmtp_tls.a, which every consumer's link must follow with mbedTLS, so
# the .pc lists it in Libs. An mbedTLS outside the system's directories (unpacked privately,
# as .ci/mbedtls3.sh does) stays in the run path of the installed shared library and programs:
# SMTP_MBEDTLS_RPATH, empty for Debian's libmbedtls-dev.
set(SMTP_PC_MBEDTLS)
set(SMTP_MBEDTLS_HINTS)
set(SMTP_MBEDTLS_RPATH)
if(TARGET smtp_tls)
  foreach(lib ${SMTP_MBEDTLS_LIBRARY} ${SMTP_MBEDX509_LIBRARY} ${SMTP_MBEDCRYPTO_LIBRARY})
    get_filename_component(dir "${lib}" DIRECTORY)
    get_filename_component(name "${lib}" NAME_WE)
    string(REGEX REPLACE "^lib" "" name "${name}")
    if(NOT dir IN_LIST SMTP_MBEDTLS_HINTS)
      list(APPEND SMTP_MBEDTLS_HINTS "${dir}")
      if(NOT dir IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
        string(APPEND SMTP_PC_MBEDTLS " -L${dir}")
        list(APPEND SMTP_MBEDTLS_RPATH "${dir}")
      endif()
    endif()
    string(APPEND SMTP_PC_MBEDTLS " -l${name}")
  endforeach()
  if(BUILD_SHARED_LIBS)
    set(SMTP_PC_TLS_LIBS "")
    set(SMTP_PC_TLS_LIBS_PRIVATE "${SMTP_PC_MBEDTLS}")
    set_target_properties(smtp_tls PROPERTIES INSTALL_RPATH "${SMTP_MBEDTLS_RPATH}")
  else()
    set(SMTP_PC_TLS_LIBS "${SMTP_PC_MBEDTLS}")
    set(SMTP_PC_TLS_LIBS_PRIVATE "")
  endif()
  smtp_install_component(smtp_tls smtpTlsTargets smtp-tls)
endif()

# find_package(smtp CONFIG [COMPONENTS io tls]).
if(BUILD_SHARED_LIBS)
  set(SMTP_CONFIG_STATIC OFF)
else()
  set(SMTP_CONFIG_STATIC ON)
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/smtpConfig.cmake.in
  ${PROJECT_BINARY_DIR}/smtpConfig.cmake INSTALL_DESTINATION ${SMTP_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/smtpConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/smtpConfig.cmake ${PROJECT_BINARY_DIR}/smtpConfigVersion.cmake
        DESTINATION ${SMTP_CMAKE_DIR})

# The programs (with their man pages) when they were built. A shared build finds its libraries
# relative to the program ($ORIGIN), so an installed tree runs from any prefix; a private
# mbedTLS stays in the run path, as above.
if(TARGET smtp-send AND TARGET smtp-sink)
  set(SMTP_PROGRAMS smtp-send smtp-sink)
  if(TARGET mail-send)
    list(APPEND SMTP_PROGRAMS mail-send)
  endif()
  set(SMTP_PROGRAMS_RPATH ${SMTP_MBEDTLS_RPATH})
  if(BUILD_SHARED_LIBS AND NOT IS_ABSOLUTE "${CMAKE_INSTALL_BINDIR}"
     AND NOT IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
    file(RELATIVE_PATH SMTP_BIN_TO_LIB "/${CMAKE_INSTALL_BINDIR}" "/${CMAKE_INSTALL_LIBDIR}")
    list(PREPEND SMTP_PROGRAMS_RPATH "\$ORIGIN/${SMTP_BIN_TO_LIB}")
  endif()
  set_target_properties(${SMTP_PROGRAMS} PROPERTIES INSTALL_RPATH "${SMTP_PROGRAMS_RPATH}")
  install(TARGETS ${SMTP_PROGRAMS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(FILES ${PROJECT_SOURCE_DIR}/docs/smtp-send.1 ${PROJECT_SOURCE_DIR}/docs/smtp-sink.1
          DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endif()

# The API reference's section-3 man pages (cmake/docs.cmake), when `make docs` built them before
# the install: the optional component docs.
install(DIRECTORY ${SMTP_DOCS_DIR}/man/man3/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man3
        COMPONENT docs OPTIONAL)

install(FILES ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/README.md
        ${PROJECT_SOURCE_DIR}/CHANGELOG.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
