# Warnings and shared settings for Ocelle's own targets (never applied to third-party code).
function(ocelle_target_defaults target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  elseif(MSVC)
    target_compile_options(${target} PRIVATE /W4)
  endif()
endfunction()

# A library of the inference engine: plain C++, no Qt. Sources are listed by the caller.
function(ocelle_inference_library name)
  add_library(${name} STATIC ${ARGN})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/inference)
  ocelle_target_defaults(${name})
endfunction()
