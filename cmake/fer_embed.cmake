# fer_embed_files(OUTPUT <file.cpp> DIR <folder> NAMESPACE <ns> FUNCTION <name> FILES <f>...)
# Generates OUTPUT at build time (again whenever a file changes) with
#   const std::vector<fer::EmbeddedFile>& <ns>::<name>();
# holding every file's name and bytes (cmake/embed_files.cmake does the work). Web pages
# stay real .html/.css/.js files under src/ and still ship inside the binary.
function(fer_embed_files)
  cmake_parse_arguments(EMBED "" "OUTPUT;DIR;NAMESPACE;FUNCTION" "FILES" ${ARGN})
  set(sources ${EMBED_FILES})
  list(TRANSFORM sources PREPEND ${EMBED_DIR}/)
  string(REPLACE ";" "," names "${EMBED_FILES}")
  add_custom_command(
    OUTPUT ${EMBED_OUTPUT}
    COMMAND ${CMAKE_COMMAND} -DDIR=${EMBED_DIR} -DNAMES=${names} -DOUTPUT=${EMBED_OUTPUT}
            -DNAMESPACE=${EMBED_NAMESPACE} -DFUNCTION=${EMBED_FUNCTION}
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_files.cmake
    DEPENDS ${sources} ${PROJECT_SOURCE_DIR}/cmake/embed_files.cmake
    COMMENT "Embedding ${EMBED_FILES}")
endfunction()
