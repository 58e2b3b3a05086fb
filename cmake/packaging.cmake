# Installation layout and the Debian package (cpack -G DEB in the build directory).
# Included by the top CMakeLists.txt when present.
include(GNUInstallDirs)

# `cpack` installs what is built; it does not rebuild every test program first.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY TRUE)

foreach(prog tsdirector tsdirectorctl tsdirector-agent)
  if(TARGET ${prog})
    install(TARGETS ${prog} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()

# Debian keeps units under /lib/systemd/system; configuration under /etc, not /usr/etc.
install(FILES ${CMAKE_SOURCE_DIR}/conf/tsdirector.service DESTINATION /lib/systemd/system)
install(FILES ${CMAKE_SOURCE_DIR}/conf/tsdirector.example.ini DESTINATION /etc/tsdirector
        RENAME tsdirector.ini)

set(TSD_DOCDIR ${CMAKE_INSTALL_DATAROOTDIR}/doc/tsdirector)
file(GLOB TSD_DOCS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/docs/*.md)
install(FILES ${TSD_DOCS} DESTINATION ${TSD_DOCDIR})
set(TSD_EXAMPLES ${CMAKE_SOURCE_DIR}/conf/tsdirector.example.ini)
foreach(f conf/keepalived.conf.example docs/prometheus-alerts.yml docs/grafana-dashboard.json)
  if(EXISTS ${CMAKE_SOURCE_DIR}/${f})
    list(APPEND TSD_EXAMPLES ${CMAKE_SOURCE_DIR}/${f})
  endif()
endforeach()
install(FILES ${TSD_EXAMPLES} DESTINATION ${TSD_DOCDIR}/examples)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tsdirector)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "tsdirector maintainers <tsdirector@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Layer-4 session director for remote Linux desktops")
set(CPACK_PACKAGE_DESCRIPTION
    "tsdirector gives SSH, X2Go and NoMachine users one address for many desktop nodes.\n"
    "It sends returning users back to the node that holds their session (node agents,\n"
    "sticky table), balances new ones, health-checks nodes, forwards in user space or with\n"
    "an eBPF fast path, and exports Prometheus metrics. Includes tsdirectorctl and the\n"
    "tsdirector-agent node agent.")
string(REPLACE ";" "" CPACK_PACKAGE_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.org/tsdirector")
# Dependencies: dpkg-shlibdeps reads them off the binaries when it is installed (dpkg-dev);
# otherwise this list of Debian 12 (bookworm) packages, checked with `dpkg -S` on what we link.
find_program(TSD_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(TSD_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  set(TSD_DEB_DEPENDS "libc6 (>= 2.36)" "libstdc++6 (>= 12)" "libevent-core-2.1-7 (>= 2.1.12)"
      "libevent-extra-2.1-7 (>= 2.1.12)" "libssl3 (>= 3.0)" "libprometheus-cpp-core1.0")
  if(TSD_BPF)
    list(APPEND TSD_DEB_DEPENDS "libbpf1 (>= 1:1.1)")
  endif()
  list(JOIN TSD_DEB_DEPENDS ", " CPACK_DEBIAN_PACKAGE_DEPENDS)
endif()
# Recommended for the HA pair and for checking the metrics listener from keepalived.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "curl")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "keepalived, prometheus")
# conffiles: local edits survive upgrades; postinst creates the system user.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_SOURCE_DIR}/cmake/deb/conffiles
    ${CMAKE_SOURCE_DIR}/cmake/deb/postinst)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
