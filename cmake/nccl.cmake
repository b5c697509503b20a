# The GPU backend: CUDA toolkit + NCCL detection (COLLBENCH_NCCL = AUTO | ON | OFF).
#
#   AUTO  build the NCCL backend when both nvcc/the CUDA toolkit and NCCL are found
#   ON    the same, but a missing piece is a configure error that says what to install or set
#   OFF   never build it (no CUDA language, no nvcc run)
#
# Where things are looked for: nvcc on PATH, $CUDACXX, CUDAToolkit_ROOT, $CUDA_HOME,
# /usr/local/cuda; NCCL in NCCL_HOME (CMake or environment variable), $NCCL_ROOT, the CUDA
# toolkit's own directories, then the system paths (the distribution's libnccl-dev).
#
# Results:
#   COLLBENCH_HAVE_NCCL                 ON when the backend is built
#   compile definition COLLBENCH_HAVE_NCCL=1 on every target (only then), plus
#   COLLBENCH_NCCL_HAS_ALLTOALL=1 / COLLBENCH_NCCL_HAS_SIMULATE=1 when nccl.h declares
#   ncclAlltoAll / ncclGroupSimulateEnd (feature tests, not version numbers)
#   collbench::nccl                     imported target (library + include directory)
#   collbench_nccl_sources(TARGET SRC...)  adds SRC (.cc and .cu) to TARGET and links CUDA and
#                                       NCCL, only when the backend is built; a no-op otherwise
#
# One CUDA architecture by default (90: H100/H200) to keep nvcc time small; override with
# -DCMAKE_CUDA_ARCHITECTURES="80;90" (or CUDAARCHS in the environment).

set(COLLBENCH_HAVE_NCCL OFF)

function(collbench_nccl_sources target)
  if(NOT COLLBENCH_HAVE_NCCL)
    return()
  endif()
  target_sources(${target} PRIVATE ${ARGN})
  target_link_libraries(${target} PUBLIC collbench::nccl CUDA::cudart)
endfunction()

string(TOUPPER "${COLLBENCH_NCCL}" _cb_nccl_mode)
if(NOT _cb_nccl_mode MATCHES "^(AUTO|ON|OFF)$")
  message(FATAL_ERROR "COLLBENCH_NCCL must be AUTO, ON or OFF (got '${COLLBENCH_NCCL}')")
endif()
if(_cb_nccl_mode STREQUAL "OFF")
  message(STATUS "collbench: NCCL backend off (COLLBENCH_NCCL=OFF)")
  return()
endif()

# AUTO: say why and skip; ON: stop with the same reason. A macro, so that return() leaves
# this file.
macro(_cb_nccl_missing)
  string(CONCAT _cb_why ${ARGV})
  if(_cb_nccl_mode STREQUAL "ON")
    message(FATAL_ERROR "COLLBENCH_NCCL=ON but ${_cb_why}. Install the CUDA toolkit and NCCL "
                        "(e.g. Debian/Ubuntu libnccl-dev from NVIDIA's repository), point "
                        "NCCL_HOME / CUDAToolkit_ROOT at them, or configure with "
                        "-DCOLLBENCH_NCCL=OFF.")
  endif()
  message(STATUS "collbench: NCCL backend not built: ${_cb_why} (COLLBENCH_NCCL=AUTO)")
  return()
endmacro()

# --- CUDA compiler and toolkit ---
if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX})
  find_program(COLLBENCH_NVCC nvcc
               HINTS ${CUDAToolkit_ROOT} $ENV{CUDAToolkit_ROOT} $ENV{CUDA_HOME} $ENV{CUDA_PATH}
                     /usr/local/cuda
               PATH_SUFFIXES bin)
  if(COLLBENCH_NVCC)
    set(CMAKE_CUDA_COMPILER "${COLLBENCH_NVCC}")
  endif()
endif()
include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  _cb_nccl_missing("no CUDA compiler (nvcc) was found")
endif()
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES AND NOT DEFINED ENV{CUDAARCHS})
  set(CMAKE_CUDA_ARCHITECTURES 90 CACHE STRING
      "GPU architectures for the CUDA kernels (90 = H100/H200; add 80 for A100)")
endif()
# One CUDA runtime for the C++ and CUDA objects: the shared one, which NCCL also uses.
set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
enable_language(CUDA)
# CUDA sources follow CMAKE_CXX_STANDARD (20), but CMake 3.25 knows no C++20 flag for nvcc
# (nvcc 12+ takes -std=c++20); newer CMake versions define these themselves.
if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
  set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
  set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
endif()
find_package(CUDAToolkit)
if(NOT CUDAToolkit_FOUND)
  _cb_nccl_missing("nvcc was found (${CMAKE_CUDA_COMPILER}) but not the CUDA toolkit libraries")
endif()

# --- NCCL ---
find_path(COLLBENCH_NCCL_INCLUDE_DIR nccl.h
          HINTS ${NCCL_HOME} $ENV{NCCL_HOME} $ENV{NCCL_ROOT} ${CUDAToolkit_INCLUDE_DIRS}
          PATH_SUFFIXES include)
find_library(COLLBENCH_NCCL_LIBRARY NAMES nccl
             HINTS ${NCCL_HOME} $ENV{NCCL_HOME} $ENV{NCCL_ROOT} ${CUDAToolkit_LIBRARY_DIR}
             PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu lib/aarch64-linux-gnu)
if(NOT COLLBENCH_NCCL_INCLUDE_DIR OR NOT COLLBENCH_NCCL_LIBRARY)
  _cb_nccl_missing("NCCL was not found (nccl.h: ${COLLBENCH_NCCL_INCLUDE_DIR}, libnccl: "
                   "${COLLBENCH_NCCL_LIBRARY})")
endif()

file(READ "${COLLBENCH_NCCL_INCLUDE_DIR}/nccl.h" _cb_nccl_header)
string(REGEX MATCH "#define NCCL_MAJOR ([0-9]+)" _m "${_cb_nccl_header}")
set(_cb_major "${CMAKE_MATCH_1}")
string(REGEX MATCH "#define NCCL_MINOR ([0-9]+)" _m "${_cb_nccl_header}")
set(_cb_minor "${CMAKE_MATCH_1}")
string(REGEX MATCH "#define NCCL_PATCH ([0-9]+)" _m "${_cb_nccl_header}")
set(_cb_patch "${CMAKE_MATCH_1}")
set(COLLBENCH_NCCL_VERSION "${_cb_major}.${_cb_minor}.${_cb_patch}")
# ncclCommSplit and ncclCommInitRankConfig (2.18) are the newest calls the backend needs.
if(NOT _cb_major OR COLLBENCH_NCCL_VERSION VERSION_LESS 2.18)
  _cb_nccl_missing("NCCL ${COLLBENCH_NCCL_VERSION} in ${COLLBENCH_NCCL_INCLUDE_DIR} is older "
                   "than 2.18 (ncclCommSplit is needed)")
endif()

add_library(collbench::nccl UNKNOWN IMPORTED)
set_target_properties(collbench::nccl PROPERTIES
  IMPORTED_LOCATION "${COLLBENCH_NCCL_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${COLLBENCH_NCCL_INCLUDE_DIR}"
  INTERFACE_LINK_LIBRARIES CUDA::cudart)

set(COLLBENCH_HAVE_NCCL ON)
add_compile_definitions(COLLBENCH_HAVE_NCCL=1)
string(FIND "${_cb_nccl_header}" "ncclAlltoAll(" _cb_pos)
if(_cb_pos GREATER -1)
  add_compile_definitions(COLLBENCH_NCCL_HAS_ALLTOALL=1)
endif()
string(FIND "${_cb_nccl_header}" "ncclGroupSimulateEnd(" _cb_pos)
if(_cb_pos GREATER -1)
  add_compile_definitions(COLLBENCH_NCCL_HAS_SIMULATE=1)
endif()

# nvcc does not take GCC's warning flags: the options set so far (-Wall -Wextra, sanitizers)
# go to C/C++ sources as before, and to the host compiler of CUDA sources through -Xcompiler.
get_directory_property(_cb_opts COMPILE_OPTIONS)
set(_cb_wrapped "")
foreach(_o IN LISTS _cb_opts)
  list(APPEND _cb_wrapped "$<$<NOT:$<COMPILE_LANGUAGE:CUDA>>:${_o}>")
endforeach()
list(APPEND _cb_wrapped "$<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>")
set_directory_properties(PROPERTIES COMPILE_OPTIONS "${_cb_wrapped}")

message(STATUS "collbench: NCCL backend on: NCCL ${COLLBENCH_NCCL_VERSION} "
               "(${COLLBENCH_NCCL_LIBRARY}), CUDA ${CUDAToolkit_VERSION}, "
               "architectures ${CMAKE_CUDA_ARCHITECTURES}")
