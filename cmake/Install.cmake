# `cmake --install` puts the C++ SDK in a prefix: headers, static libraries and a CMake package,
# so another project writes find_package(trickle) and links trickle::api (or a lower layer).
# Not part of a Python wheel (scikit-build): that carries the tools and the extension only.

include(CMakePackageConfigHelpers)
include(GNUInstallDirs)

set(TRICKLE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/trickle)
set(trickle_layers net protocol tensor media gpu runtime api)
foreach(layer ${trickle_layers})
  set_target_properties(trickle_${layer} PROPERTIES EXPORT_NAME ${layer})
endforeach()
set_target_properties(trickle_asio PROPERTIES EXPORT_NAME asio)
set_target_properties(trickle_llhttp PROPERTIES EXPORT_NAME llhttp)

set(trickle_library_targets trickle_asio trickle_llhttp)
foreach(layer ${trickle_layers})
  list(APPEND trickle_library_targets trickle_${layer})
endforeach()
install(TARGETS ${trickle_library_targets} EXPORT trickleTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/trickle DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT trickleTargets NAMESPACE trickle:: DESTINATION ${TRICKLE_CMAKE_DIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/trickleConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/trickleConfig.cmake
                              INSTALL_DESTINATION ${TRICKLE_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/trickleConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/trickleConfig.cmake ${PROJECT_BINARY_DIR}/trickleConfigVersion.cmake
        DESTINATION ${TRICKLE_CMAKE_DIR})
