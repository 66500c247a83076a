# The Debian package (`make package`: build/casebus_<version>_<arch>.deb; docs/operations.md).
#
#   /usr/bin/                      the daemons and casebusctl (stripped)
#   /lib/systemd/system/           casebus-broker, casebus-edge, casebus-<kind>@ templates, casebus.target
#   /usr/lib/sysusers.d, tmpfiles.d  user and group casebus; /var/lib/casebus, /etc/casebus/keys
#   /etc/casebus/*.json            the configs (conffiles), generated from deploy/config/ below
#   /usr/share/casebus/            reply and escalation templates, the agents' prompt files
#   /usr/share/doc/casebus/        README and docs/
#
# Maintainer scripts: deploy/debian/{postinst,prerm,postrm}. Included at the end of the top-level
# CMakeLists.txt, after every target is defined.

set(CASEBUS_PACKAGE_PREFIX /usr)
# `cmake --install` gives the package's layout too (the generated configs name /usr/share/casebus).
if(CMAKE_INSTALL_PREFIX_INITIALIZED_TO_DEFAULT)
  set(CMAKE_INSTALL_PREFIX ${CASEBUS_PACKAGE_PREFIX} CACHE PATH "Install prefix (the package uses /usr)" FORCE)
endif()
set(CASEBUS_SHARE_DIR ${CASEBUS_PACKAGE_PREFIX}/share/casebus)
set(CASEBUS_CONFIG_DIR /etc/casebus)
set(CASEBUS_UNIT_DIR /lib/systemd/system)

# --- programs ------------------------------------------------------------------------------------
set(CASEBUS_AGENT_KINDS classifier fraud_reviewer response_drafter escalation)
set(CASEBUS_PACKAGED_PROGRAMS casebus-broker casebus-edge casebus-ingest casebusctl)
foreach(kind IN LISTS CASEBUS_AGENT_KINDS)
  string(REPLACE "_" "-" dashed ${kind})
  list(APPEND CASEBUS_PACKAGED_PROGRAMS casebus-${dashed})
endforeach()
install(TARGETS ${CASEBUS_PACKAGED_PROGRAMS} RUNTIME DESTINATION bin)

# --- systemd, users, directories -----------------------------------------------------------------
file(GLOB CASEBUS_UNITS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/deploy/systemd/*.service
     ${PROJECT_SOURCE_DIR}/deploy/systemd/*.target)
install(FILES ${CASEBUS_UNITS} DESTINATION ${CASEBUS_UNIT_DIR})
install(FILES deploy/debian/casebus.sysusers DESTINATION lib/sysusers.d RENAME casebus.conf)
install(FILES deploy/debian/casebus.tmpfiles DESTINATION lib/tmpfiles.d RENAME casebus.conf)

# --- data and docs -------------------------------------------------------------------------------
install(DIRECTORY deploy/templates/ DESTINATION share/casebus/templates)
foreach(kind IN LISTS CASEBUS_AGENT_KINDS)
  if(IS_DIRECTORY ${PROJECT_SOURCE_DIR}/agents/${kind}/prompts)
    install(DIRECTORY agents/${kind}/prompts/ DESTINATION share/casebus/prompts/${kind})
  endif()
endforeach()
install(FILES README.md DESTINATION share/doc/casebus)
install(DIRECTORY docs/ DESTINATION share/doc/casebus)

# --- configs -------------------------------------------------------------------------------------
# The packaged configs are deploy/config/*.json with every relative file path (settings.templates_dir,
# settings.prompt_file; relative to the config's directory) rewritten to where the package installs
# that file, and the edge's development tenant replaced (below). The text is otherwise kept as
# written. An agent kind without a shipped config gets one that names only the broker endpoint,
# so that its unit has a file to point at.

# Where the package installs the source file or directory `abs` ("" for anything it does not ship).
function(casebus_packaged_path abs out)
  set(${out} "" PARENT_SCOPE)
  set(templates ${PROJECT_SOURCE_DIR}/deploy/templates)
  cmake_path(IS_PREFIX templates "${abs}" NORMALIZE under_templates)
  if(under_templates)
    cmake_path(RELATIVE_PATH abs BASE_DIRECTORY ${templates} OUTPUT_VARIABLE rest)
    if(rest STREQUAL ".")
      set(rest "")
    endif()
    set(${out} ${CASEBUS_SHARE_DIR}/templates/${rest} PARENT_SCOPE)
    return()
  endif()
  foreach(kind IN LISTS CASEBUS_AGENT_KINDS)
    set(prompts ${PROJECT_SOURCE_DIR}/agents/${kind}/prompts)
    cmake_path(IS_PREFIX prompts "${abs}" NORMALIZE under_prompts)
    if(under_prompts AND NOT abs STREQUAL prompts)
      cmake_path(RELATIVE_PATH abs BASE_DIRECTORY ${prompts} OUTPUT_VARIABLE rest)
      set(${out} ${CASEBUS_SHARE_DIR}/prompts/${kind}/${rest} PARENT_SCOPE)
      return()
    endif()
  endforeach()
endfunction()

# Replaces the value of the top-level "tenants" object in the JSON text `json` with `tenants`.
function(casebus_replace_tenants json tenants out)
  string(REGEX MATCH "\"tenants\"[ \t\r\n]*:[ \t\r\n]*{" head "${json}")
  if(NOT head)
    message(FATAL_ERROR "packaging: edge.json has no \"tenants\" object")
  endif()
  string(FIND "${json}" "${head}" start)
  string(LENGTH "${head}" head_len)
  math(EXPR i "${start} + ${head_len}")
  string(LENGTH "${json}" n)
  # Walk to the brace that closes the object, skipping string literals (a secret may hold braces).
  set(depth 1)
  set(in_string FALSE)
  set(escaped FALSE)
  while(depth GREATER 0 AND i LESS n)
    string(SUBSTRING "${json}" ${i} 1 c)
    if(in_string)
      if(escaped)
        set(escaped FALSE)
      elseif(c STREQUAL "\\")
        set(escaped TRUE)
      elseif(c STREQUAL "\"")
        set(in_string FALSE)
      endif()
    elseif(c STREQUAL "\"")
      set(in_string TRUE)
    elseif(c STREQUAL "{")
      math(EXPR depth "${depth} + 1")
    elseif(c STREQUAL "}")
      math(EXPR depth "${depth} - 1")
    endif()
    math(EXPR i "${i} + 1")
  endwhile()
  if(depth GREATER 0)
    message(FATAL_ERROR "packaging: edge.json: unterminated \"tenants\" object")
  endif()
  string(SUBSTRING "${json}" 0 ${start} before)
  string(SUBSTRING "${json}" ${i} -1 after)
  set(${out} "${before}\"tenants\": ${tenants}${after}" PARENT_SCOPE)
endfunction()

# deploy/config/<name>.json -> ${dest_dir}/<name>.json
function(casebus_packaged_config source dest_dir)
  get_filename_component(name ${source} NAME)
  get_filename_component(source_dir ${source} DIRECTORY)
  file(READ ${source} json)
  string(REGEX MATCHALL "\"(templates_dir|prompt_file)\"[ \t\r\n]*:[ \t\r\n]*\"[^\"\\\\]*\"" entries "${json}")
  foreach(entry IN LISTS entries)
    string(REGEX MATCH "^(\"([a-z_]+)\"[ \t\r\n]*:[ \t\r\n]*)\"([^\"]*)\"$" _ "${entry}")
    set(key_and_colon "${CMAKE_MATCH_1}")
    set(key ${CMAKE_MATCH_2})
    set(value ${CMAKE_MATCH_3})
    if(IS_ABSOLUTE "${value}")
      continue()
    endif()
    get_filename_component(abs "${source_dir}/${value}" ABSOLUTE)
    casebus_packaged_path("${abs}" packaged)
    if(NOT packaged)
      message(FATAL_ERROR "packaging: ${name}: ${key} \"${value}\" is not under deploy/templates/ or "
                          "agents/<kind>/prompts/, so the package would not install it")
    endif()
    string(REPLACE "${entry}" "${key_and_colon}\"${packaged}\"" json "${json}")
  endforeach()

  if(name STREQUAL "edge.json")
    # The development tenant's secret and token are published (README): never in a package. The
    # placeholder tenant's only token hash is all zeros, which no token hashes to, so nobody can
    # authenticate until an operator configures real tenants (docs/operations.md).
    string(REPEAT "0" 64 zeros)
    casebus_replace_tenants("${json}" "{\n    \"example\": {\"bearer_sha256\": [\"${zeros}\"]}\n  }" json)
    string(JSON members LENGTH "${json}" tenants)
    string(FIND "${json}" "secrets" has_secrets)
    if(NOT members EQUAL 1 OR NOT has_secrets EQUAL -1)
      message(FATAL_ERROR "packaging: the packaged edge.json still holds development credentials")
    endif()
  elseif(name STREQUAL "broker.json")
    string(JSON state_dir ERROR_VARIABLE err GET "${json}" storage state_dir)
    if(NOT state_dir STREQUAL "/var/lib/casebus")
      message(FATAL_ERROR "packaging: broker.json: storage.state_dir must be /var/lib/casebus (the unit's "
                          "StateDirectory=), not \"${state_dir}\"")
    endif()
  endif()

  # Still one JSON object.
  string(JSON type ERROR_VARIABLE err TYPE "${json}")
  if(err OR NOT type STREQUAL "OBJECT")
    message(FATAL_ERROR "packaging: ${name}: the rewritten config is not a JSON object: ${err}")
  endif()
  file(WRITE ${dest_dir}/${name} "${json}")
endfunction()

set(CASEBUS_PACKAGED_CONFIG_DIR ${PROJECT_BINARY_DIR}/packaging/etc/casebus)
file(REMOVE_RECURSE ${CASEBUS_PACKAGED_CONFIG_DIR})
file(GLOB CASEBUS_SOURCE_CONFIGS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/deploy/config/*.json)
foreach(source IN LISTS CASEBUS_SOURCE_CONFIGS)
  casebus_packaged_config(${source} ${CASEBUS_PACKAGED_CONFIG_DIR})
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${source})
endforeach()
foreach(kind IN LISTS CASEBUS_AGENT_KINDS)
  string(REPLACE "_" "-" dashed ${kind})
  if(NOT EXISTS ${CASEBUS_PACKAGED_CONFIG_DIR}/${dashed}.json)
    file(WRITE ${CASEBUS_PACKAGED_CONFIG_DIR}/${dashed}.json "{\"broker_endpoint\": \"tcp://127.0.0.1:7102\"}\n")
  endif()
endforeach()
file(GLOB CASEBUS_PACKAGED_CONFIGS ${CASEBUS_PACKAGED_CONFIG_DIR}/*.json)
install(FILES ${CASEBUS_PACKAGED_CONFIGS} DESTINATION ${CASEBUS_CONFIG_DIR})

# Every file under /etc is a conffile: an upgrade keeps the operator's edits (dpkg asks).
set(conffiles "")
foreach(config IN LISTS CASEBUS_PACKAGED_CONFIGS)
  get_filename_component(name ${config} NAME)
  string(APPEND conffiles "${CASEBUS_CONFIG_DIR}/${name}\n")
endforeach()
file(WRITE ${PROJECT_BINARY_DIR}/packaging/control/conffiles "${conffiles}")
foreach(script postinst prerm postrm)
  configure_file(${PROJECT_SOURCE_DIR}/deploy/debian/${script} ${PROJECT_BINARY_DIR}/packaging/control/${script}
                 COPYONLY FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                 WORLD_READ WORLD_EXECUTE)
endforeach()

# --- CPack ---------------------------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME casebus)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR casebus)
set(CPACK_PACKAGE_CONTACT "casebus maintainers <casebus@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "multi-agent case orchestration for banks, on ZeroMQ")
# The extended description; CPack puts the summary above it.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "A customer message, a payment request or a loan application becomes a case that a durable\n"
    "broker carries between agent processes (classifier, fraud reviewer, response drafter,\n"
    "escalation), every result checked against an action policy. With the HTTP gateway\n"
    "(casebus-edge), casebusctl and systemd units. Nothing is started on install.")
string(JOIN "" CPACK_DEBIAN_PACKAGE_DESCRIPTION ${CPACK_DEBIAN_PACKAGE_DESCRIPTION})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # casebus_<version>_<arch>.deb
set(CPACK_PACKAGING_INSTALL_PREFIX ${CASEBUS_PACKAGE_PREFIX})
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Libraries from dpkg-shlibdeps; systemd for systemd-sysusers and systemd-tmpfiles in postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd")
# sqlite3 for online backups of the case store (docs/operations.md).
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "sqlite3")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_BINARY_DIR}/packaging/control/conffiles ${PROJECT_BINARY_DIR}/packaging/control/postinst
    ${PROJECT_BINARY_DIR}/packaging/control/prerm ${PROJECT_BINARY_DIR}/packaging/control/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
# Debug information stays in the build tree: stripped, the programs are 13 MB instead of 400 MB.
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_SOURCE_GENERATOR "")
include(CPack)
