# SPDX-License-Identifier: MIT
# The API reference (`make docs`, the target `docs`): doxygen reads the public headers and
# docs/index.md (docs/Doxyfile) and writes HTML, section-3 man pages and XML into docs/ of the
# build tree; any doxygen warning (an undocumented public symbol, a bad link) fails the build
# (WARN_AS_ERROR). docs/man3.py then writes one man page per public function from the XML.
# cmake/install.cmake installs the man pages when they were built.
find_program(SMTP_DOXYGEN doxygen)
find_package(Python3 COMPONENTS Interpreter QUIET)
set(SMTP_DOCS_DIR ${PROJECT_BINARY_DIR}/docs)
if(SMTP_DOXYGEN AND Python3_Interpreter_FOUND)
  add_custom_target(docs
    COMMAND ${CMAKE_COMMAND} -E remove_directory ${SMTP_DOCS_DIR}/html
    COMMAND ${CMAKE_COMMAND} -E remove_directory ${SMTP_DOCS_DIR}/man
    COMMAND ${CMAKE_COMMAND} -E remove_directory ${SMTP_DOCS_DIR}/xml
    COMMAND ${CMAKE_COMMAND} -E make_directory ${SMTP_DOCS_DIR}
    COMMAND ${CMAKE_COMMAND} -E env SMTP_SOURCE_DIR=${PROJECT_SOURCE_DIR}
            SMTP_BINARY_DIR=${PROJECT_BINARY_DIR} SMTP_DOCS_DIR=${SMTP_DOCS_DIR}
            SMTP_VERSION=${PROJECT_VERSION} ${SMTP_DOXYGEN} ${PROJECT_SOURCE_DIR}/docs/Doxyfile
    COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/docs/man3.py ${SMTP_DOCS_DIR}/xml
            ${SMTP_DOCS_DIR}/man/man3 ${PROJECT_VERSION}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    COMMENT "API reference: doxygen (warnings are errors), HTML and man3 in ${SMTP_DOCS_DIR}"
    VERBATIM)
else()
  set(SMTP_DOCS_MISSING)
  if(NOT SMTP_DOXYGEN)
    list(APPEND SMTP_DOCS_MISSING "doxygen (Debian package doxygen)")
  endif()
  if(NOT Python3_Interpreter_FOUND)
    list(APPEND SMTP_DOCS_MISSING "python3 (Debian package python3)")
  endif()
  list(JOIN SMTP_DOCS_MISSING " and " SMTP_DOCS_MISSING)
  message(STATUS "API reference (make docs): off, needs ${SMTP_DOCS_MISSING}")
  add_custom_target(docs
    COMMAND ${CMAKE_COMMAND} -E echo "make docs needs ${SMTP_DOCS_MISSING}"
    COMMAND ${CMAKE_COMMAND} -E false
    VERBATIM)
endif()
