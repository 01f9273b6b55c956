# Install rules and the Debian package (`cpack -G DEB` in the release build; docs/operations.md).
#
#   /usr/bin/facepay                           the CLI and server (apps/facepay)
#   /usr/share/facepay/models/                 manifest.json + every model file it names
#   /usr/share/facepay/web/                    the served pages, once web/ exists
#   /etc/facepay/{terminals,fares,cameras}/    the example deployment config (conffiles)
#   /etc/default/facepay                       extra `serve` options, PostgreSQL credentials
#   /lib/systemd/system/facepay.service        `facepay serve`, state in /var/lib/facepay
#   /lib/systemd/system/facepay-gate@.service  `facepay gate`, one instance per gate id
#
# The binary finds the models relative to itself (apps/facepay/cli_common.cc), so the same
# build serves the source tree unchanged and the package. /etc and /lib/systemd are absolute:
# `cmake --install` by hand wants DESTDIR=<scratch root>. tests/packaging checks the package.
include(GNUInstallDirs)

set(FACEPAY_INSTALL_SHARE "${CMAKE_INSTALL_DATADIR}/facepay")  # under the prefix (/usr)
set(FACEPAY_INSTALL_SYSCONF "/etc/facepay")                     # absolute: never /usr/etc
set(FACEPAY_INSTALL_UNITS "/lib/systemd/system")                # Debian 12's systemdsystemunitdir

install(TARGETS facepay RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The model pack: the manifest and each file it names, read here so that a pack scripts/setup
# has not fetched fails the install (and cpack) instead of shipping a server that cannot start.
set(facepay_manifest "${FACEPAY_MODELS_DIR}/manifest.json")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${facepay_manifest}")
file(READ "${facepay_manifest}" facepay_manifest_json)
string(JSON facepay_model_count LENGTH "${facepay_manifest_json}" models)
set(facepay_model_files "${facepay_manifest}")
math(EXPR facepay_model_last "${facepay_model_count} - 1")
foreach(i RANGE ${facepay_model_last})
  string(JSON role MEMBER "${facepay_manifest_json}" models ${i})
  string(JSON file GET "${facepay_manifest_json}" models ${role} file)
  list(APPEND facepay_model_files "${FACEPAY_MODELS_DIR}/${file}")
endforeach()
install(FILES ${facepay_model_files} DESTINATION "${FACEPAY_INSTALL_SHARE}/models")

# web/ does not exist yet; OPTIONAL is checked at install time, so pages added later ship
# without a re-configure.
install(DIRECTORY "${CMAKE_SOURCE_DIR}/web/" DESTINATION "${FACEPAY_INSTALL_SHARE}/web" OPTIONAL)

# Example config under /etc, keeping config/'s layout: terminals/demo.json names its fares and
# camera profiles by relative paths (../fares/metro.json). Every file under /etc is a conffile
# (an operator's edits survive upgrades); the list is written from the same glob.
file(GLOB_RECURSE facepay_config_files CONFIGURE_DEPENDS RELATIVE "${CMAKE_SOURCE_DIR}/config"
     "${CMAKE_SOURCE_DIR}/config/terminals/*.json" "${CMAKE_SOURCE_DIR}/config/fares/*.json"
     "${CMAKE_SOURCE_DIR}/config/cameras/*.json")
set(facepay_conffiles "/etc/default/facepay\n")
foreach(f IN LISTS facepay_config_files)
  get_filename_component(dir "${f}" DIRECTORY)
  install(FILES "${CMAKE_SOURCE_DIR}/config/${f}" DESTINATION "${FACEPAY_INSTALL_SYSCONF}/${dir}")
  string(APPEND facepay_conffiles "${FACEPAY_INSTALL_SYSCONF}/${f}\n")
endforeach()
install(FILES "${CMAKE_SOURCE_DIR}/packaging/debian/default" DESTINATION /etc/default
        RENAME facepay)
install(FILES "${CMAKE_SOURCE_DIR}/packaging/systemd/facepay.service"
              "${CMAKE_SOURCE_DIR}/packaging/systemd/facepay-gate@.service"
        DESTINATION "${FACEPAY_INSTALL_UNITS}")
install(FILES "${CMAKE_SOURCE_DIR}/docs/operations.md" DESTINATION "${CMAKE_INSTALL_DOCDIR}")

file(WRITE "${CMAKE_BINARY_DIR}/packaging/debian/conffiles" "${facepay_conffiles}")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME facepay)
set(CPACK_PACKAGE_VENDOR facepay)
set(CPACK_PACKAGE_CONTACT "facepay maintainers <maintainers@facepay.invalid>"
    CACHE STRING "Maintainer field of the .deb")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "self-hosted face-biometric payment and ticketing server")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
    "facepay recognises an enrolled face at a gate, till, ATM or border desk, checks\n"
    "that it is live and settles the fare or payment in a double-entry ledger\n"
    "(SQLite or PostgreSQL). This package ships the facepay command, its model pack,\n"
    "example terminal and fare configuration, and systemd units for the server\n"
    "(facepay.service) and edge gates (facepay-gate@.service).")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # OpenCV, libsodium, SQLite, libpq, BLAS, ...
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")  # postinst creates the facepay system user
# FAISS calls libblas.so.3; the OpenMP OpenBLAS is the fast one (scripts/setup, docs/benchmarks.md).
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libopenblas0-openmp")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "postgresql")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${CMAKE_BINARY_DIR}/packaging/debian/conffiles"
    "${CMAKE_SOURCE_DIR}/packaging/debian/postinst" "${CMAKE_SOURCE_DIR}/packaging/debian/prerm"
    "${CMAKE_SOURCE_DIR}/packaging/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
include(CPack)
