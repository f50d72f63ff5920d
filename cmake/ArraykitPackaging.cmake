# Install rules of the library, its CMake package, pkg-config file and schemas, and the Debian
# packages `cpack -G DEB` builds from them (docs/install.md). Included at the end of the root
# CMakeLists.txt; arrayctl and the Python module install themselves in their own directories.
#
# Install components, one Debian package each:
#   runtime  libarraykit<ABI>   libarraykit.so.<ABI> and its versioned file
#   dev      libarraykit-dev    headers, libarraykit.so, CMake package, arraykit.pc, JSON Schemas
#   python   python3-arraykit   the module `arraykit` (ARRAYKIT_BUILD_PYTHON)
#   tools    arraykit-tools     arrayctl (ARRAYKIT_BUILD_EXAMPLES)
include(CMakePackageConfigHelpers)

install(TARGETS arraykit EXPORT arraykitTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime   # Windows: the DLL
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev       # Windows: its import library
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/arraykit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)

# CMake package: find_package(arraykit 1) accepts any 1.x (the major version is the ABI).
install(EXPORT arraykitTargets NAMESPACE arraykit::
        DESTINATION ${ARRAYKIT_CMAKE_INSTALL_DIR} COMPONENT dev)
configure_package_config_file(cmake/arraykitConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/arraykitConfig.cmake
  INSTALL_DESTINATION ${ARRAYKIT_CMAKE_INSTALL_DIR}
  PATH_VARS ARRAYKIT_SCHEMA_INSTALL_DIR)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/arraykitConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/arraykitConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/arraykitConfigVersion.cmake
        DESTINATION ${ARRAYKIT_CMAKE_INSTALL_DIR} COMPONENT dev)

# pkg-config: the prefix is computed from the .pc file's own directory, so the file stays right
# wherever the tree is installed, moved or unpacked.
arraykit_relative_path(ARRAYKIT_PC_TO_PREFIX "${ARRAYKIT_PKGCONFIG_INSTALL_DIR}" ".")
configure_file(cmake/arraykit.pc.in ${CMAKE_CURRENT_BINARY_DIR}/arraykit.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/arraykit.pc
        DESTINATION ${ARRAYKIT_PKGCONFIG_INSTALL_DIR} COMPONENT dev)

# The JSON Schemas of the documents arraykit reads.
install(DIRECTORY docs/schemas/ DESTINATION ${ARRAYKIT_SCHEMA_INSTALL_DIR} COMPONENT dev
        FILES_MATCHING PATTERN "*.schema.json")

# ---- Debian packages: cpack -G DEB (from the build directory) ------------------------------
set(ARRAYKIT_DEB_MAINTAINER
    "arraykit maintainers <maintainers@users.noreply.h-seed-98586798.example>" CACHE STRING "Maintainer field of the Debian packages")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME arraykit)
set(CPACK_PACKAGE_VENDOR arraykit)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
if(ARRAYKIT_BUILD_PYTHON)
  list(APPEND CPACK_COMPONENTS_ALL python)
endif()
if(ARRAYKIT_BUILD_EXAMPLES)
  list(APPEND CPACK_COMPONENTS_ALL tools)
endif()

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${ARRAYKIT_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies (libssl3, Abseil, libstdc++ ...) come from dpkg-shlibdeps; the packages'
# dependencies on each other from the component graph below (exact version).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# dpkg-shlibdeps finds libarraykit.so.1 in the build tree (it is in no installed package yet);
# the dependency on libarraykit1 comes from the component graph.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR}/lib/capi)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
# A shlibs file in libarraykit1, so packages built against it get "libarraykit1 (>= 1.0.0)".
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
# Debian ships stripped binaries; the build tree keeps its debug information.
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libarraykit${ARRAYKIT_ABI_VERSION})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION
    "arraykit C ABI library (libarraykit.so.${ARRAYKIT_ABI_VERSION})
Placement rules, a private certificate authority and the failover state machine of an
appliance array, behind a stable C ABI.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libarraykit-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_DESCRIPTION "arraykit development files
Headers, the CMake package (find_package(arraykit ${PROJECT_VERSION_MAJOR})), arraykit.pc
and the JSON Schemas of arraykit's documents.")

set(CPACK_DEBIAN_PYTHON_PACKAGE_NAME python3-arraykit)
set(CPACK_DEBIAN_PYTHON_PACKAGE_SECTION python)
set(CPACK_DEBIAN_PYTHON_DESCRIPTION "arraykit Python module
The module `arraykit` over the arraykit C ABI, for Debian's python3.")

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME arraykit-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_TOOLS_DESCRIPTION "arraykit operator tools
arrayctl: placement checks and plans, the private CA, failover simulations.")

if(ARRAYKIT_BUILD_PYTHON)
  # The extension module is built for one CPython minor version (its file name carries the tag);
  # ARRAYKIT_PYTHON_VERSION ("3.11") comes from bindings/python.
  string(REPLACE "." ";" python_version "${ARRAYKIT_PYTHON_VERSION}")
  list(GET python_version 0 python_major)
  list(GET python_version 1 python_minor)
  math(EXPR python_next_minor "${python_minor} + 1")
  set(CPACK_DEBIAN_PYTHON_PACKAGE_DEPENDS "python3 (>= ${python_major}.${python_minor}), \
python3 (<< ${python_major}.${python_next_minor})")
endif()

include(CPack)
cpack_add_component(runtime DISPLAY_NAME "arraykit library")
cpack_add_component(dev DISPLAY_NAME "arraykit development files" DEPENDS runtime)
cpack_add_component(python DISPLAY_NAME "arraykit Python module" DEPENDS runtime)
cpack_add_component(tools DISPLAY_NAME "arrayctl" DEPENDS runtime)
