# SPDX-License-Identifier: MIT
# Installation, included by the top-level CMakeLists once every target exists. The layout is
# GNUInstallDirs' under CMAKE_INSTALL_PREFIX, or under the prefix given to `cmake --install
# --prefix` (and DESTDIR): nothing installed names the prefix, so the tree works wherever it is
# put. Four components, each a library, a CMake export set and a pkg-config file:
#
#   component  library   target      export set (lib/cmake/smtp/)  pkg-config
#   (core)     smtp      smtp::smtp  smtpTargets.cmake             smtp
#   io         smtp_io   smtp::io    smtpIoTargets.cmake           smtp-io (Requires: smtp)
#   tls        smtp_tls  smtp::tls   smtpTlsTargets.cmake          smtp-tls (Requires: smtp-io)
#   idn        smtp_idn  smtp::idn   smtpIdnTargets.cmake          smtp-idn (Requires: smtp)
#
# tls is installed only when the mbedTLS adapter was built, idn only when libidn2 was found;
# smtpConfig.cmake (from cmake/smtpConfig.cmake.in) tells a consumer that asks for a missing
# component why.
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

# smtp_install_linked(TARGET EXPORT PC VAR LIB...): smtp_install_component for a component that
# links libraries from outside libsmtp privately (mbedTLS, libidn2). LIB... (full paths, as
# find_library gives them) become -L (outside the compiler's own directories) and -l flags in
# its .pc file: in Libs.private when TARGET is shared, as it records them itself (for
# `pkg-config --static`), in Libs when TARGET is only a static archive, which every consumer's
# link must follow with them (@SMTP_PC_LIBS@, @SMTP_PC_LIBS_PRIVATE@). VAR_HINTS receives their
# directories, which smtpConfig.cmake searches first, and VAR_RPATH those outside the compiler's
# own: a library unpacked privately (as .ci/mbedtls3.sh does) stays in the run path of the
# installed shared library and programs; empty for Debian's packages.
function(smtp_install_linked target export pc var)
  set(flags)
  set(hints)
  set(rpath)
  foreach(lib ${ARGN})
    get_filename_component(dir "${lib}" DIRECTORY)
    get_filename_component(name "${lib}" NAME_WE)
    string(REGEX REPLACE "^lib" "" name "${name}")
    if(NOT dir IN_LIST hints)
      list(APPEND hints "${dir}")
      if(NOT dir IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
        string(APPEND flags " -L${dir}")
        list(APPEND rpath "${dir}")
      endif()
    endif()
    string(APPEND flags " -l${name}")
  endforeach()
  if(BUILD_SHARED_LIBS)
    set(SMTP_PC_LIBS "")
    set(SMTP_PC_LIBS_PRIVATE "${flags}")
    set_target_properties(${target} PROPERTIES INSTALL_RPATH "${rpath}")
  else()
    set(SMTP_PC_LIBS "${flags}")
    set(SMTP_PC_LIBS_PRIVATE "")
  endif()
  smtp_install_component(${target} ${export} ${pc})
  set(${var}_HINTS "${hints}" PARENT_SCOPE)
  set(${var}_RPATH "${rpath}" PARENT_SCOPE)
endfunction()

# Headers: the core's always, <smtp/io.h>, <smtp/tls.h> and <smtp/idn.h> with their libraries.
set(SMTP_HEADERS_LEFT_OUT)
if(NOT TARGET smtp_io)
  list(APPEND SMTP_HEADERS_LEFT_OUT PATTERN io.h EXCLUDE)
endif()
if(NOT TARGET smtp_tls)
  list(APPEND SMTP_HEADERS_LEFT_OUT PATTERN tls.h EXCLUDE)
endif()
if(NOT TARGET smtp_idn)
  list(APPEND SMTP_HEADERS_LEFT_OUT PATTERN idn.h EXCLUDE)
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/smtp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h" ${SMTP_HEADERS_LEFT_OUT})
install(FILES ${PROJECT_BINARY_DIR}/include/smtp/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/smtp)

smtp_install_component(smtp smtpTargets smtp)
if(TARGET smtp_io)
  smtp_install_component(smtp_io smtpIoTargets smtp-io)
endif()

# The components over other libraries: tls over mbedTLS, idn over libidn2.
set(SMTP_MBEDTLS_HINTS)
set(SMTP_MBEDTLS_RPATH)
if(TARGET smtp_tls)
  smtp_install_linked(smtp_tls smtpTlsTargets smtp-tls SMTP_MBEDTLS ${SMTP_MBEDTLS_LIBRARY}
                      ${SMTP_MBEDX509_LIBRARY} ${SMTP_MBEDCRYPTO_LIBRARY})
endif()
set(SMTP_IDN2_HINTS)
set(SMTP_IDN2_RPATH)
if(TARGET smtp_idn)
  smtp_install_linked(smtp_idn smtpIdnTargets smtp-idn SMTP_IDN2 ${SMTP_IDN2_LIBRARY})
endif()

# find_package(smtp CONFIG [COMPONENTS io tls idn]).
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
# mbedTLS or libidn2 stays in the run path, as above.
if(TARGET smtp-send AND TARGET smtp-sink)
  set(SMTP_PROGRAMS smtp-send smtp-sink smtp-proxy)
  if(TARGET mail-send)
    list(APPEND SMTP_PROGRAMS mail-send)
  endif()
  set(SMTP_PROGRAMS_RPATH ${SMTP_MBEDTLS_RPATH} ${SMTP_IDN2_RPATH})
  if(BUILD_SHARED_LIBS AND NOT IS_ABSOLUTE "${CMAKE_INSTALL_BINDIR}"
     AND NOT IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
    file(RELATIVE_PATH SMTP_BIN_TO_LIB "/${CMAKE_INSTALL_BINDIR}" "/${CMAKE_INSTALL_LIBDIR}")
    list(PREPEND SMTP_PROGRAMS_RPATH "\$ORIGIN/${SMTP_BIN_TO_LIB}")
  endif()
  set_target_properties(${SMTP_PROGRAMS} PROPERTIES INSTALL_RPATH "${SMTP_PROGRAMS_RPATH}")
  install(TARGETS ${SMTP_PROGRAMS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(FILES ${PROJECT_SOURCE_DIR}/docs/smtp-send.1 ${PROJECT_SOURCE_DIR}/docs/smtp-sink.1
          ${PROJECT_SOURCE_DIR}/docs/smtp-proxy.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endif()

# The API reference's section-3 man pages (cmake/docs.cmake), when `make docs` built them before
# the install: the optional component docs.
install(DIRECTORY ${SMTP_DOCS_DIR}/man/man3/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man3
        COMPONENT docs OPTIONAL)

install(FILES ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/README.md
        ${PROJECT_SOURCE_DIR}/CHANGELOG.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
