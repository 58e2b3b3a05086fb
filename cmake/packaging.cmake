# Installation layout and the two Debian packages (cpack -G DEB in the build directory):
#   tsdirector        tsdirector, tsdirectorctl, the unit, /etc/tsdirector/tsdirector.ini
#                     (a conffile), docs, man pages; postinst makes the `tsdirector` system
#                     user, /var/lib/tsdirector and a generated agent key.
#   tsdirector-agent  tsdirector-agent, its unit, man page; postinst makes the key directory
#                     /etc/tsdirector-agent (0700).
# CPack components rather than hand-written dpkg-deb trees: one `cpack` call builds both from the
# same install() rules a `make install` uses, and dpkg-shlibdeps, md5sums, stripping and the
# control file come with it. Maintainer scripts and conffiles are in cmake/deb/<component>/.
# tests/packaging/test_packages.py installs, upgrades and purges them; docs/packages.md
# documents what each step does.
include(GNUInstallDirs)

# `cpack` installs what is built; it does not rebuild every test program first.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY TRUE)

foreach(prog tsdirector tsdirectorctl)
  if(TARGET ${prog})
    install(TARGETS ${prog} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT director)
  endif()
endforeach()
if(TARGET tsdirector-agent)
  install(TARGETS tsdirector-agent RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT agent)
endif()

# Debian 12 keeps units under /lib/systemd/system; configuration under /etc, not /usr/etc.
install(FILES ${CMAKE_SOURCE_DIR}/conf/tsdirector.service DESTINATION /lib/systemd/system
        COMPONENT director)
install(FILES ${CMAKE_SOURCE_DIR}/conf/tsdirector-agent.service DESTINATION /lib/systemd/system
        COMPONENT agent)
install(FILES ${CMAKE_SOURCE_DIR}/conf/tsdirector.example.ini DESTINATION /etc/tsdirector
        RENAME tsdirector.ini COMPONENT director)

# /usr/share/doc/<package>: copyright, changelog.gz (gzip -9n: reproducible), documentation.
configure_file(${CMAKE_SOURCE_DIR}/cmake/deb/changelog.in ${CMAKE_BINARY_DIR}/deb/changelog @ONLY)
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/deb/changelog.gz
  COMMAND gzip -9nf -k ${CMAKE_BINARY_DIR}/deb/changelog
  DEPENDS ${CMAKE_BINARY_DIR}/deb/changelog
  COMMENT "changelog.gz for the Debian packages")
add_custom_target(tsd_deb_changelog ALL DEPENDS ${CMAKE_BINARY_DIR}/deb/changelog.gz)
foreach(comp director agent)
  set(pkg tsdirector)
  if(comp STREQUAL agent)
    set(pkg tsdirector-agent)
  endif()
  install(FILES ${CMAKE_SOURCE_DIR}/cmake/deb/copyright ${CMAKE_BINARY_DIR}/deb/changelog.gz
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${pkg} COMPONENT ${comp})
endforeach()

set(TSD_DOCDIR ${CMAKE_INSTALL_DATAROOTDIR}/doc/tsdirector)
file(GLOB TSD_DOCS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/docs/*.md)
install(FILES ${TSD_DOCS} DESTINATION ${TSD_DOCDIR} COMPONENT director)
install(FILES ${CMAKE_SOURCE_DIR}/docs/agent.md
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/tsdirector-agent COMPONENT agent)
set(TSD_EXAMPLES ${CMAKE_SOURCE_DIR}/conf/tsdirector.example.ini)
foreach(f conf/keepalived.conf.example docs/prometheus-alerts.yml docs/grafana-dashboard.json)
  if(EXISTS ${CMAKE_SOURCE_DIR}/${f})
    list(APPEND TSD_EXAMPLES ${CMAKE_SOURCE_DIR}/${f})
  endif()
endforeach()
install(FILES ${TSD_EXAMPLES} DESTINATION ${TSD_DOCDIR}/examples COMPONENT director)

# Man pages, generated at build time by docs/man/CMakeLists.txt (TSD_MAN_PAGES: gzipped pages).
if(TSD_MAN_PAGES)
  foreach(page ${TSD_MAN_PAGES})
    get_filename_component(name ${page} NAME)  # tsdirector.8.gz
    string(REGEX REPLACE "^.*\\.([0-9])\\.gz$" "\\1" sec ${name})
    set(comp director)
    if(name MATCHES "^tsdirector-agent\\.")
      set(comp agent)
    endif()
    install(FILES ${page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${sec} COMPONENT ${comp})
  endforeach()
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL director agent)
set(CPACK_PACKAGE_NAME tsdirector)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "tsdirector maintainers <tsdirector@example.org>")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.org/tsdirector")
set(CPACK_DEBIAN_DIRECTOR_PACKAGE_NAME tsdirector)
set(CPACK_DEBIAN_AGENT_PACKAGE_NAME tsdirector-agent)
# First line: the synopsis; the rest: the extended description (lines under 80 columns).
set(CPACK_DEBIAN_DIRECTOR_DESCRIPTION
    "Layer-4 session director for remote Linux desktops\n"
    "tsdirector gives SSH, X2Go and NoMachine users one address for many desktop\n"
    "nodes. It sends returning users back to the node that holds their session\n"
    "(node agents, sticky table), balances new ones, health-checks nodes, forwards\n"
    "in user space or with an eBPF fast path, and exports Prometheus metrics.\n"
    "This package has the daemon, tsdirectorctl and the systemd unit. Install\n"
    "tsdirector-agent on each desktop node.")
set(CPACK_DEBIAN_AGENT_DESCRIPTION
    "node agent for the tsdirector session director\n"
    "tsdirector-agent runs on every desktop node behind tsdirector and answers the\n"
    "director's authenticated polls with the node's load, memory, swap-in rate and\n"
    "its session inventory (ssh, X2Go, NoMachine, tmux), so returning users are sent\n"
    "back to the node that holds their suspended session.")
foreach(v DIRECTOR AGENT)
  string(REPLACE ";" "" CPACK_DEBIAN_${v}_DESCRIPTION "${CPACK_DEBIAN_${v}_DESCRIPTION}")
endforeach()
set(CPACK_DEBIAN_AGENT_PACKAGE_SECTION net)
# Dependencies: dpkg-shlibdeps reads them off the binaries when it is installed (dpkg-dev);
# otherwise this list of Debian 12 (bookworm) packages, checked with `dpkg -S` on what we link.
find_program(TSD_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(TSD_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_DIRECTOR_PACKAGE_DEPENDS "adduser")
else()
  set(TSD_DEB_DEPENDS "adduser" "libc6 (>= 2.36)" "libstdc++6 (>= 12)"
      "libevent-core-2.1-7 (>= 2.1.12)" "libevent-extra-2.1-7 (>= 2.1.12)" "libssl3 (>= 3.0)"
      "libprometheus-cpp-core1.0")
  if(TSD_BPF)
    list(APPEND TSD_DEB_DEPENDS "libbpf1 (>= 1:1.1)")
  endif()
  list(JOIN TSD_DEB_DEPENDS ", " CPACK_DEBIAN_DIRECTOR_PACKAGE_DEPENDS)
  set(CPACK_DEBIAN_AGENT_PACKAGE_DEPENDS
      "libc6 (>= 2.36), libstdc++6 (>= 12), libevent-core-2.1-7 (>= 2.1.12), libssl3 (>= 3.0)")
endif()
# Recommended for the HA pair and for checking the metrics listener from keepalived.
set(CPACK_DEBIAN_DIRECTOR_PACKAGE_RECOMMENDS "curl")
set(CPACK_DEBIAN_DIRECTOR_PACKAGE_SUGGESTS "keepalived, prometheus, tsdirector-agent")
set(CPACK_DEBIAN_DIRECTOR_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/cmake/deb/director/conffiles ${CMAKE_SOURCE_DIR}/cmake/deb/director/postinst
    ${CMAKE_SOURCE_DIR}/cmake/deb/director/prerm ${CMAKE_SOURCE_DIR}/cmake/deb/director/postrm)
set(CPACK_DEBIAN_AGENT_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/cmake/deb/agent/postinst ${CMAKE_SOURCE_DIR}/cmake/deb/agent/prerm
    ${CMAKE_SOURCE_DIR}/cmake/deb/agent/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
