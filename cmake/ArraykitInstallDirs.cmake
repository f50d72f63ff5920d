# Where an installed arraykit puts its pieces, relative to CMAKE_INSTALL_PREFIX (docs/install.md).
# Everything installed finds everything else relative to its own location, so a prefix can be
# installed with `cmake --install --prefix X`, moved, or unpacked from the Debian packages.
include(GNUInstallDirs)

# The Python module goes where Debian's /usr/bin/python3 looks when the prefix is /usr
# (/usr/lib/python3/dist-packages); for another prefix, put PREFIX/<this dir> on PYTHONPATH.
set(ARRAYKIT_PYTHON_INSTALL_DIR "lib/python3/dist-packages" CACHE STRING
    "Install directory of the Python module, relative to the prefix")
# JSON Schemas of the documents (docs/schemas/).
set(ARRAYKIT_SCHEMA_INSTALL_DIR "${CMAKE_INSTALL_DATADIR}/arraykit/schemas" CACHE STRING
    "Install directory of the JSON Schema files, relative to the prefix")
foreach(dir IN ITEMS CMAKE_INSTALL_BINDIR CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR
                    CMAKE_INSTALL_DATADIR ARRAYKIT_PYTHON_INSTALL_DIR ARRAYKIT_SCHEMA_INSTALL_DIR)
  if(IS_ABSOLUTE "${${dir}}")
    message(FATAL_ERROR "${dir}=${${dir}} is absolute; arraykit installs are relocatable and need "
                        "install directories relative to the prefix")
  endif()
endforeach()
set(ARRAYKIT_CMAKE_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/arraykit")
set(ARRAYKIT_PKGCONFIG_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig")

# arraykit_relative_path(OUT FROM TO): the path from install dir FROM to install dir TO, both
# relative to the prefix ("." when they are the same). Fails for absolute install dirs: those
# cannot be relocated, and arraykit does not support them.
function(arraykit_relative_path out from to)
  foreach(dir IN ITEMS "${from}" "${to}")
    if(IS_ABSOLUTE "${dir}")
      message(FATAL_ERROR "install directory '${dir}' is absolute; arraykit installs are "
                          "relocatable and need directories relative to the prefix")
    endif()
  endforeach()
  # Any absolute root works: only the difference between the two directories matters.
  cmake_path(SET from_path NORMALIZE "/prefix/${from}")
  cmake_path(SET to_path NORMALIZE "/prefix/${to}")
  file(RELATIVE_PATH relative "${from_path}" "${to_path}")
  string(REGEX REPLACE "/$" "" relative "${relative}")
  if(relative STREQUAL "")
    set(relative ".")
  endif()
  set(${out} "${relative}" PARENT_SCOPE)
endfunction()

# arraykit_install_rpath(TARGET INSTALL_DIR): the installed TARGET (installed to INSTALL_DIR)
# finds libarraykit through RUNPATH $ORIGIN/<path to the lib dir>. The build tree's RUNPATH is
# replaced at install time, so no build path reaches an installed binary.
function(arraykit_install_rpath target install_dir)
  arraykit_relative_path(to_libdir "${install_dir}" "${CMAKE_INSTALL_LIBDIR}")
  set_target_properties(${target} PROPERTIES
    INSTALL_RPATH "$ORIGIN/${to_libdir}"
    INSTALL_RPATH_USE_LINK_PATH OFF)
endfunction()
