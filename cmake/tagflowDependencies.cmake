# Finds tagflow's dependencies. Shared by the build and by the installed tagflowConfig.cmake,
# so that a consumer re-finds exactly what the library was built against.
include(CMakeFindDependencyMacro OPTIONAL)
include(GNUInstallDirs)

find_package(Boost 1.81 REQUIRED COMPONENTS json)
find_package(SQLite3 REQUIRED)
find_package(fmt REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(roaring REQUIRED)
find_package(date REQUIRED)
if(TAGFLOW_BUILD_CLI)
  find_package(CLI11 REQUIRED)
endif()

# utf8proc ships a pkg-config file on Debian but no CMake package.
if(NOT TARGET tagflow_utf8proc)
  find_path(TAGFLOW_UTF8PROC_INCLUDE_DIR utf8proc.h)
  find_library(TAGFLOW_UTF8PROC_LIBRARY NAMES utf8proc)
  if(NOT TAGFLOW_UTF8PROC_INCLUDE_DIR OR NOT TAGFLOW_UTF8PROC_LIBRARY)
    message(FATAL_ERROR "utf8proc not found (Debian: apt-get install libutf8proc-dev)")
  endif()
  add_library(tagflow_utf8proc INTERFACE IMPORTED)
  set_target_properties(tagflow_utf8proc PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${TAGFLOW_UTF8PROC_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${TAGFLOW_UTF8PROC_LIBRARY}")
endif()
