# Install/export rules for kjit as a package: headers, libkjit.so, the tools
# and lib/cmake/kjit/{kjitConfig,kjitConfigVersion,kjitTargets}.cmake.
# Included at the end of the top-level CMakeLists.txt, once every target
# exists. The runtime and tool folders install their own targets into the
# kjitTargets export set.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(KJIT_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/kjit)

# kjit-opt belongs to the compiler side; install it here so that its folder
# needs no knowledge of the package layout.
if(TARGET kjit-opt)
  set_target_properties(kjit-opt PROPERTIES
    INSTALL_RPATH "\$ORIGIN/../${CMAKE_INSTALL_LIBDIR};${LLVM_LIBRARY_DIR}")
  install(TARGETS kjit-opt RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

install(EXPORT kjitTargets
  NAMESPACE kjit::
  FILE kjitTargets.cmake
  DESTINATION ${KJIT_INSTALL_CMAKEDIR})
configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/kjitConfig.cmake.in
  ${PROJECT_BINARY_DIR}/kjitConfig.cmake
  INSTALL_DESTINATION ${KJIT_INSTALL_CMAKEDIR})
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/kjitConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/kjitConfig.cmake
  ${PROJECT_BINARY_DIR}/kjitConfigVersion.cmake
  DESTINATION ${KJIT_INSTALL_CMAKEDIR})
