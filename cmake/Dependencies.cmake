# Finds the Debian-packaged dependencies listed in DESIGN.md and wraps the ones that ship no
# CMake package of their own in imported targets.

find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(tl-expected REQUIRED)
find_package(OpenSSL 3 REQUIRED)  # TLS for https:// trickle URLs (Debian: libssl-dev)

# Standalone Asio is header-only and ships no CMake config.
find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)
add_library(trickle_asio INTERFACE)
target_include_directories(trickle_asio SYSTEM INTERFACE ${ASIO_INCLUDE_DIR})
target_compile_definitions(trickle_asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED)
target_link_libraries(trickle_asio INTERFACE Threads::Threads)

# llhttp: Debian's node-llhttp ships the generated C sources; compile them into a static library.
set(LLHTTP_SOURCE_DIR /usr/share/llhttp CACHE PATH "Directory holding llhttp's api.c, http.c, llhttp.c")
find_path(LLHTTP_INCLUDE_DIR llhttp.h PATHS /usr/share/include/llhttp REQUIRED)
if(NOT EXISTS ${LLHTTP_SOURCE_DIR}/llhttp.c)
  message(FATAL_ERROR "llhttp sources not found in ${LLHTTP_SOURCE_DIR}: apt-get install node-llhttp")
endif()
add_library(trickle_llhttp STATIC
  ${LLHTTP_SOURCE_DIR}/api.c ${LLHTTP_SOURCE_DIR}/http.c ${LLHTTP_SOURCE_DIR}/llhttp.c)
target_include_directories(trickle_llhttp SYSTEM PUBLIC ${LLHTTP_INCLUDE_DIR})
set_target_properties(trickle_llhttp PROPERTIES C_STANDARD 99)

# FFmpeg 5.1 (libav*): used by the media layer (the TS segmenter for `trickle publish` first).
pkg_check_modules(LIBAV REQUIRED IMPORTED_TARGET libavformat libavcodec libavutil libswscale libswresample)

if(TRICKLE_BUILD_TESTS)
  find_package(Boost 1.74 CONFIG REQUIRED COMPONENTS unit_test_framework)  # Debian ships BoostConfig
endif()
