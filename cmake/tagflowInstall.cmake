include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(TAGFLOW_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/tagflow")

install(TARGETS tagflow EXPORT tagflowTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/tagflow DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET tagflow_cli)
  install(TARGETS tagflow_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

install(EXPORT tagflowTargets NAMESPACE tagflow:: DESTINATION ${TAGFLOW_CMAKE_DIR})
configure_package_config_file(
  ${CMAKE_CURRENT_SOURCE_DIR}/cmake/tagflowConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/tagflowConfig.cmake
  INSTALL_DESTINATION ${TAGFLOW_CMAKE_DIR})
write_basic_package_version_file(
  ${CMAKE_CURRENT_BINARY_DIR}/tagflowConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/tagflowConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/tagflowConfigVersion.cmake
  ${CMAKE_CURRENT_SOURCE_DIR}/cmake/tagflowDependencies.cmake
  DESTINATION ${TAGFLOW_CMAKE_DIR})
